package domain

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Lifecycle errors.
var (
	// ErrLeaseHeld: another invocation holds a live lease on the digest and is
	// scanning it now. The caller has nothing to do.
	ErrLeaseHeld = errors.New("scan lease held by another invocation")
	// ErrLeaseLost: the caller's lease expired and another invocation took it
	// over; the caller's result must not be recorded.
	ErrLeaseLost = errors.New("scan lease lost")
	// ErrUnchanged: the record already says everything the caller wanted to
	// record; nothing needs writing.
	ErrUnchanged = errors.New("scan record unchanged")
	// ErrNotFound: no record exists for the digest.
	ErrNotFound = errors.New("not found")
	// ErrNotAnImage: the pushed artifact is not a runnable image (signature,
	// SBOM, attestation, referrer) and is not scanned.
	ErrNotAnImage = errors.New("not an image")
)

// Status is where a scan record stands.
type Status string

const (
	StatusScanning  Status = "SCANNING"
	StatusCompleted Status = "COMPLETED"
	StatusFailed    Status = "FAILED"
)

// EventType names the change a write made to a scan record. Every write sets a
// new event, so the table's stream is the event log.
type EventType string

const (
	EventScanStarted     EventType = "ScanStarted"     // a lease was taken; QScanner runs
	EventReferenceQueued EventType = "ReferenceQueued" // a reference arrived while a scan ran
	EventScanCompleted   EventType = "ScanCompleted"   // QScanner succeeded; summary recorded
	EventImageReferenced EventType = "ImageReferenced" // a cached digest was pushed to a new repository or tag
	EventScanRetrying    EventType = "ScanRetrying"    // a retryable failure released the lease
	EventScanFailed      EventType = "ScanFailed"      // the scan failed for good
)

// Published reports whether downstream handlers act on events of this type.
// The others are bookkeeping that the Pipe filters out.
func (t EventType) Published() bool {
	switch t {
	case EventScanCompleted, EventImageReferenced, EventScanFailed:
		return true
	}
	return false
}

// PublishedEventTypes lists the event types that leave the table.
var PublishedEventTypes = []EventType{EventScanCompleted, EventImageReferenced, EventScanFailed}

// Event describes the change just made to a record and what caused it.
type Event struct {
	Type EventType `json:"type"`
	ID   string    `json:"id"`
	At   time.Time `json:"at"`
	Ref  ImageRef  `json:"ref"`
	// Cause is what asked for the change (CausePush when empty: events
	// written before causes existed).
	Cause Cause `json:"cause,omitempty"`
}

// FailureClass sorts scan failures by cause and by what to do about them.
type FailureClass string

const (
	FailureImageNotFound     FailureClass = "image_not_found"    // target could not be loaded
	FailureRegistryAuth      FailureClass = "registry_auth"      // the registry refused our credentials
	FailureQualysAuth        FailureClass = "qualys_auth"        // the Qualys token is missing or refused
	FailureTimeout           FailureClass = "timeout"            // QScanner ran past its deadline
	FailurePartialReport     FailureClass = "partial_report"     // exit 40: inventory and secrets only
	FailurePolicyDeny        FailureClass = "policy_deny"        // exit 42
	FailurePolicyAudit       FailureClass = "policy_audit"       // exit 43
	FailureUnparseableOutput FailureClass = "unparseable_output" // output files missing or not readable
	FailureScanner           FailureClass = "scanner_error"      // a scanner or output stage failed
	FailureInvalidParameter  FailureClass = "invalid_parameter"  // our invocation is wrong: a configuration bug
	FailureCrashed           FailureClass = "crashed"            // killed by a signal or a generic error
	FailureInternal          FailureClass = "internal"           // storing the result failed; not QScanner's fault
)

// Retryable reports whether trying the same scan again may succeed.
func (c FailureClass) Retryable() bool {
	switch c {
	case FailureTimeout, FailurePartialReport, FailureScanner, FailureCrashed, FailureUnparseableOutput, FailureInternal:
		return true
	}
	return false
}

// Failure says why a scan failed.
type Failure struct {
	Class    FailureClass `json:"class"`
	Reason   string       `json:"reason"`
	ExitCode int          `json:"exitCode,omitempty"`
}

func (f Failure) Error() string {
	if f.ExitCode != 0 {
		return fmt.Sprintf("%s (exit %d): %s", f.Class, f.ExitCode, f.Reason)
	}
	return fmt.Sprintf("%s: %s", f.Class, f.Reason)
}

// Lease marks a scan in progress. It expires so that a crashed invocation's
// work can be taken over.
type Lease struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
	// Request identifies the request (the queue message) the holder is
	// serving, so that a redelivery of that same request knows the holder
	// is done with it (see Claim). Empty when unknown.
	Request string `json:"request,omitempty"`
}

