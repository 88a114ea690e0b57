package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"ecrscanner/domain"
)

// Registry is an in-memory OCI registry with referrers support on loopback,
// standing in for the ECR registry endpoint (moto serves ECR's API, not the
// registry protocol). The tag function writes its referrers here when
// REGISTRY_ENDPOINT points at it.
type Registry struct {
	Host string // 127.0.0.1:port
	srv  *http.Server
}

// StartRegistry serves go-containerregistry's in-memory registry.
func StartRegistry() (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{Host: ln.Addr().String()}
	r.srv = &http.Server{
		Handler:           registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Endpoint is the URL to give the tag function as REGISTRY_ENDPOINT.
func (r *Registry) Endpoint() string { return "http://" + r.Host }

// Close stops the registry.
func (r *Registry) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

// Referrers lists the referrers of an image held by this registry.
func (r *Registry) Referrers(ref domain.ImageRef) ([]v1.Descriptor, error) {
	d, err := name.NewDigest(r.Host+"/"+ref.Repository+"@"+ref.Digest.String(), name.Insecure)
	if err != nil {
		return nil, err
	}
	idx, err := remote.Referrers(d)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	return m.Manifests, nil
}

// PushSample pushes a small random image to this registry as repo:tag and
// records the same manifest in moto's ECR (the digest moto stores is the
// manifest's own), so that the push is consistent across the two stand-ins:
// the scan function inspects it through ECR's API, the tag function attaches
// its referrer to it in the registry.
func (r *Registry) PushSample(ctx context.Context, client *ecr.Client, account, region, repo, tag string) (domain.ImageRef, error) {
	img, err := random.Image(512, 2)
	if err != nil {
		return domain.ImageRef{}, err
	}
	return r.publish(ctx, client, img, account, region, repo, tag)
}

// Retag pushes the image src (held by this registry) to repo:tag as well, in
// the registry and in moto's ECR: the same content, so the same digest.
func (r *Registry) Retag(ctx context.Context, client *ecr.Client, src domain.ImageRef, repo, tag string) (domain.ImageRef, error) {
	d, err := name.NewDigest(r.Host+"/"+src.Repository+"@"+src.Digest.String(), name.Insecure)
	if err != nil {
		return domain.ImageRef{}, err
	}
	img, err := remote.Image(d, remote.WithContext(ctx))
	if err != nil {
		return domain.ImageRef{}, fmt.Errorf("pull %s: %w", src.Display(), err)
	}
	return r.publish(ctx, client, img, src.Account, src.Region, repo, tag)
}

func (r *Registry) publish(ctx context.Context, client *ecr.Client, img v1.Image, account, region, repo, tag string) (domain.ImageRef, error) {
	dst, err := name.NewTag(r.Host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return domain.ImageRef{}, err
	}
	if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
		return domain.ImageRef{}, fmt.Errorf("push image: %w", err)
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return domain.ImageRef{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return domain.ImageRef{}, err
	}
	sum := sha256.Sum256(manifest)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil && !strings.Contains(err.Error(), "RepositoryAlreadyExists") {
		return domain.ImageRef{}, fmt.Errorf("create repository %s: %w", repo, err)
	}
	if _, err := client.PutImage(ctx, &ecr.PutImageInput{
		RepositoryName: aws.String(repo), ImageManifest: aws.String(string(manifest)), ImageTag: aws.String(tag),
		ImageDigest: aws.String(digest), ImageManifestMediaType: aws.String(string(mt)),
	}); err != nil {
		return domain.ImageRef{}, fmt.Errorf("record image in ECR: %w", err)
	}
	return domain.NewImageRef(account, region, repo, digest, tag)
}

// PushEvent renders the EventBridge event ECR emits for a successful push.
func PushEvent(ref domain.ImageRef, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ECR Image Action","source":"aws.ecr","account":%q,"time":%q,"region":%q,"resources":[%q],"detail":{"result":"SUCCESS","repository-name":%q,"image-digest":%q,"action-type":"PUSH","image-tag":%q}}`,
		domain.NewID(), ref.Account, at.UTC().Format(time.RFC3339), ref.Region, RepositoryARN(ref), ref.Repository, ref.Digest, ref.Tag))
}

// RepositoryARN is the ARN of ref's repository, as ECR lists it in the
// resources of its events.
func RepositoryARN(ref domain.ImageRef) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", ref.Region, ref.Account, ref.Repository)
}

// RecordImage records an image in moto's ECR under ref's digest, for a push
// event that names an image this machine has never seen. The manifest is a
// minimal single-layer image; moto stores the digest it is given.
func RecordImage(ctx context.Context, client *ecr.Client, ref domain.ImageRef) error {
	if _, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(ref.Repository)}); err != nil && !strings.Contains(err.Error(), "RepositoryAlreadyExists") {
		return fmt.Errorf("create repository %s: %w", ref.Repository, err)
	}
	layer := sha256.Sum256([]byte(ref.Digest))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":2},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":1024}]}`,
		hex.EncodeToString(layer[:]), hex.EncodeToString(layer[:]))
	in := &ecr.PutImageInput{
		RepositoryName: aws.String(ref.Repository), ImageManifest: aws.String(manifest),
		ImageDigest: aws.String(ref.Digest.String()), ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json"),
	}
	if ref.Tag != "" {
		in.ImageTag = aws.String(ref.Tag)
	}
	if _, err := client.PutImage(ctx, in); err != nil {
		// Recording the same image under the same tag again changes nothing.
		var exists *ecrtypes.ImageAlreadyExistsException
		if errors.As(err, &exists) {
			return nil
		}
		return fmt.Errorf("record image %s in ECR: %w", ref.Display(), err)
	}
	return nil
}
