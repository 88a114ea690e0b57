// Package suppressionstore keeps the suppression rules (domain.Suppressions)
// as one JSON document in the stack's versioned results bucket, under
// suppressions/rules.json.
//
// Why one versioned object: every change is a new object version, so the
// bucket's version history is the review trail of who changed which rule
// when (ListObjectVersions, or the console's "Show versions"); the
// lifecycle rules expire only scan-results/ and reports/, so old versions
// stay. Writes are conditional (If-Match on the ETag read, If-None-Match: *
// for the first), so two people editing at once cannot overwrite each
// other: the second write fails with 412 and is told to retry on the new
// version (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
// A handler reads the document once per invocation: one GetObject, bounded
// by MaxDocumentBytes.
package suppressionstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"ecrscanner/domain"
)

// Key is the rules document's key in the results bucket.
const Key = "suppressions/rules.json"

// MaxDocumentBytes bounds the document a reader accepts: a few thousand
// rules, far more than any team reviews, and a bounded read whatever is in
// the bucket.
const MaxDocumentBytes = 1 << 20

// ErrConflict is returned by Save when the document changed since it was
// read: reload and apply the change again.
var ErrConflict = errors.New("the suppression rules changed since they were read")

// API is the part of the S3 client the store uses.
type API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ domain.SuppressionSource = (*Store)(nil)

// Store reads and writes the rules document. Safe for concurrent use.
type Store struct {
	client API
	bucket string
}

// New returns a store for the document in bucket.
func New(client API, bucket string) (*Store, error) {
	if client == nil || bucket == "" {
		return nil, errors.New("suppressionstore: S3 client and bucket are required")
	}
	return &Store{client: client, bucket: bucket}, nil
}

// Location names the document, for messages.
func (s *Store) Location() string { return "s3://" + s.bucket + "/" + Key }

// Load reads the rules and the ETag to Save against. No document yet is
// no rules and an empty ETag; a document that is not valid JSON, or over
// MaxDocumentBytes, is an error wrapping domain.ErrInvalid; any other
// failure is returned as it is (the caller decides: the handlers retry).
func (s *Store) Load(ctx context.Context) (domain.Suppressions, string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(Key)})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return domain.Suppressions{}, "", nil
	}
	if err != nil {
		return domain.Suppressions{}, "", fmt.Errorf("read suppressions %s: %w", s.Location(), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, MaxDocumentBytes+1))
	if err != nil {
		return domain.Suppressions{}, "", fmt.Errorf("read suppressions %s: %w", s.Location(), err)
	}
	if len(b) > MaxDocumentBytes {
		return domain.Suppressions{}, "", fmt.Errorf("read suppressions %s: %w document: over %d bytes", s.Location(), domain.ErrInvalid, MaxDocumentBytes)
	}
	var ss domain.Suppressions
	if err := json.Unmarshal(b, &ss); err != nil {
		return domain.Suppressions{}, "", fmt.Errorf("read suppressions %s: %w document: %v", s.Location(), domain.ErrInvalid, err)
	}
	return ss, aws.ToString(out.ETag), nil
}

// Save writes ss if the document is still the one whose ETag was read
// (etag empty: only if there is none yet). A lost race is ErrConflict.
func (s *Store) Save(ctx context.Context, ss domain.Suppressions, etag string) error {
	if ss.Rules == nil {
		ss.Rules = []domain.Suppression{}
	}
	b, err := json.MarshalIndent(ss, "", "  ")
	if err != nil {
		return fmt.Errorf("write suppressions: %w", err)
	}
	if len(b) > MaxDocumentBytes {
		return fmt.Errorf("write suppressions: %w: %d bytes, over %d", domain.ErrInvalid, len(b), MaxDocumentBytes)
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(Key),
		Body: strings.NewReader(string(b)), ContentType: aws.String("application/json"),
	}
	if etag == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		if conflict(err) {
			return fmt.Errorf("write suppressions %s: %w: %v", s.Location(), ErrConflict, err)
		}
		return fmt.Errorf("write suppressions %s: %w", s.Location(), err)
	}
	return nil
}

// conflict: 412 Precondition Failed (the ETag no longer matches, or the
// object now exists) or 409 ConditionalRequestConflict (a concurrent
// conditional write), as the conditional-writes page documents.
func conflict(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		if c := re.HTTPStatusCode(); c == http.StatusPreconditionFailed || c == http.StatusConflict {
			return true
		}
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict")
}
