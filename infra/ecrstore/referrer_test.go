package ecrstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// referrerTestRegistry serves go-containerregistry's in-memory registry, with
// the Referrers API, on 127.0.0.1. wrap, if not nil, wraps its handler.
func referrerTestRegistry(t *testing.T, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	var h http.Handler = registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// referrerPushImage pushes a random image to repository on srv and returns
// its reference with the given account and region.
func referrerPushImage(t *testing.T, srv *httptest.Server, repository string, opts ...remote.Option) domain.ImageRef {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.NewTag(host+"/"+repository+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		t.Fatalf("push image: %v", err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := domain.NewImageRef("123456789012", "us-east-1", repository, d.String(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func referrerTestSummary(ref domain.ImageRef, scanID string, at time.Time) ScanSummary {
	s := taggerTestSummary(at)
	s.Digest = ref.Digest
	s.ScanID = scanID
	return s
}

func referrerDigestRef(t *testing.T, srv *httptest.Server, repository, digest string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(strings.TrimPrefix(srv.URL, "http://")+"/"+repository+"@"+digest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func referrerList(t *testing.T, subject name.Digest, opts ...remote.Option) []v1.Descriptor {
	t.Helper()
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		t.Fatalf("list referrers: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return im.Manifests
}

func TestReferrersPutSummary(t *testing.T) {
	srv := referrerTestRegistry(t, nil)
	ref := referrerPushImage(t, srv, "team/app")
	refs, err := NewReferrers(nil, ReferrersConfig{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	s := referrerTestSummary(ref, "scan-1", at)

	digest, err := refs.PutSummary(ctx, ref, s)
	if err != nil {
		t.Fatalf("PutSummary: %v", err)
	}
	again, err := refs.PutSummary(ctx, ref, s)
	if err != nil {
		t.Fatalf("second PutSummary: %v", err)
	}
	if again != digest {
		t.Errorf("second PutSummary pushed %s, want the same digest %s", again, digest)
	}

	subject := referrerDigestRef(t, srv, "team/app", ref.Digest.String())
	listed := referrerList(t, subject)
	if len(listed) != 1 || listed[0].Digest.String() != digest {
		t.Fatalf("referrers of the image = %+v, want the one artifact %s", listed, digest)
	}
	wantAnnotations := s.Labels()
	wantAnnotations["org.opencontainers.image.created"] = "2024-05-01T12:00:00Z"
	if !reflect.DeepEqual(listed[0].Annotations, wantAnnotations) {
		t.Errorf("listed annotations = %v, want %v", listed[0].Annotations, wantAnnotations)
	}

	// The in-memory registry lists a referrer's artifactType as its config's
	// media type whatever the manifest says (ECR and distribution use
	// artifactType), so read it from the manifest itself.
	got, err := remote.Get(referrerDigestRef(t, srv, "team/app", digest))
	if err != nil {
		t.Fatalf("get the artifact: %v", err)
	}
	if got.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("artifact media type = %s", got.MediaType)
	}
	var m v1.Manifest
	if err := json.Unmarshal(got.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != "application/vnd.qualys.scan.summary.v1+json" {
		t.Errorf("artifactType = %q", m.ArtifactType)
	}
	if m.Config.MediaType != "application/vnd.oci.empty.v1+json" || m.Config.Size != 2 || string(m.Config.Data) != "{}" ||
		m.Config.Digest.String() != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
		t.Errorf("config = %+v, want the OCI empty descriptor", m.Config)
	}
	img, err := remote.Image(referrerDigestRef(t, srv, "team/app", ref.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	imgSize, _ := img.Size()
	imgMT, _ := img.MediaType()
	if m.Subject == nil || m.Subject.Digest.String() != ref.Digest.String() || m.Subject.Size != imgSize || m.Subject.MediaType != imgMT {
		t.Errorf("subject = %+v, want %s of %d bytes, %s", m.Subject, ref.Digest, imgSize, imgMT)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != "application/vnd.qualys.scan.summary.v1+json" {
		t.Fatalf("layers = %+v, want one summary blob", m.Layers)
	}
	layer, err := remote.Layer(referrerDigestRef(t, srv, "team/app", m.Layers[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatalf("read the summary blob: %v", err)
	}
	defer rc.Close()
	var doc map[string]any
	if err := json.NewDecoder(rc).Decode(&doc); err != nil {
		t.Fatalf("summary blob is not JSON: %v", err)
	}
	wantDoc := map[string]any{
		"digest":          ref.Digest.String(),
		"scanId":          "scan-1",
		"scannedAt":       "2024-05-01T12:00:00Z",
		"qscannerVersion": "4.1.0",
		"platform":        "linux/amd64",
		"summary": map[string]any{
			"total":           float64(7),
			"vulnerabilities": map[string]any{"critical": float64(2), "high": float64(3), "medium": float64(1), "low": float64(0), "informational": float64(0), "unknown": float64(1)},
			"fixable":         map[string]any{"critical": float64(1), "high": float64(0), "medium": float64(0), "low": float64(0), "informational": float64(0), "unknown": float64(0)},
			"secrets":         float64(1),
			"secretSeverity":  map[string]any{"critical": float64(0), "high": float64(1), "medium": float64(0), "low": float64(0), "informational": float64(0), "unknown": float64(0)},
			"partial":         false,
		},
	}
	if !reflect.DeepEqual(doc, wantDoc) {
		t.Errorf("summary blob = %v\nwant %v", doc, wantDoc)
	}

	// A later scan of the same image is a second artifact beside the first.
	later, err := refs.PutSummary(ctx, ref, referrerTestSummary(ref, "scan-2", at.Add(time.Hour)))
	if err != nil {
		t.Fatalf("PutSummary of a later scan: %v", err)
	}
	if later == digest {
		t.Error("a later scan pushed the same artifact as the first")
	}
	if n := len(referrerList(t, subject)); n != 2 {
		t.Errorf("after two scans the image has %d referrers, want 2", n)
	}
}

// TestReferrerIsNotScanned guards against a feedback loop: pushing the
// artifact to ECR emits a push event, and the scan handler must classify the
// artifact as something it does not scan.
func TestReferrerIsNotScanned(t *testing.T) {
	srv := referrerTestRegistry(t, nil)
	ref := referrerPushImage(t, srv, "team/app")
	refs, err := NewReferrers(nil, ReferrersConfig{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := refs.PutSummary(context.Background(), ref, referrerTestSummary(ref, "scan-1", time.Now()))
	if err != nil {
		t.Fatalf("PutSummary: %v", err)
	}
	got, err := remote.Get(referrerDigestRef(t, srv, "team/app", digest))
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range []string{"", string(got.MediaType)} {
		info, err := Classify(mt, got.Manifest)
		if err != nil {
			t.Fatalf("Classify(%q): %v", mt, err)
		}
		if info.Kind != domain.ArtifactReferrer || info.Kind.Scannable() {
			t.Errorf("Classify(%q) = %+v, want a referrer, not scannable", mt, info)
		}
	}
}

// TestReferrerArtifactFormat pins the bytes of the artifact: a change here
// changes every artifact's digest, so that redeliveries of old scans no
// longer deduplicate against what was pushed before.
func TestReferrerArtifactFormat(t *testing.T) {
	subject := v1.Descriptor{
		MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size:      1234,
		Digest:    v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)},
	}
	s := taggerTestSummary(time.Date(2024, 5, 1, 12, 0, 0, 500, time.UTC))
	manifest, blob, err := referrerArtifact(subject, s)
	if err != nil {
		t.Fatal(err)
	}
	const wantBlob = `{"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","scanId":"scan-1","scannedAt":"2024-05-01T12:00:00.0000005Z","qscannerVersion":"4.1.0","platform":"linux/amd64","summary":{"total":7,"vulnerabilities":{"critical":2,"high":3,"medium":1,"low":0,"informational":0,"unknown":1},"fixable":{"critical":1,"high":0,"medium":0,"low":0,"informational":0,"unknown":0},"secrets":1,"secretSeverity":{"critical":0,"high":1,"medium":0,"low":0,"informational":0,"unknown":0},"partial":false}}`
	if string(blob) != wantBlob {
		t.Errorf("blob =\n%s\nwant\n%s", blob, wantBlob)
	}
	blobDigest, _, _ := v1.SHA256(strings.NewReader(wantBlob))
	wantManifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","data":"e30="},` +
		`"layers":[{"mediaType":"application/vnd.qualys.scan.summary.v1+json","size":` + strconv.Itoa(len(wantBlob)) + `,"digest":"` + blobDigest.String() + `","annotations":{"org.opencontainers.image.title":"qualys-scan-summary.json"}}],` +
		`"annotations":{"org.opencontainers.image.created":"2024-05-01T12:00:00.0000005Z","qualys:critical":"2","qualys:last-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","qualys:scan-date":"2024-05-01","qualys:scan-time":"2024-05-01T12:00:00.0000005Z","qualys:scanned":"true","qualys:suppressed":"0","qualys:vulnerabilities":"7"},` +
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234,"digest":"sha256:` + strings.Repeat("c", 64) + `"},` +
		`"artifactType":"application/vnd.qualys.scan.summary.v1+json"}`
	if string(manifest) != wantManifest {
		t.Errorf("manifest =\n%s\nwant\n%s", manifest, wantManifest)
	}
	again, againBlob, err := referrerArtifact(subject, s)
	if err != nil || string(again) != string(manifest) || string(againBlob) != string(blob) {
		t.Error("rendering the same scan twice gave different bytes")
	}
}

func TestReferrersNotFound(t *testing.T) {
	srv := referrerTestRegistry(t, nil)
	pushed := referrerPushImage(t, srv, "team/app")
	refs, err := NewReferrers(nil, ReferrersConfig{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	absent, err := domain.NewImageRef(pushed.Account, pushed.Region, "team/app", "sha256:"+strings.Repeat("d", 64), "")
	if err != nil {
		t.Fatal(err)
	}
	noRepo := pushed
	noRepo.Repository = "team/missing"
	for name, ref := range map[string]domain.ImageRef{"image": absent, "repository": noRepo} {
		t.Run(name, func(t *testing.T) {
			_, err := refs.PutSummary(context.Background(), ref, referrerTestSummary(ref, "scan-1", time.Now()))
			if !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("PutSummary = %v, want an error wrapping domain.ErrNotFound", err)
			}
		})
	}
}

func TestReferrersRejectsAMismatchedSummary(t *testing.T) {
	refs, err := NewReferrers(nil, ReferrersConfig{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := domain.NewImageRef("123456789012", "us-east-1", "team/app", taggerTestDigest, "")
	s := taggerTestSummary(time.Now())
	s.Digest = domain.Digest("sha256:" + strings.Repeat("e", 64))
	if _, err := refs.PutSummary(context.Background(), ref, s); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("PutSummary = %v, want an error wrapping domain.ErrInvalid", err)
	}
}

func TestReferrersEndpoint(t *testing.T) {
	tests := []struct {
		endpoint string
		ok       bool
	}{
		{endpoint: "http://127.0.0.1:5000", ok: true},
		{endpoint: "http://127.0.0.2:5000/", ok: true},
		{endpoint: "http://localhost:5000", ok: true},
		{endpoint: "http://[::1]:5000", ok: true},
		{endpoint: "https://registry.example.com", ok: true},
		{endpoint: "https://10.0.0.5:5000", ok: true},
		{endpoint: "http://10.0.0.5:5000"},
		{endpoint: "http://registry.example.com"},
		{endpoint: "http://localhost.example.com:5000"},
		{endpoint: "ftp://127.0.0.1"},
		{endpoint: "127.0.0.1:5000"},
		{endpoint: "https://registry.example.com/v2"},
		{endpoint: "https://user:pw@registry.example.com"},
		{endpoint: "https://"},
	}
	for _, tc := range tests {
		t.Run(tc.endpoint, func(t *testing.T) {
			_, err := NewReferrers(nil, ReferrersConfig{Endpoint: tc.endpoint})
			if (err == nil) != tc.ok {
				t.Errorf("NewReferrers(%q) error = %v, want ok %v", tc.endpoint, err, tc.ok)
			}
		})
	}
	if _, err := NewReferrers(nil, ReferrersConfig{}); err == nil {
		t.Error("NewReferrers without client or endpoint succeeded")
	}
}

func TestReferrerTLSGuard(t *testing.T) {
	tests := []struct {
		url     string
		allowed bool
	}{
		{url: "http://10.0.0.5:5000/v2/"},
		{url: "http://registry.local/v2/"},
		{url: "http://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/"},
		{url: "http://127.0.0.1:5000/v2/", allowed: true},
		{url: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/", allowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			sent := false
			guard := referrerTLSGuard{next: referrerRoundTrip(func(*http.Request) (*http.Response, error) {
				sent = true
				return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
			})}
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			resp, err := guard.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			if sent != tc.allowed || (err == nil) != tc.allowed {
				t.Errorf("sent %v, error %v; want allowed %v", sent, err, tc.allowed)
			}
		})
	}
}

type referrerRoundTrip func(*http.Request) (*http.Response, error)

func (f referrerRoundTrip) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// referrerFakeAuth is a hand-written fake of ECR's GetAuthorizationToken.
type referrerFakeAuth struct {
	calls   int
	regions []string
	token   string
	expires time.Time
	err     error
}

func (f *referrerFakeAuth) GetAuthorizationToken(_ context.Context, _ *ecr.GetAuthorizationTokenInput, optFns ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error) {
	f.calls++
	var o ecr.Options
	for _, fn := range optFns {
		fn(&o)
	}
	f.regions = append(f.regions, o.Region)
	if f.err != nil {
		return nil, f.err
	}
	return &ecr.GetAuthorizationTokenOutput{AuthorizationData: []ecrtypes.AuthorizationData{{
		AuthorizationToken: aws.String(f.token),
		ExpiresAt:          aws.Time(f.expires),
		ProxyEndpoint:      aws.String("https://123456789012.dkr.ecr.us-east-1.amazonaws.com"),
	}}}, nil
}

func referrerBasic(t *testing.T, a authn.Authenticator) (string, string) {
	t.Helper()
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Username, cfg.Password
}

func TestReferrersTokenCache(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	fake := &referrerFakeAuth{token: base64.StdEncoding.EncodeToString([]byte("AWS:secret-1")), expires: now.Add(12 * time.Hour)}
	refs, err := NewReferrers(fake, ReferrersConfig{})
	if err != nil {
		t.Fatal(err)
	}
	refs.now = func() time.Time { return now }
	ctx := context.Background()

	a, err := refs.authenticator(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if u, p := referrerBasic(t, a); u != "AWS" || p != "secret-1" {
		t.Errorf("credentials = %s:%s, want AWS:secret-1", u, p)
	}
	now = now.Add(11 * time.Hour)
	if _, err := refs.authenticator(ctx, "eu-west-1"); err != nil || fake.calls != 1 {
		t.Errorf("within the token's life: %v, %d calls to ECR; want the cached token", err, fake.calls)
	}
	if _, err := refs.authenticator(ctx, "us-west-2"); err != nil || fake.calls != 2 {
		t.Errorf("another region: %v, %d calls to ECR; want a token of its own", err, fake.calls)
	}
	now = now.Add(56 * time.Minute) // 4 minutes before expiry: inside the margin
	fake.token = base64.StdEncoding.EncodeToString([]byte("AWS:secret-2"))
	a, err = refs.authenticator(ctx, "eu-west-1")
	if err != nil || fake.calls != 3 {
		t.Fatalf("near expiry: %v, %d calls to ECR; want a new token", err, fake.calls)
	}
	if _, p := referrerBasic(t, a); p != "secret-2" {
		t.Errorf("password after renewal = %s, want secret-2", p)
	}
	if want := []string{"eu-west-1", "us-west-2", "eu-west-1"}; !reflect.DeepEqual(fake.regions, want) {
		t.Errorf("tokens asked in %v, want %v", fake.regions, want)
	}

	// A registry that refuses the token makes the next push sign in afresh.
	_ = refs.classify("push", "eu-west-1", &transport.Error{StatusCode: http.StatusUnauthorized})
	if _, err := refs.authenticator(ctx, "eu-west-1"); err != nil || fake.calls != 4 {
		t.Errorf("after a 401: %v, %d calls to ECR; want a new token", err, fake.calls)
	}
}

func TestReferrersBadToken(t *testing.T) {
	tests := []struct {
		name string
		fake *referrerFakeAuth
	}{
		{name: "ECR error", fake: &referrerFakeAuth{err: errors.New("AccessDenied")}},
		{name: "not base64", fake: &referrerFakeAuth{token: "%%%"}},
		{name: "no colon", fake: &referrerFakeAuth{token: base64.StdEncoding.EncodeToString([]byte("AWS"))}},
		{name: "no password", fake: &referrerFakeAuth{token: base64.StdEncoding.EncodeToString([]byte("AWS:"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refs, err := NewReferrers(tc.fake, ReferrersConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := refs.authenticator(context.Background(), "us-east-1"); err == nil {
				t.Error("authenticator succeeded")
			}
		})
	}
}

// TestReferrersSignsInToECR pushes through the ECR path (no endpoint
// override): requests for the account's ECR host are carried to a local
// registry that demands ECR's basic credentials.
func TestReferrersSignsInToECR(t *testing.T) {
	const user, pass = "AWS", "ecr-password"
	var refused int
	srv := referrerTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				if r.URL.Path != "/v2/" {
					refused++
				}
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := referrerPushImage(t, srv, "team/app", remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	local, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	toLocal := referrerRoundTrip(func(req *http.Request) (*http.Response, error) {
		hosts = append(hosts, req.URL.Scheme+"://"+req.URL.Host)
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = local.Scheme, local.Host
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err == nil {
			resp.Request = req // as if the ECR host had answered
		}
		return resp, err
	})
	fake := &referrerFakeAuth{token: base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)), expires: time.Now().Add(12 * time.Hour)}
	refs, err := NewReferrers(fake, ReferrersConfig{Transport: toLocal})
	if err != nil {
		t.Fatal(err)
	}
	refused = 0
	digest, err := refs.PutSummary(context.Background(), ref, referrerTestSummary(ref, "scan-1", time.Now()))
	if err != nil {
		t.Fatalf("PutSummary: %v", err)
	}
	if fake.calls != 1 || fake.regions[0] != "us-east-1" {
		t.Errorf("GetAuthorizationToken calls = %d in %v, want 1 in us-east-1", fake.calls, fake.regions)
	}
	for _, h := range hosts {
		if h != "https://123456789012.dkr.ecr.us-east-1.amazonaws.com" {
			t.Errorf("request sent to %s, want the account's ECR registry over TLS", h)
		}
	}
	// Only the version checks (GET /v2/, answered with the challenge) may go
	// without the credentials.
	if refused > 0 {
		t.Errorf("%d registry requests without ECR's credentials", refused)
	}
	listed := referrerList(t, referrerDigestRef(t, srv, "team/app", ref.Digest.String()), remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	if len(listed) != 1 || listed[0].Digest.String() != digest {
		t.Errorf("referrers = %+v, want %s", listed, digest)
	}
}
