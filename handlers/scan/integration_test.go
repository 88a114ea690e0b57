package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"ecrscanner/domain"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/qscanner"
	"ecrscanner/infra/qscanner/qscannertest"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/secretstore"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// stack is the scan path wired with the real adapters against moto and the
// QScanner stand-in (a test tool, not Qualys QScanner).
type stack struct {
	h       *Handler
	ddb     *dynamodb.Client
	s3      *s3.Client
	ecr     *ecr.Client
	table   string
	bucket  string
	record  string // the stand-in's invocation log
	account string
}

func newStack(t *testing.T, mode string, findings int) *stack {
	t.Helper()
	ctx := context.Background()
	cfg := mototest.Config(t)
	st := &stack{
		ddb:    dynamodb.NewFromConfig(cfg),
		s3:     s3.NewFromConfig(cfg, awsconfig.S3Options(cfg)),
		ecr:    ecr.NewFromConfig(cfg),
		table:  mototest.UniqueName("scans"),
		bucket: mototest.UniqueName("results"),
		record: filepath.Join(t.TempDir(), "qscanner-runs.jsonl"),
	}
	if _, err := mototest.CreateScansTable(ctx, st.ddb, st.table); err != nil {
		t.Fatal(err)
	}
	if err := mototest.CreateBucket(ctx, st.s3, st.bucket, cfg.Region); err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	secretName := mototest.UniqueName("qualys-token")
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secretName), SecretString: aws.String("integration-test-token")}); err != nil {
		t.Fatal(err)
	}
	tokens, err := secretstore.New(secretstore.Config{SecretID: secretName}, sm)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("QSCANNER_STANDIN_MODE", mode)
	t.Setenv("QSCANNER_STANDIN_RECORD", st.record)
	t.Setenv("QSCANNER_STANDIN_SLEEP", "1500ms")
	if findings > 0 {
		t.Setenv("QSCANNER_STANDIN_FINDINGS", fmt.Sprint(findings))
	} else {
		t.Setenv("QSCANNER_STANDIN_FIXTURE", qscannertest.FixtureDir("basic"))
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	runner, err := qscanner.NewRunner(qscanner.Config{Binary: qscannertest.BuildStandIn(t), Pod: "US2", WorkRoot: t.TempDir(), Reserve: time.Second}, tokens, logger)
	if err != nil {
		t.Fatal(err)
	}
	store, err := dynamostore.NewScanStore(st.ddb, st.table)
	if err != nil {
		t.Fatal(err)
	}
	reports, err := s3store.NewReports(st.s3, st.bucket)
	if err != nil {
		t.Fatal(err)
	}
	inspector, err := ecrstore.NewInspector(st.ecr)
	if err != nil {
		t.Fatal(err)
	}
	st.h, err = NewHandler(store, reports, inspector, runner, Config{CacheTTL: 30 * 24 * time.Hour, MaxAttempts: 3, DefaultLease: time.Minute}, logger)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// push creates repo (if needed) and pushes an image manifest unique to seed
// into it, as `docker push` would, returning the image's reference.
func (st *stack) push(t *testing.T, repo, tag, seed string) domain.ImageRef {
	t.Helper()
	ctx := context.Background()
	account, err := mototest.CreateRepository(ctx, st.ecr, repo)
	if err != nil {
		t.Fatal(err)
	}
	layer := sha256.Sum256([]byte("layer " + seed))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%064x","size":2},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":1024}]}`, 1, hex.EncodeToString(layer[:]))
	sum := sha256.Sum256([]byte(manifest))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if _, err := st.ecr.PutImage(ctx, &ecr.PutImageInput{
		RepositoryName: aws.String(repo), ImageManifest: aws.String(manifest), ImageTag: aws.String(tag),
		ImageDigest: aws.String(digest), ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json"),
	}); err != nil {
		t.Fatal(err)
	}
	ref, err := domain.NewImageRef(account, "us-east-1", repo, digest, tag)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (st *stack) item(t *testing.T, d domain.Digest) (domain.ScanRecord, int) {
	t.Helper()
	out, err := st.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(st.table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"digest": &ddbtypes.AttributeValueMemberS{Value: d.String()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dynamostore.UnmarshalScanRecord(out.Item)
	if err != nil {
		t.Fatal(err)
	}
	return rec, itemSize(out.Item)
}

// runs counts QScanner invocations from the stand-in's log.
func (st *stack) runs(t *testing.T) int {
	t.Helper()
	f, err := os.Open(st.record)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

func TestScanPathOnMoto(t *testing.T) {
	st := newStack(t, "ok", 0)
	ctx := context.Background()
	repo := mototest.UniqueName("team/app")
	ref := st.push(t, repo, "v1", "scan-path")

	t.Run("push is scanned once and recorded", func(t *testing.T) {
		out, err := st.h.Scan(ctx, ref)
		if err != nil || out != OutcomeScanned {
			t.Fatalf("Scan = %q, %v", out, err)
		}
		rec, _ := st.item(t, ref.Digest)
		if rec.Status != domain.StatusCompleted || rec.Event.Type != domain.EventScanCompleted || rec.Event.ID == "" {
			t.Fatalf("item status %s event %+v", rec.Status, rec.Event)
		}
		if rec.Summary == nil || rec.Summary.Vulnerabilities.Total() == 0 || rec.QScannerVersion != "0.0.0-standin" || rec.ScanID == "" {
			t.Errorf("summary %+v version %q scan %q", rec.Summary, rec.QScannerVersion, rec.ScanID)
		}
		if rec.ExpiresAt <= time.Now().Add(29*24*time.Hour).Unix() {
			t.Errorf("TTL %d is not CacheTTLDays ahead", rec.ExpiresAt)
		}
		head, err := st.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(rec.Report.Bucket), Key: aws.String(rec.Report.Key)})
		if err != nil {
			t.Fatalf("report %+v not in S3: %v", rec.Report, err)
		}
		if head.ServerSideEncryption != "AES256" || aws.ToString(head.ContentEncoding) != "gzip" {
			t.Errorf("report SSE %q encoding %q", head.ServerSideEncryption, aws.ToString(head.ContentEncoding))
		}
		if n := st.runs(t); n != 1 {
			t.Errorf("QScanner ran %d times, want 1", n)
		}
	})

	t.Run("same digest in another repository is referenced, not rescanned", func(t *testing.T) {
		other := st.push(t, mototest.UniqueName("team/mirror"), "v1", "scan-path")
		if other.Digest != ref.Digest {
			t.Fatalf("digests differ: %s %s", other.Digest, ref.Digest)
		}
		out, err := st.h.Scan(ctx, other)
		if err != nil || out != OutcomeCached {
			t.Fatalf("Scan = %q, %v; want cached", out, err)
		}
		rec, _ := st.item(t, ref.Digest)
		if rec.Event.Type != domain.EventImageReferenced || rec.Event.Ref.Repository != other.Repository || len(rec.References) != 2 {
			t.Errorf("event %+v references %d", rec.Event, len(rec.References))
		}
		if n := st.runs(t); n != 1 {
			t.Errorf("QScanner ran %d times, want still 1", n)
		}
	})
}

func TestFiftyConcurrentDeliveriesRunQScannerOnce(t *testing.T) {
	st := newStack(t, "slow", 0) // each run takes 1.5s, so the others meet a live lease
	ref := st.push(t, mototest.UniqueName("team/busy"), "v1", "concurrent")
	const n = 50
	var wg sync.WaitGroup
	outcomes := make([]Outcome, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			outcomes[i], errs[i] = st.h.Scan(context.Background(), ref)
		}(i)
	}
	wg.Wait()
	scanned := 0
	for i := range outcomes {
		if errs[i] != nil {
			t.Errorf("delivery %d: %v", i, errs[i])
		}
		if outcomes[i] == OutcomeScanned {
			scanned++
		}
	}
	runs := st.runs(t)
	t.Logf("QScanner runs for %d concurrent deliveries of one digest: %d", n, runs)
	if runs != 1 || scanned != 1 {
		t.Fatalf("QScanner ran %d times (%d deliveries scanned); want exactly 1", runs, scanned)
	}
	if rec, _ := st.item(t, ref.Digest); rec.Status != domain.StatusCompleted {
		t.Errorf("status %s", rec.Status)
	}
}

func TestFailuresAreRecordedWithTheirClass(t *testing.T) {
	tests := []struct {
		mode      string
		class     domain.FailureClass
		final     bool // recorded as ScanFailed at the first attempt
		summaried bool
	}{
		{"notfound", domain.FailureImageNotFound, true, false},
		{"registry-auth", domain.FailureRegistryAuth, true, false},
		{"exit40", domain.FailurePartialReport, false, true},
		{"exit42", domain.FailurePolicyDeny, true, true},
		{"exit43", domain.FailurePolicyAudit, true, true},
		{"garbage", domain.FailureUnparseableOutput, false, false},
		{"crash", domain.FailureCrashed, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			st := newStack(t, tc.mode, 0)
			ref := st.push(t, mototest.UniqueName("team/broken"), "v1", "failure-"+tc.mode)
			out, err := st.h.Scan(context.Background(), ref)
			rec, _ := st.item(t, ref.Digest)
			if rec.Failure == nil || rec.Failure.Class != tc.class {
				t.Fatalf("failure %+v, want class %s (outcome %q, err %v)", rec.Failure, tc.class, out, err)
			}
			wantEvent := domain.EventScanRetrying
			if tc.final {
				wantEvent = domain.EventScanFailed
			}
			if rec.Event.Type != wantEvent || (err == nil) != tc.final {
				t.Errorf("event %s err %v; want %s (final=%v)", rec.Event.Type, err, wantEvent, tc.final)
			}
			if (rec.Summary != nil) != tc.summaried {
				t.Errorf("summary present = %v, want %v", rec.Summary != nil, tc.summaried)
			}
		})
	}
}

func TestHungScanTimesOutAndIsRetried(t *testing.T) {
	st := newStack(t, "hang", 0)
	ref := st.push(t, mototest.UniqueName("team/hang"), "v1", "hang")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second) // the invocation's deadline
	defer cancel()
	out, err := st.h.Scan(ctx, ref)
	if err == nil || out != OutcomeRetrying {
		t.Fatalf("Scan = %q, %v; want a retryable timeout", out, err)
	}
	rec, _ := st.item(t, ref.Digest)
	if rec.Failure == nil || rec.Failure.Class != domain.FailureTimeout || rec.Lease != nil {
		t.Errorf("failure %+v lease %+v; want a timeout and a released lease", rec.Failure, rec.Lease)
	}
}

func TestItemStaysSmallFor20000Findings(t *testing.T) {
	st := newStack(t, "ok", 20000)
	ref := st.push(t, mototest.UniqueName("team/huge"), "v1", "huge")
	if out, err := st.h.Scan(context.Background(), ref); err != nil || out != OutcomeScanned {
		t.Fatalf("Scan = %q, %v", out, err)
	}
	rec, size := st.item(t, ref.Digest)
	if rec.Summary.Vulnerabilities.Total() != 20000 {
		t.Fatalf("summary counts %d findings, want 20000", rec.Summary.Vulnerabilities.Total())
	}
	t.Logf("item size for a 20,000-finding report: %d bytes", size)
	if size > 16*1024 {
		t.Errorf("item is %d bytes, want at most 16 KB", size)
	}
}

// itemSize follows DynamoDB's item size rules: attribute names plus values,
// strings by UTF-8 length, numbers by about one byte per two digits, and
// three bytes of overhead plus one per element for maps and lists.
func itemSize(item map[string]ddbtypes.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v ddbtypes.AttributeValue) int {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return len(v.Value)
	case *ddbtypes.AttributeValueMemberN:
		return (len(v.Value)+1)/2 + 1
	case *ddbtypes.AttributeValueMemberB:
		return len(v.Value)
	case *ddbtypes.AttributeValueMemberM:
		return 3 + len(v.Value) + itemSize(v.Value)
	case *ddbtypes.AttributeValueMemberL:
		n := 3 + len(v.Value)
		for _, e := range v.Value {
			n += valueSize(e)
		}
		return n
	}
	return 1
}
