// Package s3store keeps scan reports in Amazon S3: the claim check behind a
// scan record, which carries only a summary and a pointer to the report.
package s3store

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MaxReportSize bounds how many bytes GetReport will decompress, so a corrupt
// or hostile object (a gzip bomb) cannot exhaust the function's memory. A
// 20,000-finding report is tens of MB, far below it.
const MaxReportSize = 512 << 20

// ErrReportTooLarge is returned by GetReport when a report decompresses to
// more than MaxReportSize bytes.
var ErrReportTooLarge = fmt.Errorf("%w report: it exceeds the size limit", domain.ErrInvalid)

// ObjectAPI is the part of the S3 client that Reports uses.
type ObjectAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Reports stores normalized reports as gzip-compressed JSON, encrypted at rest
// with SSE-S3, under reports/<digest hex>/<scan ID>.json.gz. It is safe for
// concurrent use.
type Reports struct {
	client   ObjectAPI
	bucket   string
	maxBytes int64
}

var _ domain.ReportStore = (*Reports)(nil)

// bucketRE is S3's general-purpose bucket naming rule, checked at start-up so
// a misconfigured name fails there rather than on the first scan.
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// scanIDRE keeps scan IDs to one safe key segment: no slashes, no "..".
var scanIDRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$`)

// NewReports returns a store writing to bucket through client.
func NewReports(client ObjectAPI, bucket string) (*Reports, error) {
	if client == nil {
		return nil, errors.New("s3store: nil S3 client")
	}
	if !bucketRE.MatchString(bucket) {
		return nil, fmt.Errorf("s3store: invalid bucket name %q", bucket)
	}
	return &Reports{client: client, bucket: bucket, maxBytes: MaxReportSize}, nil
}

// ReportKey is the deterministic key of a scan's report, so that writing the
// same scan twice lands on the same object.
func ReportKey(d domain.Digest, scanID string) string {
	return "reports/" + d.Hex() + "/" + scanID + ".json.gz"
}

// PutReport stores r for scanID. Writing the same report for the same scanID
// again produces the same object (the gzip stream carries no timestamp), so a
// retried write is harmless.
func (s *Reports) PutReport(ctx context.Context, scanID string, r *domain.Report) (domain.ReportLocation, error) {
	if r == nil {
		return domain.ReportLocation{}, fmt.Errorf("put report %s: %w: nil report", scanID, domain.ErrInvalid)
	}
	d, err := domain.ParseDigest(string(r.Digest))
	if err != nil {
		return domain.ReportLocation{}, fmt.Errorf("put report %s: %w", scanID, err)
	}
	if !scanIDRE.MatchString(scanID) || scanID == "." || scanID == ".." {
		return domain.ReportLocation{}, fmt.Errorf("put report for %s: %w scan ID %q", d, domain.ErrInvalid, scanID)
	}
	loc := domain.ReportLocation{Bucket: s.bucket, Key: ReportKey(d, scanID)}

	// The compressed body is buffered rather than piped: the SDK must know
	// the length (and, over plain HTTP, hash the payload) before it sends, and
	// the compressed form is a small fraction of the JSON. The JSON itself is
	// never held whole: encodeReport streams it finding by finding.
	var body bytes.Buffer
	if err := encodeReport(&body, r); err != nil {
		return domain.ReportLocation{}, fmt.Errorf("put report %s: %w", loc.Key, err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(loc.Bucket),
		Key:                  aws.String(loc.Key),
		Body:                 bytes.NewReader(body.Bytes()),
		ContentLength:        aws.Int64(int64(body.Len())),
		ContentType:          aws.String("application/json"),
		ContentEncoding:      aws.String("gzip"),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	if err != nil {
		return domain.ReportLocation{}, fmt.Errorf("put report s3://%s/%s: %w", loc.Bucket, loc.Key, err)
	}
	return loc, nil
}

// GetReport reads a report written by PutReport. A missing object is an error
// wrapping domain.ErrNotFound.
func (s *Reports) GetReport(ctx context.Context, loc domain.ReportLocation) (*domain.Report, error) {
	if loc.Bucket == "" || loc.Key == "" {
		return nil, fmt.Errorf("get report: %w location: bucket and key are required", domain.ErrInvalid)
	}
	body, where, err := s.open(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	r, err := decodeReport(body, s.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("get report %s: %w", where, err)
	}
	return r, nil
}

// open starts reading the report object at loc, which names it in errors as
// where.
func (s *Reports) open(ctx context.Context, loc domain.ReportLocation) (body io.ReadCloser, where string, err error) {
	where = "s3://" + loc.Bucket + "/" + loc.Key
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, where, fmt.Errorf("get report %s: no such object: %w: %w", where, domain.ErrNotFound, err)
		}
		return nil, where, fmt.Errorf("get report %s: %w", where, err)
	}
	return out.Body, where, nil
}

// decodeReport reads gzip-compressed JSON, or plain JSON when something on
// the way (an HTTP transport honouring Content-Encoding) already inflated it.
func decodeReport(body io.Reader, maxBytes int64) (*domain.Report, error) {
	lr, err := openReport(body, maxBytes)
	if err != nil {
		return nil, err
	}
	var r domain.Report
	dec := json.NewDecoder(lr)
	if err := dec.Decode(&r); err != nil {
		if lr.exceeded {
			return nil, fmt.Errorf("%w of %d bytes", ErrReportTooLarge, maxBytes)
		}
		return nil, fmt.Errorf("decode report: %w", err)
	}
	// Read on to the end so that the gzip trailer's checksum is verified;
	// anything but whitespace after the value is corruption.
	if _, err := dec.Token(); err != io.EOF {
		switch {
		case lr.exceeded:
			return nil, fmt.Errorf("%w of %d bytes", ErrReportTooLarge, maxBytes)
		case err != nil:
			return nil, fmt.Errorf("read report: %w", err)
		default:
			return nil, errors.New("decode report: trailing data after the JSON value")
		}
	}
	return &r, nil
}

// openReport inflates body unless something on the way already did (an
// HTTP transport honouring Content-Encoding), and bounds what it yields to
// maxBytes.
func openReport(body io.Reader, maxBytes int64) (*limitReader, error) {
	br := bufio.NewReader(body)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read gzip header: %w", err)
		}
		// Nothing to close: a gzip.Reader holds no resource beyond memory.
		src = zr
	}
	return &limitReader{r: src, left: maxBytes}, nil
}

// limitReader fails, instead of silently truncating, once more than left
// bytes have been read.
type limitReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, ErrReportTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		l.exceeded = true
		return int(l.left), ErrReportTooLarge
	}
	l.left -= int64(n)
	return n, err
}
