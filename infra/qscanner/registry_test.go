package qscanner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"ecrscanner/domain"
)

func TestRegistryEnvReplacesTheFunctionsCredentials(t *testing.T) {
	ref := domain.ImageRef{Account: "111122223333", Region: "us-west-2", Repository: "team/app", Digest: domain.Digest("sha256:" + strings.Repeat("a", 64))}
	parent := []string{"PATH=/bin", "AWS_ACCESS_KEY_ID=ASIAHUB", "AWS_SECRET_ACCESS_KEY=hubsecret", "AWS_SESSION_TOKEN=hubtoken",
		"AWS_REGION=us-east-1", "AWS_PROFILE=hub", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://x", "QUALYS_ACCESS_TOKEN=q"}
	r := &Runner{}
	r.SetRegistryEnv(func(context.Context, domain.ImageRef) (map[string]string, error) {
		return map[string]string{"AWS_ACCESS_KEY_ID": "ASIAMEMBER", "AWS_SECRET_ACCESS_KEY": "membersecret", "AWS_SESSION_TOKEN": "membertoken", "AWS_REGION": "us-west-2"}, nil
	})
	env, err := r.withRegistry(context.Background(), ref, parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PATH=/bin", "QUALYS_ACCESS_TOKEN=q", "AWS_ACCESS_KEY_ID=ASIAMEMBER", "AWS_SECRET_ACCESS_KEY=membersecret", "AWS_SESSION_TOKEN=membertoken", "AWS_REGION=us-west-2"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %q", want, env)
		}
	}
	for _, gone := range []string{"ASIAHUB", "hubsecret", "hubtoken", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "us-east-1"} {
		for _, kv := range env {
			if strings.Contains(kv, gone) {
				t.Errorf("the function's %s is still in QScanner's environment: %s", gone, kv)
			}
		}
	}
	// No registry environment (the hub's own registry): the parent's as is.
	r.SetRegistryEnv(func(context.Context, domain.ImageRef) (map[string]string, error) { return nil, nil })
	if env, err := r.withRegistry(context.Background(), ref, parent); err != nil || !slices.Equal(env, parent) {
		t.Errorf("home registry env %q, %v", env, err)
	}
	// A failure stands as the scan's; another error is retried.
	f := domain.Failure{Class: domain.FailureRegistryAuth, Reason: "spoke role arn:aws:iam::111122223333:role/x: denied"}
	r.SetRegistryEnv(func(context.Context, domain.ImageRef) (map[string]string, error) { return nil, f })
	var got domain.Failure
	if _, err := r.withRegistry(context.Background(), ref, parent); !errors.As(err, &got) || got != f {
		t.Errorf("err %v, want the failure %v", err, f)
	}
	r.SetRegistryEnv(func(context.Context, domain.ImageRef) (map[string]string, error) { return nil, errors.New("throttled") })
	if _, err := r.withRegistry(context.Background(), ref, parent); err == nil || errors.As(err, &got) {
		t.Errorf("err %v, want a plain error", err)
	}
}
