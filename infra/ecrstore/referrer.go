package ecrstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of the scan summary artifact.
const (
	// ArtifactTypeScanSummary is the artifactType of the summary manifest and
	// the media type of its one layer, the summary JSON.
	ArtifactTypeScanSummary = "application/vnd.qualys.scan.summary.v1+json"
	// MediaTypeOCIEmpty is the OCI 1.1 empty descriptor's media type, used
	// for the artifact's config.
	MediaTypeOCIEmpty = "application/vnd.oci.empty.v1+json"
)

const (
	referrerAnnotationCreated = "org.opencontainers.image.created"
	referrerAnnotationTitle   = "org.opencontainers.image.title"
	referrerBlobTitle         = "qualys-scan-summary.json"
	// referrerTokenMargin renews a registry token this long before ECR says
	// it expires, so a push never starts with a token about to lapse.
	referrerTokenMargin = 5 * time.Minute
	// referrerTokenDefaultLife is assumed when ECR gives no expiry.
	referrerTokenDefaultLife = time.Hour
)

// referrerEmptyConfig is the content of the OCI empty descriptor.
var referrerEmptyConfig = []byte("{}")

// AuthorizationAPI is the part of the ECR client that Referrers uses.
type AuthorizationAPI interface {
	GetAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput, optFns ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
}

// ReferrersConfig adjusts where Referrers pushes.
type ReferrersConfig struct {
	// Endpoint, when set, replaces every image's ECR registry (tests and local
	// runs), e.g. "http://127.0.0.1:5000". Requests to it are anonymous and
	// GetAuthorizationToken is not called. Plain HTTP is accepted only for a
	// loopback host.
	Endpoint string
	// Transport carries the registry requests; remote.DefaultTransport when
	// nil.
	Transport http.RoundTripper
}

// Referrers attaches scan summaries to images as OCI 1.1 referrer artifacts,
// pushed untagged into the image's repository. It is safe for concurrent use.
type Referrers struct {
	client    AuthorizationAPI
	endpoint  *url.URL
	transport http.RoundTripper
	now       func() time.Time

	mu     sync.Mutex
	tokens map[string]referrerToken // by region
}

type referrerToken struct {
	auth    authn.Authenticator
	expires time.Time
}

// NewReferrers returns a Referrers that authenticates to ECR with client's
// GetAuthorizationToken, or, with cfg.Endpoint set, pushes anonymously to that
// registry (client may then be nil).
func NewReferrers(client AuthorizationAPI, cfg ReferrersConfig) (*Referrers, error) {
	r := &Referrers{client: client, transport: cfg.Transport, now: time.Now, tokens: map[string]referrerToken{}}
	if cfg.Endpoint != "" {
		u, err := referrerParseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		r.endpoint = u
	} else if client == nil {
		return nil, errors.New("ecrstore: nil ECR client and no registry endpoint")
	}
	if r.transport == nil {
		r.transport = remote.DefaultTransport
	}
	r.transport = referrerTLSGuard{next: r.transport}
	return r, nil
}

