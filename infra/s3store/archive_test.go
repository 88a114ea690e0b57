package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/mototest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const archiveTestDigest = domain.Digest("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")

// archivePuts is a hand-written ArchiveAPI that records each PutObject with
// the body it carried.
type archivePuts struct {
	mu     sync.Mutex
	inputs []*s3.PutObjectInput
	bodies [][]byte
	err    error
}

func (f *archivePuts) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	b, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.inputs = append(f.inputs, in)
	f.bodies = append(f.bodies, b)
	return &s3.PutObjectOutput{}, nil
}

func TestArchiveKey(t *testing.T) {
	hex := archiveTestDigest.Hex()
	tests := []struct {
		name       string
		repository string
		at         time.Time
		want       string
	}{
		{
			name:       "plain repository, UTC time",
			repository: "app",
			at:         time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
			want:       "scan-results/app/" + hex + "/20250304T050607Z.json",
		},
		{
			name:       "nested repository keeps its slashes",
			repository: "team/sub/app",
			at:         time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC),
			want:       "scan-results/team/sub/app/" + hex + "/20251231T235959Z.json",
		},
		{
			name:       "other zone is converted to UTC",
			repository: "team/app",
			at:         time.Date(2025, 1, 1, 1, 30, 0, 0, time.FixedZone("CET", 3600)),
			want:       "scan-results/team/app/" + hex + "/20250101T003000Z.json",
		},
		{
			name:       "sub-second part is dropped",
			repository: "team/app",
			at:         time.Date(2025, 1, 1, 0, 0, 0, 999_999_999, time.UTC),
			want:       "scan-results/team/app/" + hex + "/20250101T000000Z.json",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ArchiveKey(tc.repository, archiveTestDigest, tc.at); got != tc.want {
				t.Errorf("ArchiveKey = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewArchive(t *testing.T) {
	tests := []struct {
		name    string
		client  ArchiveAPI
		bucket  string
		wantErr bool
	}{
		{"valid", &archivePuts{}, "scan-results-123456789012", false},
		{"nil client", nil, "results", true},
		{"empty bucket", &archivePuts{}, "", true},
		{"uppercase bucket", &archivePuts{}, "Results", true},
		{"bucket with a slash", &archivePuts{}, "results/x", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewArchive(tc.client, tc.bucket)
			if tc.wantErr != (err != nil) {
				t.Fatalf("NewArchive error = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && a.Bucket() != tc.bucket {
				t.Errorf("Bucket() = %q, want %q", a.Bucket(), tc.bucket)
			}
		})
	}
}

func TestArchivePutWritesEncryptedJSON(t *testing.T) {
	fake := &archivePuts{}
	a, err := NewArchive(fake, "results")
	if err != nil {
		t.Fatal(err)
	}
	key := ArchiveKey("team/app", archiveTestDigest, time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	body := []byte(`{"schemaVersion":"1"}` + "\n")
	if err := a.Put(context.Background(), key, body); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if len(fake.inputs) != 1 {
		t.Fatalf("%d PutObject calls, want 1", len(fake.inputs))
	}
	in := fake.inputs[0]
	if aws.ToString(in.Bucket) != "results" || aws.ToString(in.Key) != key {
		t.Errorf("put to %s/%s, want results/%s", aws.ToString(in.Bucket), aws.ToString(in.Key), key)
	}
	if in.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("ServerSideEncryption = %q, want AES256", in.ServerSideEncryption)
	}
	if got := aws.ToString(in.ContentType); got != "application/json" {
		t.Errorf("ContentType = %q, want application/json", got)
	}
	if in.ContentEncoding != nil {
		t.Errorf("ContentEncoding = %q, want none: the document is plain JSON", aws.ToString(in.ContentEncoding))
	}
	if aws.ToInt64(in.ContentLength) != int64(len(body)) || !bytes.Equal(fake.bodies[0], body) {
		t.Errorf("stored %q (length %d), want %q", fake.bodies[0], aws.ToInt64(in.ContentLength), body)
	}
}

func TestArchivePutRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		key  string
		body []byte
	}{
		{"key outside the prefix", "reports/x.json", []byte("{}")},
		{"bare prefix", ArchivePrefix, []byte("{}")},
		{"empty key", "", []byte("{}")},
		{"empty body", ArchivePrefix + "app/x/y.json", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &archivePuts{}
			a, _ := NewArchive(fake, "results")
			err := a.Put(context.Background(), tc.key, tc.body)
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("Put error = %v, want one wrapping domain.ErrInvalid", err)
			}
			if len(fake.inputs) != 0 {
				t.Errorf("a rejected Put reached S3")
			}
		})
	}
}

func TestArchivePutWrapsClientError(t *testing.T) {
	boom := errors.New("throttled")
	a, _ := NewArchive(&archivePuts{err: boom}, "results")
	key := ArchivePrefix + "team/app/x/y.json"
	err := a.Put(context.Background(), key, []byte("{}"))
	if !errors.Is(err, boom) {
		t.Fatalf("Put error = %v, want it to wrap the client's", err)
	}
	if !strings.Contains(err.Error(), "s3://results/"+key) {
		t.Errorf("error %q does not name the object", err)
	}
}

func TestMotoArchivePut(t *testing.T) {
	client := s3.NewFromConfig(mototest.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := mototest.UniqueName("archive")
	ctx := context.Background()
	if err := mototest.CreateBucket(ctx, client, bucket, mototest.Region); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	a, err := NewArchive(client, bucket)
	if err != nil {
		t.Fatal(err)
	}
	key := ArchiveKey("team/app", archiveTestDigest, time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	body := []byte(`{"schemaVersion":"1","repository":"team/app"}` + "\n")
	for i := range 2 { // the second write is a redelivery: same key, same bytes
		if err := a.Put(ctx, key, body); err != nil {
			t.Fatalf("Put %d: %v", i+1, err)
		}
	}

	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Errorf("ServerSideEncryption = %q, want AES256", head.ServerSideEncryption)
	}
	if got := aws.ToString(head.ContentType); got != "application/json" {
		t.Errorf("ContentType = %q, want application/json", got)
	}
	if got := aws.ToInt64(head.ContentLength); got != int64(len(body)) {
		t.Errorf("ContentLength = %d, want %d", got, len(body))
	}

	got := mototest.Object(t, client, bucket, key)
	if !bytes.Equal(got, body) {
		t.Errorf("stored body %q, want %q", got, body)
	}

	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(ArchivePrefix)})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != key {
		t.Errorf("archive holds %d objects, want exactly %s", len(list.Contents), key)
	}
}