// Reference is one place a digest has been pushed to.
type Reference struct {
	ImageRef
	FirstSeen time.Time `json:"firstSeen"`
}

// ReportLocation points at the full normalized report in S3 (claim check).
type ReportLocation struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

// FailureCacheTTL is how long a final failure stands for the pushes that
// caused it: their redeliveries do not rerun QScanner (nor alert again)
// until it has passed.
const FailureCacheTTL = 24 * time.Hour

// MaxReferences bounds the references kept on one record so it stays small; the
// oldest are dropped first.
const MaxReferences = 100

// Scan is the record kept per image digest. It is at once the cache (a
// completed, unexpired scan is not repeated) and the event source (each write
// sets Event). Change it only through its methods.
type Scan struct {
	r ScanRecord
}

// ScanRecord is the persisted form of a Scan. Adapters marshal it; nothing
// else should build one by hand.
type ScanRecord struct {
	Digest          Digest          `json:"digest"`
	Status          Status          `json:"status"`
	ScanID          string          `json:"scanId"`
	Attempts        int             `json:"attempts"`
	Lease           *Lease          `json:"lease,omitempty"`
	References      []Reference     `json:"references"`
	Summary         *Summary        `json:"summary,omitempty"`
	Report          *ReportLocation `json:"report,omitempty"`
	Platform        string          `json:"platform,omitempty"`
	QScannerVersion string          `json:"qscannerVersion,omitempty"`
	StartedBy       ImageRef        `json:"startedBy"` // the push that started the current scan
	StartedAt       time.Time       `json:"startedAt"`
	CompletedAt     time.Time       `json:"completedAt,omitzero"`
	Failure         *Failure        `json:"failure,omitempty"`
	FinalFailure    bool            `json:"finalFailure,omitempty"`
	ExpiresAt       int64           `json:"expiresAt"` // epoch seconds; the table's TTL attribute
	TraceHeader     string          `json:"traceHeader,omitempty"`
	// Stored is a result whose report is stored but whose recording failed:
	// the next attempt records it instead of running QScanner again.
	Stored  *StoredResult `json:"stored,omitempty"`
	Rescan                // cause, history, difference, sweep keys (rescan.go)
	Event   Event         `json:"event"`
	Version int64         `json:"version"` // optimistic concurrency
}

// NewScan is the empty record for a digest never seen before.
func NewScan(d Digest) *Scan { return &Scan{r: ScanRecord{Digest: d}} }

// ScanFromRecord rebuilds a Scan read from storage.
func ScanFromRecord(r ScanRecord) *Scan { return &Scan{r: r} }

// Record returns the persisted form, with the version bumped for the write:
// Record().Version is Version()+1, so a store writes Record() on the
// condition that the stored version is still Version() (absent when IsNew).
// It does not change s.
func (s *Scan) Record() ScanRecord {
	r := s.r
	r.Version++
	return r
}

// IsNew reports whether the record has never been written.
func (s *Scan) IsNew() bool             { return s.r.Version == 0 }
func (s *Scan) Digest() Digest          { return s.r.Digest }
func (s *Scan) Status() Status          { return s.r.Status }
func (s *Scan) ScanID() string          { return s.r.ScanID }
func (s *Scan) Attempts() int           { return s.r.Attempts }
func (s *Scan) Event() Event            { return s.r.Event }
func (s *Scan) Failure() *Failure       { return s.r.Failure }
func (s *Scan) TraceHeader() string     { return s.r.TraceHeader }
func (s *Scan) References() []Reference { return append([]Reference(nil), s.r.References...) }
func (s *Scan) Version() int64          { return s.r.Version }

// Summary returns the scan's summary, or false before a scan has produced one.
func (s *Scan) Summary() (Summary, bool) {
	if s.r.Summary == nil {
		return Summary{}, false
	}
	return *s.r.Summary, true
}

// InProgress reports whether a scan holds a live lease at now.
func (s *Scan) InProgress(now time.Time) bool {
	return s.r.Status == StatusScanning && s.r.Lease != nil && now.Before(s.r.Lease.Expires)
}

// Result returns the completed scan's result while it still stands as the
// cache at now.
func (s *Scan) Result(now time.Time) (ScanResult, bool) {
	if s.r.Status != StatusCompleted || now.Unix() >= s.r.ExpiresAt || s.r.Summary == nil || s.r.Report == nil {
		return ScanResult{}, false
	}
	return ScanResult{Summary: *s.r.Summary, Report: *s.r.Report, Platform: s.r.Platform, QScannerVersion: s.r.QScannerVersion, ScanID: s.r.ScanID}, true
}

// ReportLocation returns where the full report is, or false if none was stored.
func (s *Scan) ReportLocation() (ReportLocation, bool) {
	if s.r.Report == nil {
		return ReportLocation{}, false
	}
	return *s.r.Report, true
}

