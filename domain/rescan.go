package domain

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"
)

// Cause says what asked for a scan. Every cause enters the same scan queue
// and the same Claim, lease and cache, so a digest is scanned once at a time
// whatever asked for it.
type Cause string

const (
	CausePush     Cause = "push"     // an ECR push event
	CauseRescan   Cause = "rescan"   // the sweep: the last scan is older than RescanAfterDays
	CauseBackfill Cause = "backfill" // `ecrscan backfill`: an image that was in ECR before the stack
	CauseManual   Cause = "manual"   // `ecrscan rescan`: an operator forcing a new scan now
)

// Causes lists the known causes.
var Causes = []Cause{CausePush, CauseRescan, CauseBackfill, CauseManual}

// ParseCause reads a cause word; anything unknown is an error naming it.
func ParseCause(s string) (Cause, error) {
	for _, c := range Causes {
		if string(c) == s {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w cause %q: want push, rescan, backfill or manual", ErrInvalid, echo(s))
}

// OrPush is c, or CausePush for records and events written before causes
// existed (an empty cause): until then, pushes were the only cause.
func (c Cause) OrPush() Cause {
	if c == "" {
		return CausePush
	}
	return c
}

// PreviousScan points at the completed scan a newer scan of the same digest
// replaced. Its report stays in S3 under its own scan ID, so a rescan's
// difference is computed against it and it can still be read afterwards.
type PreviousScan struct {
	ScanID      string          `json:"scanId"`
	CompletedAt time.Time       `json:"completedAt"`
	Report      *ReportLocation `json:"report,omitempty"`
	Summary     *Summary        `json:"summary,omitempty"`
}

// Rescan is the part of a ScanRecord about why and how often its digest
// was scanned: embedded, so its fields sit beside the others in the item.
type Rescan struct {
	// Cause is what asked for the current scan; RequestedBy who, for a
	// request that names one (ecrscan rescan, backfill, the sweep).
	Cause       Cause  `json:"cause,omitempty"`
	RequestedBy string `json:"requestedBy,omitempty"`
	// Previous is the completed scan the current one replaced; Changes
	// the current scan's difference from it (diff.go).
	Previous *PreviousScan `json:"previous,omitempty"`
	Changes  *ScanDiff     `json:"changes,omitempty"`
	// RescanShard and RescanFrom key the sweep's sparse index; set on
	// completed records only (setRescanKey).
	RescanShard string `json:"rescanShard,omitempty"`
	RescanFrom  string `json:"rescanFrom,omitempty"`
}

// Origin is what asked for a claim, beside the reference it claims for.
type Origin struct {
	Cause       Cause  // CausePush when empty
	RequestedBy string // who, when the request names someone
	// NotBefore, when set, forces a new scan unless the record's scan
	// started at or after it (see forcedRescan): a forced or due rescan.
	NotBefore time.Time
}

// Claim applies a scan request (a push, or a rescan, backfill or manual
// request) to the record; see claim for the rules.
func (s *Scan) Claim(c Claim) (Decision, error) {
	d, err := s.claim(c)
	if err == nil {
		// The write's event carries what asked for it: a backfill's
		// reference of a cached digest is a backfill's, whatever scanned it.
		s.r.Event.Cause = c.Origin.Cause.OrPush()
	}
	return d, err
}

// Previous returns the completed scan the current one replaced, if any.
func (s *Scan) Previous() (PreviousScan, bool) {
	if s.r.Previous == nil {
		return PreviousScan{}, false
	}
	return *s.r.Previous, true
}

// Cause is what asked for the current scan (CausePush for old records).
func (s *Scan) Cause() Cause { return s.r.Cause.OrPush() }

// Changes returns the current scan's difference from the previous one, when
// it was computed (a rescan whose previous report was readable).
func (s *Scan) Changes() (ScanDiff, bool) {
	if s.r.Changes == nil {
		return ScanDiff{}, false
	}
	return *s.r.Changes, true
}

// CompletedAt is when the current scan completed (zero while it runs).
func (s *Scan) CompletedAt() time.Time { return s.r.CompletedAt }

// StartedAt is when the current scan started.
func (s *Scan) StartedAt() time.Time { return s.r.StartedAt }

// forcedRescan reports whether c asks for a scan newer than the one the
// record holds: c.NotBefore is set and the record's scan started before it.
// A forced request never overrides a live lease (it joins that scan, see
// Claim), and one whose scan already started at or after NotBefore is
// satisfied by it: that is how 50 concurrent forced requests, or a
// redelivery of one after its scan completed, cause a single run.
func (s *Scan) forcedRescan(c Claim) bool {
	if c.Origin.NotBefore.IsZero() {
		return false
	}
	switch s.r.Status {
	case StatusCompleted, StatusFailed:
		return s.r.StartedAt.Before(c.Origin.NotBefore)
	}
	return false
}

// startFresh begins a new scan's history: what the record's completed
// scan found stays reachable as the previous scan, and the new one has the
// request's cause and no difference yet.
func (s *Scan) startFresh(o Origin) {
	s.keepPrevious()
	s.r.Changes = nil
	s.r.Cause, s.r.RequestedBy = o.Cause.OrPush(), o.RequestedBy
}

// keepPrevious remembers the completed scan a new scan is about to replace.
func (s *Scan) keepPrevious() {
	if s.r.Status != StatusCompleted || s.r.Report == nil {
		return
	}
	rep := *s.r.Report
	p := &PreviousScan{ScanID: s.r.ScanID, CompletedAt: s.r.CompletedAt, Report: &rep}
	if s.r.Summary != nil {
		sum := *s.r.Summary
		p.Summary = &sum
	}
	s.r.Previous = p
}

// keepRescanning keeps a digest whose rescan failed for good in continuous
// rescanning: the completed scan it replaced still stands for the image
// (the gate judges it), so the record stays in the sweep's index, due again
// RescanAfterDays after this failure, and lives as long as a completed
// scan's cache would instead of the day a failed push's does. Without it
// one transient failure of a rescan would drop the image from rescans
// until its next push.
func (s *Scan) keepRescanning(now time.Time, cacheTTL time.Duration) {
	if s.r.Previous == nil || s.r.Cause.OrPush() == CausePush {
		return
	}
	s.setRescanKey()
	s.r.ExpiresAt = max(s.r.ExpiresAt, now.Add(cacheTTL).Unix())
}

// RescanShards is how many values the sweep index's partition key takes.
// Spreading completed records over a few partition keys keeps any one of
// them far below a partition's write limit at a million records, while the
// sweep still needs only this many Queries per run.
const RescanShards = 8

// RescanTimeFormat is the sweep index's sort key format: fixed width and
// UTC, so that its strings sort as the times do.
const RescanTimeFormat = "2006-01-02T15:04:05Z"

// setRescanKey puts a completed record in the sweep's sparse index (the
// table's RescanIndex): the shard its digest hashes to, and its completion
// time. Records in any other state carry neither attribute and are not in
// the index at all, so the sweep never reads them.
func (s *Scan) setRescanKey() {
	h := fnv.New32a()
	h.Write([]byte(s.r.Digest))
	s.r.RescanShard = strconv.Itoa(int(h.Sum32() % RescanShards))
	s.r.RescanFrom = s.r.CompletedAt.UTC().Format(RescanTimeFormat)
}

func (s *Scan) clearRescanKey() { s.r.RescanShard, s.r.RescanFrom = "", "" }
