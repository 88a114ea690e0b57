package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/testkit"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

// motoBucket returns a real S3 client aimed at moto and a fresh bucket made
// by CreateBucket.
func motoBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	client := s3.NewFromConfig(mototest.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := mototest.UniqueName("reports")
	if err := mototest.CreateBucket(context.Background(), client, bucket, mototest.Region); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return client, bucket
}

func TestMotoCreateBucket(t *testing.T) {
	client, bucket := motoBucket(t)
	ctx := context.Background()

	enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("GetBucketEncryption: %v", err)
	}
	rules := enc.ServerSideEncryptionConfiguration.Rules
	if len(rules) != 1 || rules[0].ApplyServerSideEncryptionByDefault == nil ||
		rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Errorf("default encryption = %+v, want one AES256 rule", rules)
	}

	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("GetPublicAccessBlock: %v", err)
	}
	c := pab.PublicAccessBlockConfiguration
	if !aws.ToBool(c.BlockPublicAcls) || !aws.ToBool(c.BlockPublicPolicy) || !aws.ToBool(c.IgnorePublicAcls) || !aws.ToBool(c.RestrictPublicBuckets) {
		t.Errorf("public access block = %+v, want all four on", c)
	}

	if err := mototest.CreateBucket(ctx, client, bucket, mototest.Region); err != nil {
		t.Errorf("second CreateBucket of an owned bucket: %v", err)
	}
}

func TestMotoReportRoundTrip(t *testing.T) {
	client, bucket := motoBucket(t)
	ctx := context.Background()
	store, err := NewReports(client, bucket)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := store.PutReport(ctx, "scan-1", sampleReport())
	if err != nil {
		t.Fatalf("PutReport: %v", err)
	}
	if loc.Key != ReportKey(testDigest, "scan-1") || loc.Bucket != bucket {
		t.Errorf("location = %+v", loc)
	}

	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(loc.Key)})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("ServerSideEncryption = %q, want AES256", head.ServerSideEncryption)
	}
	if got := aws.ToString(head.ContentEncoding); got != "gzip" {
		t.Errorf("ContentEncoding = %q, want gzip", got)
	}
	if got := aws.ToString(head.ContentType); got != "application/json" {
		t.Errorf("ContentType = %q, want application/json", got)
	}

	raw, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(loc.Key)})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	body, err := io.ReadAll(raw.Body)
	raw.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		t.Errorf("stored object does not start with the gzip magic: % x", body[:min(len(body), 8)])
	}

	got, err := store.GetReport(ctx, loc)
	if err != nil {
		t.Fatalf("GetReport: %v", err)
	}
	if !reflect.DeepEqual(got, sampleReport()) {
		t.Errorf("GetReport = %+v, want %+v", got, sampleReport())
	}

	again, err := store.PutReport(ctx, "scan-1", sampleReport())
	if err != nil || again != loc {
		t.Errorf("second PutReport = %+v, %v; want %+v, nil", again, err, loc)
	}
}

func TestMotoLargeReportRoundTrip(t *testing.T) {
	client, bucket := motoBucket(t)
	ctx := context.Background()
	store, _ := NewReports(client, bucket)
	want := testkit.LargeReport(20000)
	loc, err := store.PutReport(ctx, "scan-big", want)
	if err != nil {
		t.Fatalf("PutReport: %v", err)
	}
	got, err := store.GetReport(ctx, loc)
	if err != nil {
		t.Fatalf("GetReport: %v", err)
	}
	if len(got.Vulnerabilities) != 20000 {
		t.Fatalf("read back %d vulnerabilities, want 20000", len(got.Vulnerabilities))
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("the 20,000-finding report changed on the round trip")
	}
}

func TestMotoMissingReport(t *testing.T) {
	client, bucket := motoBucket(t)
	store, _ := NewReports(client, bucket)
	_, err := store.GetReport(context.Background(), domain.ReportLocation{Bucket: bucket, Key: ReportKey(testDigest, "never-written")})
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("error = %v, want one wrapping domain.ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "never-written.json.gz") {
		t.Errorf("error = %v, want it to name the object", err)
	}
}