// referrerParseEndpoint accepts http(s)://host[:port], with plain HTTP only
// for loopback hosts, since registry credentials and content would otherwise
// cross the network in the clear.
func referrerParseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("registry endpoint %q: %w", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("registry endpoint %q: want an http:// or https:// URL", s)
	case u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("registry endpoint %q: want scheme://host[:port] and nothing else", s)
	case u.Scheme == "http" && !referrerIsLoopback(u.Hostname()):
		return nil, fmt.Errorf("registry endpoint %q: plain HTTP is allowed only for loopback hosts", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func referrerIsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// referrerTLSGuard refuses plain HTTP to any host but a loopback one.
// go-containerregistry falls back to HTTP for private-range and .local hosts
// on its own; this keeps the rule above whatever it decides.
type referrerTLSGuard struct{ next http.RoundTripper }

func (g referrerTLSGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !referrerIsLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("refusing %s to %s: only loopback registries may be reached without TLS", req.URL.Scheme, req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

// PutSummary attaches s to the image ref as a referrer artifact (an OCI image
// manifest with artifactType ArtifactTypeScanSummary, the OCI empty config,
// one layer holding the summary JSON, ref's manifest as subject and the scan
// labels plus org.opencontainers.image.created as annotations) and returns
// the artifact's digest. The artifact is pushed by digest, untagged. Its
// content depends only on s and the image, so pushing the same scan again
// yields the same digest and no second referrer.
//
// A missing image or repository is an error wrapping domain.ErrNotFound, an
// artifact the registry refuses one wrapping domain.ErrInvalid; other errors
// may pass on retry.
func (r *Referrers) PutSummary(ctx context.Context, ref domain.ImageRef, s ScanSummary) (string, error) {
	where := "attach scan summary to " + ref.Repository + "@" + ref.Digest.String()
	if err := s.Validate(); err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	if s.Digest != ref.Digest {
		return "", fmt.Errorf("%s: %w: summary is of %s", where, domain.ErrInvalid, s.Digest)
	}
	repo, subjectRef, err := r.names(ref)
	if err != nil {
		return "", fmt.Errorf("%s: %w: %w", where, domain.ErrInvalid, err)
	}
	auth, err := r.authenticator(ctx, ref.Region)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithTransport(r.transport),
		// The artifact must stay untagged: a registry without the Referrers
		// API is an error rather than a sha256-<hex> fallback tag.
		remote.WithReferrersTagFallback(false),
	}

	subject, err := r.subject(ctx, subjectRef, opts)
	if err != nil {
		return "", r.classify(where+": read image", ref.Region, err)
	}
	manifest, blob, err := referrerArtifact(subject, s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	digest, _, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	for _, l := range []v1.Layer{static.NewLayer(referrerEmptyConfig, MediaTypeOCIEmpty), static.NewLayer(blob, ArtifactTypeScanSummary)} {
		if err := pusher.Upload(ctx, repo, l); err != nil {
			return "", r.classify(where+": upload blob", ref.Region, err)
		}
	}
	if err := pusher.Put(ctx, repo.Digest(digest.String()), referrerRaw(manifest)); err != nil {
		return "", r.classify(where+": put manifest "+digest.String(), ref.Region, err)
	}
	return digest.String(), nil
}

// names returns the repository to push to and the image's reference there.
func (r *Referrers) names(ref domain.ImageRef) (name.Repository, name.Digest, error) {
	host := ref.Registry()
	var nameOpts []name.Option
	if r.endpoint != nil {
		host = r.endpoint.Host
		if r.endpoint.Scheme == "http" {
			nameOpts = append(nameOpts, name.Insecure)
		}
	}
	repo, err := name.NewRepository(host+"/"+ref.Repository, nameOpts...)
	if err != nil {
		return name.Repository{}, name.Digest{}, err
	}
	return repo, repo.Digest(ref.Digest.String()), nil
}

// subject describes the image: a HEAD of its manifest, or a GET when the
// registry's HEAD answer is unusable.
func (r *Referrers) subject(ctx context.Context, ref name.Digest, opts []remote.Option) (v1.Descriptor, error) {
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, err := puller.Head(ctx, ref)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound || terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
			return v1.Descriptor{}, err
		}
		got, gerr := puller.Get(ctx, ref)
		if gerr != nil {
			return v1.Descriptor{}, gerr
		}
		d = &got.Descriptor
	}
	if d.Digest.String() != ref.DigestStr() {
		return v1.Descriptor{}, fmt.Errorf("registry describes %s as %s", ref.DigestStr(), d.Digest)
	}
	return v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}, nil
}

// classify sorts a registry error and forgets the region's token when the
// registry refused it, so that a retry signs in afresh.
func (r *Referrers) classify(what, region string, err error) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch terr.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%s: %w: %w", what, domain.ErrNotFound, err)
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return fmt.Errorf("%s: %w: %w", what, domain.ErrInvalid, err)
	case http.StatusUnauthorized:
		r.mu.Lock()
		delete(r.tokens, region)
		r.mu.Unlock()
	}
	return fmt.Errorf("%s: %w", what, err)
}

