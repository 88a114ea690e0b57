package deployer

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// fullSecretARN is a secret ARN with the hyphen and six random characters
// Secrets Manager appends to the name, the form the template requires.
var fullSecretARN = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+-[A-Za-z0-9]{6}$`)

// completeSecretARN returns a lookup in which QUALYS_TOKEN_SECRET_ARN, when
// it holds a secret's name or partial ARN, holds the secret's full ARN
// instead. IAM matches GetSecretValue grants and kms:EncryptionContext:SecretARN
// against the full ARN, so the template refuses anything less; DescribeSecret
// accepts a name or a partial ARN and returns the full one
// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html).
// A value already in full form is left alone, without a call.
func (d *Deployer) completeSecretARN(ctx context.Context, lookup func(string) (string, bool)) (func(string) (string, bool), error) {
	env := envOfParam(paramTokenSecretArn)
	given, ok := lookup(env)
	given = strings.TrimSpace(given)
	if !ok || given == "" || fullSecretARN.MatchString(given) {
		return lookup, nil
	}
	out, err := d.c.Secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(given)})
	if err != nil {
		return nil, fmt.Errorf("%s=%q is not a full secret ARN, and finding the secret to complete it failed: %w", env, given, err)
	}
	full := aws.ToString(out.ARN)
	if !fullSecretARN.MatchString(full) {
		return nil, fmt.Errorf("%s=%q: Secrets Manager returned ARN %q, which is not a secret's full ARN", env, given, full)
	}
	d.say("==> %s %s is secret %s", env, given, full)
	return func(k string) (string, bool) {
		if k == env {
			return full, true
		}
		return lookup(k)
	}, nil
}

// envOfParam is the environment variable a parameter is read from.
func envOfParam(param string) string {
	for _, m := range ParameterEnv {
		if m.Param == param {
			return m.Env
		}
	}
	return ""
}
