package domain

import (
	"fmt"
	"time"
)

// StoredResult is a scan result whose report is already stored (the claim
// check is written) but which is not yet recorded as the scan's completion.
// It lives on a SCANNING record between an attempt that gave up and the
// attempt that records it.
type StoredResult struct {
	Summary         Summary        `json:"summary"`
	Report          ReportLocation `json:"report"`
	Platform        string         `json:"platform,omitempty"`
	QScannerVersion string         `json:"qscannerVersion,omitempty"`
	// ScanID, when set, is the scan that produced the result (see
	// ScanResult.ScanID): it is recorded in place of the record's own.
	ScanID string `json:"scanId,omitempty"`
}

// maxReleaseReason bounds the reason a release records, so an error that
// quotes a large request cannot push the item towards DynamoDB's 400 KB.
const maxReleaseReason = 1024

// Release gives up the owner's lease after an attempt failed in a way that
// another attempt may get past (a record write throttled, a store
// unreachable), so the retry can take over at once instead of waiting for
// the lease to expire. The record stays SCANNING, without a lease, and keeps
// why (reason) for the operator and for the attempt that gives up. If the
// attempt had already stored its report, stored says where and what it
// found: the next Claim then answers DecideRecord and the result is recorded
// without running QScanner again.
//
// Only the lease's owner may release it: anyone else (a lease taken over, or
// the record already completed or failed) gets ErrLeaseLost and nothing
// changes, so a release never clobbers a newer owner's lease.
func (s *Scan) Release(owner string, reason Failure, stored *ScanResult, now time.Time) error {
	if err := s.holds(owner); err != nil {
		return err
	}
	reason.Reason = Truncate(reason.Reason, maxReleaseReason, "…")
	s.r.Lease = nil
	s.r.Failure = &reason
	if stored != nil {
		s.r.Stored = &StoredResult{Summary: stored.Summary, Report: stored.Report, Platform: stored.Platform, QScannerVersion: stored.QScannerVersion, ScanID: stored.ScanID}
	}
	s.setEvent(EventScanRetrying, s.r.StartedBy, now)
	return nil
}

// StoredResult returns the result an earlier attempt stored but did not
// record (see Release), or false if there is none.
func (s *Scan) StoredResult() (ScanResult, bool) {
	if s.r.Stored == nil {
		return ScanResult{}, false
	}
	st := s.r.Stored
	return ScanResult{Summary: st.Summary, Report: st.Report, Platform: st.Platform, QScannerVersion: st.QScannerVersion, ScanID: st.ScanID}, true
}

// heldForEarlierDelivery reports whether the record's lease was taken by
// another invocation for an earlier delivery of the request c serves. SQS
// hands a message out again only once its visibility timeout has passed or
// the consumer gave it back (ChangeMessageVisibility after an error), and the
// scan queue's visibility timeout is longer than the function's
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html):
// the earlier delivery's invocation is over, and so is its lease, whatever
// its expiry says. Without this, the redelivery of a push whose attempt could
// not release its lease would meet that lease, be taken for a duplicate and
// be deleted, leaving the record in SCANNING with nothing left to retry it.
//
// Records stuck behind a dead lease are found on read, by the next Claim of
// the digest, rather than by a scheduled sweep or an alarm: an attempt that
// crashed or gave up never deleted its message, so SQS hands that message
// out again (or, after the queue's maxReceiveCount, moves it to the DLQ,
// where it is not lost). Some delivery therefore always comes back to the
// record, and its claim takes the lease over (this case, or an expired
// lease), counts the attempt and gives up with a reason after MaxAttempts.
// A sweep would need a scan of the table or an index on status, and a second
// way of starting scans beside the queue; an alarm would only tell people.
func (s *Scan) heldForEarlierDelivery(c Claim) bool {
	l := s.r.Lease
	return l != nil && c.Request != "" && l.Request == c.Request && l.Owner != c.Owner
}

// resume gives c the lease of a released scan whose result is stored (see
// DecideRecord). The scan ID stays: the stored report is this scan's, and
// downstream effects keyed by scan must not see two scans.
func (s *Scan) resume(c Claim) {
	s.addReference(c.Ref, c.Now)
	s.r.Attempts++
	s.r.Lease = &Lease{Owner: c.Owner, Expires: c.LeaseUntil, Request: c.Request}
	s.r.TraceHeader = c.TraceHeader
	if exp := c.LeaseUntil.Add(24 * time.Hour).Unix(); exp > s.r.ExpiresAt {
		s.r.ExpiresAt = exp
	}
	s.setEvent(EventScanStarted, c.Ref, c.Now)
}

// giveUp records a scan whose attempts are used up without a result as
// failed for good. The reason is the last one an attempt left (Release);
// without one, the attempts died holding their leases (a crash or a timeout
// that left nothing behind).
func (s *Scan) giveUp(c Claim) {
	f := Failure{Class: FailureCrashed, Reason: fmt.Sprintf("no attempt finished: %d attempts ended without a result (the function crashed or ran out of time)", s.r.Attempts)}
	if last := s.r.Failure; last != nil {
		f = Failure{Class: last.Class, ExitCode: last.ExitCode, Reason: Truncate(fmt.Sprintf("no attempt finished: %d attempts ended without a recorded result; the last: %s", s.r.Attempts, last.Reason), maxReleaseReason, "…")}
	}
	s.addReference(c.Ref, c.Now)
	s.r.Status = StatusFailed
	s.r.Lease = nil
	s.r.Stored = nil
	s.r.Failure = &f
	s.r.FinalFailure = true
	s.r.CompletedAt = c.Now
	s.r.ExpiresAt = c.Now.Add(FailureCacheTTL).Unix()
	s.setEvent(EventScanFailed, s.r.StartedBy, c.Now)
}