// authenticator returns the credentials for the registries of region:
// anonymous for an endpoint override, else ECR's basic-auth token, cached
// until shortly before it expires. Fetching under the lock keeps concurrent
// pushes from asking ECR for a token each.
func (r *Referrers) authenticator(ctx context.Context, region string) (authn.Authenticator, error) {
	if r.endpoint != nil {
		return authn.Anonymous, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if tok, ok := r.tokens[region]; ok && now.Before(tok.expires.Add(-referrerTokenMargin)) {
		return tok.auth, nil
	}
	out, err := r.client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{}, taggerRegion(region))
	if err != nil {
		return nil, fmt.Errorf("get ECR authorization token in %s: %w", region, err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return nil, fmt.Errorf("get ECR authorization token in %s: no token returned", region)
	}
	auth, expires, err := Login(out.AuthorizationData[0])
	if err != nil {
		return nil, err
	}
	if expires.IsZero() {
		expires = now.Add(referrerTokenDefaultLife)
	}
	r.tokens[region] = referrerToken{auth: auth, expires: expires}
	return auth, nil
}

// Login reads the credentials in one of GetAuthorizationToken's answers: a
// base64 "user:password" for the registry, and when it expires (zero when
// the answer does not say). Its errors never quote the token.
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_AuthorizationData.html
func Login(data ecrtypes.AuthorizationData) (*authn.Basic, time.Time, error) {
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(data.AuthorizationToken))
	if err != nil {
		return nil, time.Time{}, errors.New("decode ECR authorization token: not base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return nil, time.Time{}, errors.New("decode ECR authorization token: want user:password")
	}
	return &authn.Basic{Username: user, Password: pass}, aws.ToTime(data.ExpiresAt), nil
}

// referrerDocument is the summary JSON, the artifact's one layer. Its fields
// are the artifact format's contract: add freely, rename never.
type referrerDocument struct {
	Digest          string          `json:"digest"`
	ScanID          string          `json:"scanId"`
	ScannedAt       string          `json:"scannedAt"`
	QScannerVersion string          `json:"qscannerVersion,omitempty"`
	Platform        string          `json:"platform,omitempty"`
	Summary         referrerSummary `json:"summary"`
}

type referrerSummary struct {
	Total           int           `json:"total"`
	Vulnerabilities domain.Counts `json:"vulnerabilities"`
	Fixable         domain.Counts `json:"fixable"`
	Secrets         int           `json:"secrets"`
	SecretSeverity  domain.Counts `json:"secretSeverity"`
	Partial         bool          `json:"partial"`
}

// referrerArtifact renders the artifact's manifest and summary blob for s
// about the image subject. Equal inputs give equal bytes.
func referrerArtifact(subject v1.Descriptor, s ScanSummary) (manifest, blob []byte, err error) {
	doc := referrerDocument{
		Digest:          s.Digest.String(),
		ScanID:          s.ScanID,
		ScannedAt:       s.ScannedAt.UTC().Format(time.RFC3339Nano),
		QScannerVersion: s.QScannerVersion,
		Platform:        s.Platform,
		Summary: referrerSummary{
			Total:           s.Summary.Vulnerabilities.Total(),
			Vulnerabilities: s.Summary.Vulnerabilities,
			Fixable:         s.Summary.Fixable,
			Secrets:         s.Summary.Secrets,
			SecretSeverity:  s.Summary.SecretSeverity,
			Partial:         s.Summary.Partial,
		},
	}
	blob, err = json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("encode scan summary: %w", err)
	}
	blobDigest, blobSize, err := v1.SHA256(bytes.NewReader(blob))
	if err != nil {
		return nil, nil, err
	}
	emptyDigest, emptySize, err := v1.SHA256(bytes.NewReader(referrerEmptyConfig))
	if err != nil {
		return nil, nil, err
	}
	// The annotations are the scan labels, each within ECR's tag value limit
	// of 256 characters, and the scan time. The image's own tags (ECR's run
	// to 300 characters) are not among them, nor in the blob: the artifact
	// is about the digest, whatever it is tagged. The OCI image spec sets no
	// length on annotation values; what bounds the artifact is ECR's
	// manifest limit, 4,194,304 characters (ECR API Reference, PutImage
	// imageManifest), far above these few short values.
	annotations := s.Labels()
	annotations[referrerAnnotationCreated] = doc.ScannedAt
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     ggcrtypes.OCIManifestSchema1,
		ArtifactType:  ArtifactTypeScanSummary,
		Config: v1.Descriptor{
			MediaType: MediaTypeOCIEmpty,
			Size:      emptySize,
			Digest:    emptyDigest,
			Data:      referrerEmptyConfig,
		},
		Layers: []v1.Descriptor{{
			MediaType:   ArtifactTypeScanSummary,
			Size:        blobSize,
			Digest:      blobDigest,
			Annotations: map[string]string{referrerAnnotationTitle: referrerBlobTitle},
		}},
		Subject:     &subject,
		Annotations: annotations,
	}
	manifest, err = json.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("encode scan summary manifest: %w", err)
	}
	return manifest, blob, nil
}

// referrerRaw is a manifest ready to PUT.
type referrerRaw []byte

func (m referrerRaw) RawManifest() ([]byte, error) { return m, nil }
func (m referrerRaw) MediaType() (ggcrtypes.MediaType, error) {
	return ggcrtypes.OCIManifestSchema1, nil
}
