package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ArchivePrefix is the key prefix of every archive object; the bucket's
// lifecycle rule and the archive function's IAM policy are scoped to it.
const ArchivePrefix = "scan-results/"

// ArchiveTimeFormat renders a scan's completion time in archive keys: UTC,
// second precision, sortable, and free of characters that need escaping.
const ArchiveTimeFormat = "20060102T150405Z"

// ArchiveKey is the key of a scan's archive object for one repository:
// scan-results/{repository}/{digest hex}/{scannedAt}.json, with scannedAt in
// UTC as ArchiveTimeFormat. The key depends only on its arguments, so every
// delivery of an event for the same scan and repository names the same
// object. The digest appears without its "sha256:" prefix (the only
// algorithm the domain accepts), as in ReportKey: a colon needs escaping in
// URLs and cannot appear in file names on some systems that sync buckets.
// repository must be a validated ECR repository name (domain.ValidateRepository),
// which keeps the key free of empty or ".." segments.
func ArchiveKey(repository string, d domain.Digest, scannedAt time.Time) string {
	return ArchivePrefix + repository + "/" + d.Hex() + "/" + scannedAt.UTC().Format(ArchiveTimeFormat) + ".json"
}

// ArchiveAPI is the part of the S3 client that Archive uses.
type ArchiveAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Archive writes archive documents (JSON) to the results bucket, encrypted
// at rest with SSE-S3. It is safe for concurrent use.
type Archive struct {
	client ArchiveAPI
	bucket string
}

// NewArchive returns an archive writing to bucket through client.
func NewArchive(client ArchiveAPI, bucket string) (*Archive, error) {
	if client == nil {
		return nil, errors.New("s3store: nil S3 client")
	}
	if !bucketRE.MatchString(bucket) {
		return nil, fmt.Errorf("s3store: invalid bucket name %q", bucket)
	}
	return &Archive{client: client, bucket: bucket}, nil
}

// Bucket is the bucket the archive writes to.
func (a *Archive) Bucket() string { return a.bucket }

// Put stores body, a JSON document, under key (which must lie under
// ArchivePrefix, see ArchiveKey). Writing the same bytes to the same key again
// leaves the object as it was, so a retried write is harmless. A key outside
// the prefix or an empty body is an error wrapping domain.ErrInvalid.
func (a *Archive) Put(ctx context.Context, key string, body []byte) error {
	return a.PutReader(ctx, key, bytes.NewReader(body), int64(len(body)))
}

// PutReader is Put for a body of size bytes read from body, which need not
// be in one piece in memory. body must be seekable: the client reads it
// to compute the payload's hash before it sends, and rewinds it to retry
// (https://aws.github.io/aws-sdk-go-v2/docs/sdk-utilities/s3/#unseekable-streaming-input);
// the size is sent as Content-Length.
func (a *Archive) PutReader(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	if !strings.HasPrefix(key, ArchivePrefix) || len(key) == len(ArchivePrefix) {
		return fmt.Errorf("archive %q: %w key: want one under %s", key, domain.ErrInvalid, ArchivePrefix)
	}
	if size <= 0 {
		return fmt.Errorf("archive %s: %w: empty document", key, domain.ErrInvalid)
	}
	_, err := a.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(a.bucket),
		Key:                  aws.String(key),
		Body:                 body,
		ContentLength:        aws.Int64(size),
		ContentType:          aws.String("application/json"),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	if err != nil {
		return fmt.Errorf("archive s3://%s/%s: %w", a.bucket, key, err)
	}
	return nil
}
