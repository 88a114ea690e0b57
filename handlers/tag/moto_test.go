package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// TestHandleWithRealAdapters runs the handler with the real tagger against
// moto's ECR and the real referrer writer against an in-memory registry:
// two images of one repository, their scan events delivered newest first.
func TestHandleWithRealAdapters(t *testing.T) {
	client := ecr.NewFromConfig(mototest.Config(t))
	ctx := context.Background()
	repoName := mototest.UniqueName("tag/app")
	account, err := mototest.CreateRepository(ctx, client, repoName)
	if err != nil {
		t.Fatalf("CreateRepository: %v", err)
	}

	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(tag string) domain.ImageRef {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := name.NewTag(host+"/"+repoName+":"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(dst, img); err != nil {
			t.Fatalf("push image: %v", err)
		}
		d, _ := img.Digest()
		ref, err := domain.NewImageRef(account, mototest.Region, repoName, d.String(), tag)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	first, second := push("v1"), push("v2")

	tagger, err := ecrstore.NewTagger(client)
	if err != nil {
		t.Fatal(err)
	}
	referrers, err := ecrstore.NewReferrers(client, ecrstore.ReferrersConfig{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(tagger, referrers, testLogger())
	if err != nil {
		t.Fatal(err)
	}

	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	event := func(ref domain.ImageRef, scannedAt time.Time, critical int) events.ScanEvent {
		ev := events.ScanEvent{
			SchemaVersion: events.SchemaVersion, EventID: domain.NewID(), EventType: domain.EventScanCompleted,
			Time: scannedAt, ScanID: domain.NewID(), Digest: ref.Digest, Ref: ref, References: []domain.ImageRef{ref},
			Status: domain.StatusCompleted, Summary: &domain.Summary{Vulnerabilities: domain.Counts{Critical: critical}},
			Report: &domain.ReportLocation{Bucket: "b", Key: "k"}, ScannedAt: scannedAt,
		}
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	older, newer := event(first, at, 5), event(second, at.Add(time.Hour), 1)
	for _, ev := range []events.ScanEvent{newer, older, older} {
		if err := h.Handle(ctx, ev); err != nil {
			t.Fatalf("Handle %s: %v", ev.Digest.Short(), err)
		}
	}

	out, err := client.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{
		ResourceArn: aws.String(ecrstore.RepositoryRef{Account: account, Region: mototest.Region, Name: repoName}.ARN()),
	})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tag := range out.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if tags["qualys:last-digest"] != second.Digest.String() || tags["qualys:critical"] != "1" || tags["qualys:scan-time"] != "2024-05-01T13:00:00Z" {
		t.Errorf("repository tags = %v, want the newer scan of %s", tags, second.Digest)
	}

	for _, ref := range []domain.ImageRef{first, second} {
		subject, err := name.NewDigest(host+"/"+repoName+"@"+ref.Digest.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Referrers(subject)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 1 || im.Manifests[0].Annotations["qualys:last-digest"] != ref.Digest.String() {
			t.Errorf("referrers of %s = %+v, want its one summary", ref.Digest.Short(), im.Manifests)
		}
	}
}