// Claim is what a push asks of the record.
type Claim struct {
	Ref   ImageRef
	Owner string // unique per invocation
	// Request identifies the request across redeliveries (the queue's
	// message ID); empty when unknown. See Claim.
	Request     string
	Now         time.Time // the push handler's clock
	LeaseUntil  time.Time // when the claimant's invocation must have ended
	TraceHeader string
	// MaxAttempts, when positive, bounds takeovers of expired leases: a
	// scan whose attempts all died is recorded as failed instead of retried
	// forever.
	MaxAttempts int
	Origin      Origin // cause, requester, NotBefore (rescan.go)
}

// claim applies a request for c.Ref to the record. It returns ErrUnchanged (with
// DecideSkip) when the record needs no write. Rules:
//   - no record, an expired cache entry or a failed scan: take the lease, scan;
//   - a live lease held by someone else: queue the reference for that scan;
//   - a live lease held by the claimant for the same reference (its earlier
//     claim was written but the answer lost, and the store re-applied the
//     claim): keep scanning under the same scan ID and attempt;
//   - an expired lease, or one taken for an earlier delivery of the same
//     request: take it over (the holder crashed, or gave up without
//     releasing it);
//   - no live lease but a stored result (Release): record it (DecideRecord);
//   - a completed, unexpired scan: record the reference if it is new, unless
//     the request forces a newer one (forcedRescan).
func (s *Scan) claim(c Claim) (Decision, error) {
	if c.Ref.Digest != s.r.Digest {
		return DecideSkip, fmt.Errorf("%w: claim for %s on record %s", ErrInvalidDigest, c.Ref.Digest, s.r.Digest)
	}
	leaseLive := s.InProgress(c.Now) && !s.heldForEarlierDelivery(c)
	forced := s.forcedRescan(c)
	switch {
	case leaseLive && s.r.Lease.Owner == c.Owner && c.Ref == s.r.StartedBy:
		// Restarting here would count a second attempt under a new scan ID;
		// refusing would leave nobody scanning. The write only renews the
		// event, so that no two writes carry the same event ID.
		s.setEvent(EventScanStarted, c.Ref, c.Now)
		if s.r.Stored != nil {
			return DecideRecord, nil
		}
		return DecideScan, nil
	case leaseLive:
		// Held by another invocation, or by this one for another reference
		// (two pushes of one digest in the same batch): one scan is enough.
		if !s.addReference(c.Ref, c.Now) {
			return DecideSkip, ErrUnchanged
		}
		s.setEvent(EventReferenceQueued, c.Ref, c.Now)
		return DecideSkip, nil
	case s.r.Status == StatusFailed && s.r.FinalFailure && c.Now.Unix() < s.r.ExpiresAt && s.hasReference(c.Ref) && !forced:
		// A redelivery of a push whose scan failed for good: scanning again
		// would repeat the failure and its alert. A new reference, or the
		// same one once FailureCacheTTL has passed, tries again.
		return DecideSkip, ErrUnchanged
	case s.r.Status == StatusCompleted && c.Now.Unix() < s.r.ExpiresAt && !forced:
		if !s.addReference(c.Ref, c.Now) {
			return DecideSkip, ErrUnchanged
		}
		s.r.TraceHeader = c.TraceHeader
		s.setEvent(EventImageReferenced, c.Ref, c.Now)
		return DecideReferenced, nil
	}
	if s.r.Status == StatusScanning && c.MaxAttempts > 0 && s.r.Attempts >= c.MaxAttempts {
		s.giveUp(c)
		return DecideGaveUp, nil
	}
	if s.r.Status == StatusScanning && s.r.Stored != nil {
		s.resume(c)
		return DecideRecord, nil
	}
	// Start (or restart) a scan.
	if s.r.Status != StatusScanning && s.r.Status != StatusFailed || s.r.FinalFailure {
		// A fresh scan, not a retry of an earlier one: what an earlier scan
		// found must not pass for this one's result if it fails.
		s.startFresh(c.Origin)
		s.r.Attempts = 0
		s.r.Summary, s.r.Report = nil, nil
		s.r.Platform, s.r.QScannerVersion = "", ""
	}
	s.r.Stored = nil
	s.clearRescanKey()
	s.addReference(c.Ref, c.Now)
	s.r.Status = StatusScanning
	s.r.ScanID = NewID()
	s.r.Attempts++
	s.r.Lease = &Lease{Owner: c.Owner, Expires: c.LeaseUntil, Request: c.Request}
	s.r.StartedBy = c.Ref
	s.r.StartedAt = c.Now
	s.r.CompletedAt = time.Time{}
	s.r.Failure = nil
	s.r.FinalFailure = false
	s.r.TraceHeader = c.TraceHeader
	// Until it completes, keep the record at least as long as the lease.
	if exp := c.LeaseUntil.Add(24 * time.Hour).Unix(); exp > s.r.ExpiresAt {
		s.r.ExpiresAt = exp
	}
	s.setEvent(EventScanStarted, c.Ref, c.Now)
	return DecideScan, nil
}

