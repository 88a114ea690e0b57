package ecrstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// Keys of the scan labels: the tags Tagger puts on a repository and the
// annotations Referrers puts on an image's summary artifact. Their values are
// described on ScanSummary.Labels.
const (
	LabelScanned         = "qualys:scanned"
	LabelScanDate        = "qualys:scan-date"
	LabelScanTime        = "qualys:scan-time"
	LabelVulnerabilities = "qualys:vulnerabilities"
	LabelCritical        = "qualys:critical"
	LabelLastDigest      = "qualys:last-digest"
	LabelSuppressed      = "qualys:suppressed"
)

// maxTagValue is ECR's (and AWS's) limit on a tag value, in characters.
const maxTagValue = 256

// ScanSummary is what the tagger and the referrer writer record about one
// completed scan of one image.
type ScanSummary struct {
	Digest          domain.Digest
	ScanID          string
	ScannedAt       time.Time
	QScannerVersion string
	Platform        string
	Summary         domain.Summary
	// Suppressed is the number of findings suppressions took out of
	// Summary (domain.Sifted): counted apart, never hidden.
	Suppressed int
}

// Validate checks what both writers rely on: a digest, a scan ID and a scan
// time. The error wraps domain.ErrInvalid.
func (s ScanSummary) Validate() error {
	var errs []error
	if _, err := domain.ParseDigest(string(s.Digest)); err != nil {
		errs = append(errs, err)
	}
	if s.ScanID == "" {
		errs = append(errs, errors.New("scan ID missing"))
	}
	if s.ScannedAt.IsZero() {
		errs = append(errs, errors.New("scan time missing"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w scan summary: %w", domain.ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// Labels returns the scan labels:
//
//	qualys:scanned          true
//	qualys:scan-date        YYYY-MM-DD of ScannedAt in UTC
//	qualys:scan-time        ScannedAt in UTC, RFC 3339 with nanoseconds; Tagger
//	                        compares it so that an older scan never replaces a
//	                        newer one's labels
//	qualys:vulnerabilities  total number of vulnerabilities
//	qualys:critical         number of critical vulnerabilities
//	qualys:last-digest      the scanned image's digest
//	qualys:suppressed       number of findings suppressed (not counted above)
//
// Every value fits ECR's tag value rule: [A-Za-z0-9 _.:/=+\-@], at most
// 256 characters.
func (s ScanSummary) Labels() map[string]string {
	at := s.ScannedAt.UTC()
	labels := map[string]string{
		LabelScanned:         "true",
		LabelScanDate:        at.Format(time.DateOnly),
		LabelScanTime:        at.Format(time.RFC3339Nano),
		LabelVulnerabilities: strconv.Itoa(s.Summary.Vulnerabilities.Total()),
		LabelCritical:        strconv.Itoa(s.Summary.Vulnerabilities.Critical),
		LabelLastDigest:      s.Digest.String(),
		LabelSuppressed:      strconv.Itoa(s.Suppressed),
	}
	for k, v := range labels {
		labels[k] = taggerSanitize(v)
	}
	return labels
}

// taggerSanitize maps v into ECR's tag value rule: every character outside
// [A-Za-z0-9 _.:/=+\-@] becomes '_' (one per character, not per byte), and
// the result, ASCII by then, is cut to 256 characters.
func taggerSanitize(v string) string {
	return domain.Truncate(strings.Map(func(r rune) rune {
		if !taggerAllowed(r) {
			return '_'
		}
		return r
	}, v), maxTagValue, "")
}

func taggerAllowed(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune(" _.:/=+-@", r)
}

// RepositoryRef names one ECR repository.
type RepositoryRef struct {
	Account, Region, Name string
}

// ARN is the repository's ARN, in the partition of its region.
func (r RepositoryRef) ARN() string {
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", taggerPartition(r.Region), r.Region, r.Account, r.Name)
}

// taggerPartition maps a region to its partition, as in the AWS SDK's
// partitions.json.
func taggerPartition(region string) string {
	for _, p := range []struct{ prefix, partition string }{
		{"cn-", "aws-cn"},
		{"us-gov-", "aws-us-gov"},
		{"eusc-", "aws-eusc"},
		{"us-isob-", "aws-iso-b"},
		{"us-isof-", "aws-iso-f"},
		{"us-iso-", "aws-iso"},
		{"eu-isoe-", "aws-iso-e"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// TaggingAPI is the part of the ECR client that Tagger uses.
type TaggingAPI interface {
	TagResource(ctx context.Context, in *ecr.TagResourceInput, optFns ...func(*ecr.Options)) (*ecr.TagResourceOutput, error)
	ListTagsForResource(ctx context.Context, in *ecr.ListTagsForResourceInput, optFns ...func(*ecr.Options)) (*ecr.ListTagsForResourceOutput, error)
}

// Tagger keeps the scan labels of the latest scan on a repository's tags (ECR
// has no per-image tags). It is safe for concurrent use.
//
// Reading (LastScan) and writing (TagRepository) are separate calls: ECR
// offers no conditional tag write, so two writers racing on one repository
// may still leave the older scan's labels; the per-image summary artifacts
// (Referrers) are exact.
type Tagger struct {
	client TaggingAPI
}

// NewTagger returns a Tagger using client.
func NewTagger(client TaggingAPI) (*Tagger, error) {
	if client == nil {
		return nil, errors.New("ecrstore: nil ECR client")
	}
	return &Tagger{client: client}, nil
}

// RecordedScan is what a repository's tags say about the scan they describe.
type RecordedScan struct {
	ScannedAt time.Time
	Digest    string
}

// LastScan reads the scan labels on repo. ok is false when the repository
// carries no readable qualys:scan-time tag. A missing repository is an error
// wrapping domain.ErrNotFound.
func (t *Tagger) LastScan(ctx context.Context, repo RepositoryRef) (rec RecordedScan, ok bool, err error) {
	if err := domain.ValidateRepository(repo.Name); err != nil {
		return RecordedScan{}, false, fmt.Errorf("read tags of repository: %w", err)
	}
	out, err := t.client.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String(repo.ARN())}, taggerRegion(repo.Region))
	if err != nil {
		return RecordedScan{}, false, taggerError("read tags of repository "+repo.Name, err)
	}
	for _, tag := range out.Tags {
		switch aws.ToString(tag.Key) {
		case LabelScanTime:
			at, err := time.Parse(time.RFC3339Nano, aws.ToString(tag.Value))
			if err == nil {
				rec.ScannedAt, ok = at, true
			}
		case LabelLastDigest:
			rec.Digest = aws.ToString(tag.Value)
		}
	}
	if !ok {
		return RecordedScan{}, false, nil
	}
	return rec, true, nil
}

// TagRepository writes s's scan labels to repo in one call, replacing the
// values of those keys and leaving the repository's other tags alone. A
// missing repository is an error wrapping domain.ErrNotFound; tags that ECR
// refuses (too many on the repository, say) one wrapping domain.ErrInvalid.
func (t *Tagger) TagRepository(ctx context.Context, repo RepositoryRef, s ScanSummary) error {
	where := "tag repository " + repo.Name
	if err := domain.ValidateRepository(repo.Name); err != nil {
		return fmt.Errorf("tag repository: %w", err)
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	labels := s.Labels()
	tags := make([]types.Tag, 0, len(labels))
	for _, k := range []string{LabelScanned, LabelScanDate, LabelScanTime, LabelVulnerabilities, LabelCritical, LabelLastDigest, LabelSuppressed} {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(labels[k])})
	}
	_, err := t.client.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: aws.String(repo.ARN()), Tags: tags}, taggerRegion(repo.Region))
	if err != nil {
		return taggerError(where, err)
	}
	return nil
}

// taggerRegion sends the call to the repository's region, whatever the
// client's.
func taggerRegion(region string) func(*ecr.Options) {
	return func(o *ecr.Options) {
		if region != "" {
			o.Region = region
		}
	}
}

// taggerError sorts ECR's answers into not found, invalid (no retry will
// help) and the rest.
func taggerError(what string, err error) error {
	var (
		notFound    *types.RepositoryNotFoundException
		badParam    *types.InvalidParameterException
		badTag      *types.InvalidTagParameterException
		tooManyTags *types.TooManyTagsException
	)
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%s: %w: %w", what, domain.ErrNotFound, err)
	case errors.As(err, &badParam), errors.As(err, &badTag), errors.As(err, &tooManyTags):
		return fmt.Errorf("%s: %w: %w", what, domain.ErrInvalid, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
