package domain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ScanStore keeps one Scan per image digest. Implementations must be safe for
// concurrent use across processes.
type ScanStore interface {
	// Get returns the record for d, or ErrNotFound.
	Get(ctx context.Context, d Digest) (*Scan, error)
	// Update loads the record for d (NewScan when absent), applies fn and writes
	// the result only if no other writer changed the record in between,
	// re-reading and re-applying fn on conflict. If fn returns an error nothing
	// is written and Update returns that error unchanged.
	Update(ctx context.Context, d Digest, fn func(*Scan) error) error
}

// ReportReader reads the full reports that scan records and events point at:
// the one port every consumer of a report shares. Safe for concurrent use.
type ReportReader interface {
	// GetReport reads the report at loc, which may be in any bucket the
	// caller can read (an event names its own), not only the reader's.
	// A missing report is an error wrapping ErrNotFound; a bad location, or
	// an unreadable or oversized report, one wrapping ErrInvalid.
	GetReport(ctx context.Context, loc ReportLocation) (*Report, error)
}

// ReportStore keeps full normalized reports (the claim check behind a record).
type ReportStore interface {
	// PutReport stores r for the scan scanID. Idempotent for the same scanID.
	PutReport(ctx context.Context, scanID string, r *Report) (ReportLocation, error)
	ReportReader
}

// ScanTarget is what QScanner is asked to scan.
type ScanTarget struct {
	Ref ImageRef
	// Platform is the os/arch to scan, e.g. linux/amd64; empty for a
	// single-platform image.
	Platform string
	// Deadline is when QScanner must have finished.
	Deadline time.Time
}

// Scanner runs one scan. On failure it returns a *Failure (use errors.As); if
// that failure left a usable partial report, the report is returned too.
type Scanner interface {
	Scan(ctx context.Context, t ScanTarget) (*Report, error)
}

// ArtifactKind sorts what a push put into a repository.
type ArtifactKind string

const (
	ArtifactImage       ArtifactKind = "image"       // a runnable image manifest
	ArtifactIndex       ArtifactKind = "index"       // a multi-platform image index
	ArtifactSignature   ArtifactKind = "signature"   // cosign / notation signature
	ArtifactSBOM        ArtifactKind = "sbom"        // SPDX or CycloneDX document
	ArtifactAttestation ArtifactKind = "attestation" // in-toto / buildkit attestation manifest
	ArtifactReferrer    ArtifactKind = "referrer"    // any manifest with a subject
	ArtifactOther       ArtifactKind = "other"       // some other OCI artifact
)

// Scannable reports whether QScanner should look at an artifact of this kind.
func (k ArtifactKind) Scannable() bool { return k == ArtifactImage || k == ArtifactIndex }

// ImageInfo is what the registry says about a pushed manifest.
type ImageInfo struct {
	Kind      ArtifactKind
	MediaType string
	// Platforms lists the os/arch pairs of an index's runnable images.
	Platforms []string
	// Children maps each of Platforms to the digest of its image manifest.
	Children map[string]Digest
}

// ImageInspector looks a pushed manifest up in the registry.
type ImageInspector interface {
	Inspect(ctx context.Context, ref ImageRef) (ImageInfo, error)
}

// Idempotency errors.
var (
	// ErrAlreadyDone: the effect keyed by this key was completed before.
	ErrAlreadyDone = errors.New("already done")
	// ErrInProgress: another delivery of the same key holds a live marker.
	ErrInProgress = errors.New("in progress elsewhere")
)

// IdempotencyStore remembers which effects were carried out, keyed by
// handler, event ID and replay ID. Safe for concurrent use across processes.
type IdempotencyStore interface {
	// Start marks key in progress until now+lease. It returns ErrAlreadyDone if
	// key was finished before, ErrInProgress if another live marker exists. An
	// expired marker (a crashed attempt) is taken over.
	Start(ctx context.Context, key string, lease time.Duration) error
	// Finish marks key done and keeps it for retention.
	Finish(ctx context.Context, key string, retention time.Duration) error
	// Abandon drops an in-progress marker so a retry can start at once. It
	// drops only a marker this store's own Start wrote, including one whose
	// Start returned an error other than ErrAlreadyDone or ErrInProgress
	// (a timeout, say) after its write landed.
	Abandon(ctx context.Context, key string) error
}

// DefaultPlatforms is what ChoosePlatform looks for when none are configured.
var DefaultPlatforms = []string{"linux/amd64"}

// ChoosePlatform picks the platform to scan: for an index, the first of
// wanted (DefaultPlatforms when empty) that the index holds; for a single
// image, "". A wanted platform without a variant matches the first entry of
// that os/arch; linux/arm64 and linux/arm64/v8 are the same platform. The
// index's own spelling is returned. When nothing matches, the error wraps
// ErrNoPlatform and names what the index has.
func (i ImageInfo) ChoosePlatform(wanted []string) (string, error) {
	if i.Kind != ArtifactIndex {
		return "", nil
	}
	if len(wanted) == 0 {
		wanted = DefaultPlatforms
	}
	for _, w := range wanted {
		wn := normalizePlatform(w)
		for _, p := range i.Platforms {
			if normalizePlatform(p) == wn {
				return p, nil
			}
		}
		if strings.Count(wn, "/") == 1 {
			for _, p := range i.Platforms {
				if strings.HasPrefix(normalizePlatform(p), wn+"/") {
					return p, nil
				}
			}
		}
	}
	has := "none"
	if len(i.Platforms) > 0 {
		has = strings.Join(i.Platforms, ", ")
	}
	return "", fmt.Errorf("%w: wanted %s; the index has %s", ErrNoPlatform, strings.Join(wanted, ", "), has)
}

// normalizePlatform lowercases a platform and drops arm64's default variant.
func normalizePlatform(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	if rest, ok := strings.CutSuffix(p, "/arm64/v8"); ok {
		return rest + "/arm64"
	}
	return p
}

// ErrNoPlatform: an image index holds none of the platforms configured for scanning.
var ErrNoPlatform = errors.New("no scannable platform")
