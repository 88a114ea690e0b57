package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/testkit"
	"ecrscanner/infra/s3store"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// TestHandleWithRealS3 runs the handler with the real report store and
// archive against moto's S3, on a report whose archive document is 3 MB:
// the report is walked from the object the scan function's store wrote,
// and the SDK sends the body, inflating its findings as it reads (hashing
// it first, as over plain HTTP it must, then rewinding it and reading it
// again), byte for byte as the fake receives it.
func TestHandleWithRealS3(t *testing.T) {
	client := s3.NewFromConfig(mototest.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := mototest.UniqueName("archive")
	ctx := context.Background()
	if err := mototest.CreateBucket(ctx, client, bucket, mototest.Region); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	reports, err := s3store.NewReports(client, bucket)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := s3store.NewArchive(client, bucket)
	if err != nil {
		t.Fatal(err)
	}
	rep := testkit.LargeReport(8_000) // about 3 MB of findings
	loc, err := reports.PutReport(ctx, testkit.ScanID, rep)
	if err != nil {
		t.Fatal(err)
	}
	ev := testkit.CompletedEvent(rep, testkit.MustRef(t, "team/app", "v1"))
	ev.Report = &loc

	h, _ := newTestHandler(t, reports, archive)
	if err := h.Handle(ctx, ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	fake := &fakeArchive{}
	hf, _ := newTestHandler(t, reports, fake)
	if err := hf.Handle(ctx, ev); err != nil || len(fake.puts) != 1 {
		t.Fatalf("Handle with the fake archive: %v, %d objects", err, len(fake.puts))
	}
	want := fake.puts[0].body
	if len(want) < 2*chunkSize {
		t.Fatalf("document of %d bytes, want more than %d", len(want), 2*chunkSize)
	}

	got := mototest.Object(t, client, bucket, fake.puts[0].key)
	if !bytes.Equal(got, want) {
		t.Errorf("stored %d bytes, want the %d the handler encoded", len(got), len(want))
	}
}
