package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"ecrscanner/domain"
	"ecrscanner/infra/ecrstore"
)

// ECRRegistry pushes to the caller's ECR registry, which emits the push
// event the scan rule reacts to. It logs in with GetAuthorizationToken: a
// base64 "AWS:<password>" valid for 12 hours for the registry at
// proxyEndpoint. The password stays in memory; it is never printed.
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html
type ECRRegistry struct {
	Client *ecr.Client

	mu      sync.Mutex
	host    string
	auth    authn.Authenticator
	expires time.Time
}

// login returns the registry host and its credentials, fetching a new token
// when the one held expires within ten minutes.
func (e *ECRRegistry) login(ctx context.Context) (string, authn.Authenticator, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.auth != nil && time.Until(e.expires) > 10*time.Minute {
		return e.host, e.auth, nil
	}
	out, err := e.Client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return "", nil, fmt.Errorf("ECR login (ecr:GetAuthorizationToken): %w", err)
	}
	if len(out.AuthorizationData) == 0 {
		return "", nil, errors.New("ECR login: no authorization data")
	}
	d := out.AuthorizationData[0]
	auth, expires, err := ecrstore.Login(d)
	if err != nil {
		return "", nil, fmt.Errorf("ECR login: %w", err)
	}
	e.host = strings.TrimSuffix(strings.TrimPrefix(aws.ToString(d.ProxyEndpoint), "https://"), "/")
	e.auth, e.expires = auth, expires
	return e.host, e.auth, nil
}

// Push writes img to repo:tag in the caller's registry, which must be the
// stack's account's.
func (e *ECRRegistry) Push(ctx context.Context, account, region, repo, tag string, img v1.Image) (domain.ImageRef, error) {
	host, auth, err := e.login(ctx)
	if err != nil {
		return domain.ImageRef{}, err
	}
	if want := account + ".dkr.ecr." + region + "."; !strings.HasPrefix(host, want) {
		return domain.ImageRef{}, fmt.Errorf("the credentials' registry %s is not the stack's (account %s, region %s)", host, account, region)
	}
	dst, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		return domain.ImageRef{}, err
	}
	if err := remote.Write(dst, img, remote.WithAuth(auth), remote.WithContext(ctx)); err != nil {
		return domain.ImageRef{}, fmt.Errorf("push to %s: %w", dst, err)
	}
	d, err := img.Digest()
	if err != nil {
		return domain.ImageRef{}, err
	}
	return domain.NewImageRef(account, region, repo, d.String(), tag)
}

// Referrers lists ref's referrers through the registry's OCI referrers API.
func (e *ECRRegistry) Referrers(ctx context.Context, ref domain.ImageRef) ([]string, error) {
	host, auth, err := e.login(ctx)
	if err != nil {
		return nil, err
	}
	d, err := name.NewDigest(host + "/" + ref.Repository + "@" + ref.Digest.String())
	if err != nil {
		return nil, err
	}
	idx, err := remote.Referrers(d, remote.WithAuth(auth), remote.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, desc := range m.Manifests {
		out = append(out, desc.Digest.String())
	}
	return out, nil
}
