package deployer

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"ecrscanner/infra/ops/mototest"
)

func TestDeployCompletesAPartialSecretARN(t *testing.T) {
	d, cfg := motoDeployer(t, newTestOut(t))
	ctx := context.Background()
	name := "qualys/" + mototest.UniqueName("token")
	out, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("not-a-real-token")})
	if err != nil {
		t.Fatal(err)
	}
	full := aws.ToString(out.ARN)
	partial := full[:len(full)-7] // without "-" and the six random characters
	if !fullSecretARN.MatchString(full) || fullSecretARN.MatchString(partial) {
		t.Fatalf("test set-up: %q should be full and %q partial", full, partial)
	}
	tests := []struct {
		name, given, want, wantErr string
	}{
		{name: "name", given: name, want: full},
		{name: "partial ARN", given: partial, want: full},
		{name: "full ARN", given: full, want: full},
		{name: "unset", given: "", want: ""},
		{name: "no such secret", given: "qualys/missing", wantErr: "QUALYS_TOKEN_SECRET_ARN=\"qualys/missing\" is not a full secret ARN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) {
				if k == "QUALYS_TOKEN_SECRET_ARN" && tc.given != "" {
					return tc.given, true
				}
				return "", false
			}
			got, err := d.completeSecretARN(ctx, lookup)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := got("QUALYS_TOKEN_SECRET_ARN"); v != tc.want {
				t.Errorf("QUALYS_TOKEN_SECRET_ARN = %q, want %q", v, tc.want)
			}
		})
	}
}

func TestFullSecretARNIsNotLookedUp(t *testing.T) {
	// No clients at all: a call would panic.
	d := &Deployer{out: newTestOut(t)}
	full := "arn:aws:secretsmanager:us-east-1:123456789012:secret:qualys/token-AbC123"
	got, err := d.completeSecretARN(context.Background(), func(k string) (string, bool) { return full, k == "QUALYS_TOKEN_SECRET_ARN" })
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := got("QUALYS_TOKEN_SECRET_ARN"); v != full {
		t.Errorf("got %q", v)
	}
}
