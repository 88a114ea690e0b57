package qscanner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"ecrscanner/domain"
)

// RegistryEnv returns the environment QScanner needs to pull ref from its
// registry when that is not the function's own: the registry account's
// AWS credentials and region (QScanner pulls from ECR through the AWS SDK's
// credential chain, QSCANNER.md). nil vars keep the function's own
// environment. An error that is a domain.Failure is the scan's failure as
// it stands (a spoke role that cannot be assumed); any other is retried.
type RegistryEnv func(ctx context.Context, ref domain.ImageRef) (vars map[string]string, err error)

// SetRegistryEnv makes every later scan ask f for its registry's
// environment. Call it before the first scan.
func (r *Runner) SetRegistryEnv(f RegistryEnv) { r.registryEnv = f }

// credentialChainVars are every input of the AWS SDKs' default credential
// chain and region: a registry's environment replaces all of them, so that
// nothing of the function's own role is left beside the registry's for the
// chain to prefer.
// https://docs.aws.amazon.com/sdkref/latest/guide/settings-reference.html
var credentialChainVars = map[string]bool{
	"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_SECURITY_TOKEN": true,
	"AWS_REGION": true, "AWS_DEFAULT_REGION": true, "AWS_PROFILE": true, "AWS_DEFAULT_PROFILE": true,
	"AWS_CONTAINER_CREDENTIALS_FULL_URI": true, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": true,
	"AWS_CONTAINER_AUTHORIZATION_TOKEN": true, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": true,
	"AWS_WEB_IDENTITY_TOKEN_FILE": true, "AWS_ROLE_ARN": true, "AWS_ROLE_SESSION_NAME": true,
	"AWS_SHARED_CREDENTIALS_FILE": true, "AWS_CONFIG_FILE": true,
}

// withRegistry returns env with t's registry environment in place of the
// function's credentials. The values travel only in the environment, never
// in argv or a log line.
func (r *Runner) withRegistry(ctx context.Context, ref domain.ImageRef, env []string) ([]string, error) {
	if r.registryEnv == nil {
		return env, nil
	}
	vars, err := r.registryEnv(ctx, ref)
	var f domain.Failure
	switch {
	case errors.As(err, &f):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("registry credentials for %s: %w", ref.Registry(), err)
	case vars == nil:
		return env, nil
	}
	out := make([]string, 0, len(env)+len(vars))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !credentialChainVars[k] {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}