// ScanResult is what a successful scan records.
type ScanResult struct {
	Summary         Summary
	Report          ReportLocation
	Platform        string
	QScannerVersion string
	// ScanID, when set, is the scan that produced the result, recorded in
	// place of this record's own: an index that takes over the scan of its
	// platform image is the same scan, so downstream effects keyed by scan
	// (one alert per scan and repository) are not repeated.
	ScanID  string
	Changes *ScanDiff // the difference from the previous scan, when computed
}

// Complete records a successful scan under the owner's lease. The cache entry
// lives for cacheTTL from now.
func (s *Scan) Complete(owner string, res ScanResult, now time.Time, cacheTTL time.Duration) error {
	if err := s.holds(owner); err != nil {
		return err
	}
	sum := res.Summary
	rep := res.Report
	s.r.Status = StatusCompleted
	s.r.Lease = nil
	s.r.Stored = nil
	s.r.Summary = &sum
	s.r.Report = &rep
	s.r.Platform = res.Platform
	s.r.QScannerVersion = res.QScannerVersion
	s.r.CompletedAt = now
	s.r.Failure = nil
	s.r.ExpiresAt = now.Add(cacheTTL).Unix()
	s.r.Changes = res.Changes
	s.setRescanKey()
	if res.ScanID != "" {
		s.r.ScanID = res.ScanID
	}
	s.setEvent(EventScanCompleted, s.r.StartedBy, now)
	return nil
}

// Fail records a failed scan under the owner's lease. A retryable failure with
// attempts left releases the lease (ScanRetrying) so a redelivery can try
// again; anything else is final (ScanFailed). A partial result, if any, is kept
// with the failure. It reports whether the failure was final.
func (s *Scan) Fail(owner string, f Failure, partial *ScanResult, maxAttempts int, now time.Time, cacheTTL time.Duration) (final bool, err error) {
	if err := s.holds(owner); err != nil {
		return false, err
	}
	final = !f.Class.Retryable() || s.r.Attempts >= maxAttempts
	s.r.Status = StatusFailed
	s.clearRescanKey()
	s.r.Lease = nil
	s.r.Stored = nil
	s.r.Failure = &f
	s.r.FinalFailure = final
	s.r.CompletedAt = now
	if partial != nil {
		sum, rep := partial.Summary, partial.Report
		s.r.Summary, s.r.Report = &sum, &rep
		s.r.Platform, s.r.QScannerVersion = partial.Platform, partial.QScannerVersion
	}
	s.r.ExpiresAt = now.Add(cacheTTL).Unix()
	if final {
		s.r.ExpiresAt = now.Add(min(cacheTTL, FailureCacheTTL)).Unix()
		s.keepRescanning(now, cacheTTL) // rescan.go
		s.setEvent(EventScanFailed, s.r.StartedBy, now)
	} else {
		s.setEvent(EventScanRetrying, s.r.StartedBy, now)
	}
	return final, nil
}

func (s *Scan) holds(owner string) error {
	if s.r.Status != StatusScanning || s.r.Lease == nil || s.r.Lease.Owner != owner {
		return ErrLeaseLost
	}
	return nil
}

// hasReference reports whether ref is already recorded.
func (s *Scan) hasReference(ref ImageRef) bool {
	for _, r := range s.r.References {
		if r.ImageRef == ref {
			return true
		}
	}
	return false
}

// addReference records ref unless the same repository and tag is already
// known. It reports whether the record changed.
func (s *Scan) addReference(ref ImageRef, now time.Time) bool {
	for _, r := range s.r.References {
		if r.ImageRef == ref {
			return false
		}
	}
	// The full slice expression makes append copy: the slice may be shared
	// with the record this Scan was built from, which a store can hand to
	// several writers at once.
	refs := s.r.References
	s.r.References = append(refs[:len(refs):len(refs)], Reference{ImageRef: ref, FirstSeen: now})
	if n := len(s.r.References); n > MaxReferences {
		s.r.References = append([]Reference(nil), s.r.References[n-MaxReferences:]...)
	}
	return true
}

func (s *Scan) setEvent(t EventType, ref ImageRef, now time.Time) {
	s.r.Event = Event{Type: t, ID: NewID(), At: now, Ref: ref, Cause: s.r.Cause.OrPush()}
}

// NewID returns a random 128-bit identifier in hex, for scan and event IDs.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // cannot happen on supported platforms
	}
	return hex.EncodeToString(b[:])
}
