package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/s3store"
	"ecrscanner/infra/securityhubstore"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// TestHandleWithRealAdapters runs the handler with the real report store on
// moto's S3 and the real Security Hub adapter on moto's Security Hub: a
// scan, a rescan of the repository that fixed one vulnerability, the rescan
// again, and a push of the first image to a second repository.
func TestHandleWithRealAdapters(t *testing.T) {
	cfg := mototest.Config(t)
	ctx := context.Background()
	s3Client := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
	bucket := mototest.UniqueName("results")
	if err := mototest.CreateBucket(ctx, s3Client, bucket, mototest.Region); err != nil {
		t.Fatal(err)
	}
	reports, err := s3store.NewReports(s3Client, bucket)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := securityhubstore.New(securityhub.NewFromConfig(cfg), "arn:aws:securityhub:"+mototest.Region+":123456789012:product/123456789012/default")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(reports, hub, newFakeTags(), hub.Product(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}

	repoName := mototest.UniqueName("sh/app")
	ref := func(d domain.Digest, repo, tag string) domain.ImageRef {
		r, err := domain.NewImageRef("123456789012", mototest.Region, repo, string(d), tag)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	handle := func(rep *domain.Report, scanID string, at time.Time, refs ...domain.ImageRef) events.ScanEvent {
		t.Helper()
		loc, err := reports.PutReport(ctx, scanID, rep)
		if err != nil {
			t.Fatal(err)
		}
		ev := testkit.CompletedEventOf(rep, scanID, at, refs...)
		ev.Report = &loc
		if err := h.Handle(ctx, ev); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		return ev
	}
	stored := func(repo string) map[string]securityhubstore.Finding {
		t.Helper()
		fs, err := hub.Findings(ctx, repositoryPrefix("123456789012", mototest.Region, repo))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]securityhubstore.Finding{}
		for _, f := range fs {
			out[f.ID] = f
		}
		return out
	}
	id := func(repo, kind, key string) string {
		return imagePrefix("123456789012", mototest.Region, repo, testkit.Digest) + kind + ":" + key
	}

	first := testkit.Report()
	handle(first, "scan1", testkit.ScannedAt, ref(testkit.Digest, repoName, "v1"))
	if got := stored(repoName); len(got) != 3 {
		t.Fatalf("%d findings after the first scan, want 3", len(got))
	}

	later := testkit.ScannedAt.Add(24 * time.Hour)
	second := rescanReport()
	rescan := handle(second, "scan2", later, ref(testkit.Digest, repoName, "v2"))
	got := stored(repoName)
	if len(got) != 4 {
		t.Fatalf("%d findings after the rescan, want 4", len(got))
	}
	kept := got[id(repoName, "vuln", "379201")]
	if !kept.CreatedAt.Equal(testkit.ScannedAt) || !kept.UpdatedAt.Equal(later) || kept.Resources[0].Details.AwsEcrContainerImage.ImageDigest != testkit.Digest.String() {
		t.Errorf("kept finding: created %v updated %v digest %s", kept.CreatedAt, kept.UpdatedAt, kept.Resources[0].Details.AwsEcrContainerImage.ImageDigest)
	}
	gone := got[id(repoName, "vuln", "380112")]
	// The workflow is the one read back (moto, unlike AWS, would apply an
	// import's workflow: infra/securityhubstore's TestMotoGaps).
	if gone.RecordState != securityhubstore.RecordStateArchived || gone.Workflow.Status != securityhubstore.WorkflowNew {
		t.Errorf("vanished finding: %s %s, want ARCHIVED with its workflow NEW as it was", gone.RecordState, gone.Workflow.Status)
	}

	// The same event again: the same findings, nothing more to resolve.
	if err := h.Handle(ctx, rescan); err != nil {
		t.Fatal(err)
	}
	if again := stored(repoName); !reflect.DeepEqual(again, got) {
		t.Error("a redelivery of the rescan changed the findings")
	}

	// The first image pushed to a second repository: its own findings, the
	// first repository's untouched.
	mirror := mototest.UniqueName("sh/mirror")
	loc := *rescan.Report
	loc.Key = s3store.ReportKey(testkit.Digest, "scan1")
	ev := testkit.ReferencedEventAt(first, later.Add(time.Hour), ref(testkit.Digest, mirror, "m1"), ref(testkit.Digest, repoName, "v1"))
	ev.Report = &loc
	if err := h.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	m := stored(mirror)
	if len(m) != 3 {
		t.Fatalf("mirror repository: %d findings, want 3", len(m))
	}
	if f, ok := m[id(mirror, "vuln", "380112")]; !ok || !slices.Equal(f.Resources[0].Details.AwsEcrContainerImage.ImageTags, []string{"m1"}) {
		t.Errorf("mirror finding of QID 380112: %+v", f)
	}
	if after := stored(repoName); !reflect.DeepEqual(after, got) {
		t.Error("a push to another repository changed this one's findings")
	}
}
