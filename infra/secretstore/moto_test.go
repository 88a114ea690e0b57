package secretstore

import (
	"context"
	"os"
	"strings"
	"testing"

	"ecrscanner/infra/ops/mototest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

func TestMotoSecretsManager(t *testing.T) {
	client := secretsmanager.NewFromConfig(mototest.Config(t))
	ctx := context.Background()
	cases := []struct {
		name   string
		secret string
		byARN  bool
	}{
		{"plain string by name", secretValue, false},
		{"JSON token by ARN", `{"token":"` + secretValue + `"}`, true},
		{"JSON env-style field by name", `{"QUALYS_ACCESS_TOKEN":"` + secretValue + `","pod":"US2"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := mototest.UniqueName("qualys-token")
			out, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(tc.secret)})
			if err != nil {
				t.Fatalf("CreateSecret: %v", err)
			}
			id := name
			if tc.byARN {
				id = aws.ToString(out.ARN)
			}
			src, err := New(Config{SecretID: id}, client)
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.Token(ctx)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if got != secretValue {
				t.Errorf("Token = %q, want %q", got, secretValue)
			}
		})
	}
}

func TestMotoMissingSecret(t *testing.T) {
	client := secretsmanager.NewFromConfig(mototest.Config(t))
	src, err := NewSecretsManager(client, mototest.UniqueName("absent"), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("error = %v, want ResourceNotFoundException", err)
	}
}
