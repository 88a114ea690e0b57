package suppressionstore

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/mototest"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

func motoStore(t *testing.T) (*Store, *s3.Client, string) {
	t.Helper()
	client := s3.NewFromConfig(mototest.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := mototest.UniqueName("supp")
	if err := mototest.CreateBucket(context.Background(), client, bucket, mototest.Region); err != nil {
		t.Fatal(err)
	}
	s, err := New(client, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return s, client, bucket
}

func rule(id string) domain.Suppression {
	now := time.Now().UTC().Truncate(time.Second)
	return domain.Suppression{ID: id, Vulnerability: "38913", Repositories: []string{"app"}, Reason: "r", Owner: "o", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func TestMotoLoadSaveConditional(t *testing.T) {
	s, _, _ := motoStore(t)
	ctx := context.Background()
	ss, etag, err := s.Load(ctx)
	if err != nil || len(ss.Rules) != 0 || etag != "" {
		t.Fatalf("empty bucket: %+v %q %v, want no rules and no ETag", ss, etag, err)
	}
	if err := s.Save(ctx, domain.Suppressions{Rules: []domain.Suppression{rule("a")}}, ""); err != nil {
		t.Fatal(err)
	}
	// A second first-writer, who also read "no document", loses.
	if err := s.Save(ctx, domain.Suppressions{Rules: []domain.Suppression{rule("b")}}, ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	ss, etag1, err := s.Load(ctx)
	if err != nil || len(ss.Rules) != 1 || ss.Rules[0].ID != "a" || etag1 == "" {
		t.Fatalf("after create: %+v %q %v", ss, etag1, err)
	}
	// Two editors read etag1; the first to write wins, the second is told.
	if err := s.Save(ctx, domain.Suppressions{Rules: append(ss.Rules, rule("c"))}, etag1); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, domain.Suppressions{Rules: append(ss.Rules, rule("d"))}, etag1); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale write: %v, want ErrConflict", err)
	}
	ss, _, _ = s.Load(ctx)
	if len(ss.Rules) != 2 || ss.Rules[1].ID != "c" {
		t.Fatalf("rules = %+v, want a and c (d refused)", ss.Rules)
	}
}

func TestMotoLoadRefusesBadDocument(t *testing.T) {
	s, client, bucket := motoStore(t)
	ctx := context.Background()
	put := func(body string) {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(Key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("{not json")
	if _, _, err := s.Load(ctx); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), Key) {
		t.Fatalf("bad JSON: %v, want ErrInvalid naming the document", err)
	}
	put(`{"rules":[]}` + strings.Repeat(" ", MaxDocumentBytes))
	if _, _, err := s.Load(ctx); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "over") {
		t.Fatalf("oversized: %v, want ErrInvalid", err)
	}
}

func TestMotoLoadMissingBucketIsAnError(t *testing.T) {
	client := s3.NewFromConfig(mototest.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	s, _ := New(client, mototest.UniqueName("absent"))
	if _, _, err := s.Load(context.Background()); err == nil || errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("missing bucket: %v, want a plain (retryable) error, not no rules", err)
	}
}
