package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
)

// Source is the EventBridge source of every event this project publishes.
const Source = "ecr-image-scanner"

// SchemaVersion is the version of the bus events' JSON (ScanEvent,
// RecordRejected). Add fields freely; bump it only for a change that old
// consumers would misread.
//
// Version 2 dropped the detail's "detailType" field: every event carries the
// one static DetailType, and rules route on detail.eventType. Version 1
// events (per-type detail-types, a "detailType" field naming them) are still
// read, since the bus archive replays them for as long as it keeps them.
const SchemaVersion = "2"

// schemaVersion1 is the version of events published before SchemaVersion 2.
const schemaVersion1 = "1"

// DetailType is the bus detail-type of every event this project publishes.
// It is static because the Pipe's target can only set a static one here: a
// dynamic path parameter ("$.field") refers to the source event's payload,
// not to what the enrichment returns ("Target parameters", dynamic path
// parameters: "These paths are dynamically replaced at runtime with data
// from the event payload itself";
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-event-target.html).
// Rules tell events apart by detail.eventType instead.
const DetailType = "Image Scan Event"

// LegacyDetailType is the detail-type a schema 1 event of type t was
// published with; DecodeBusMessage checks old archived events against it.
func LegacyDetailType(t domain.EventType) (string, bool) {
	switch t {
	case domain.EventScanCompleted:
		return "Scan Completed", true
	case domain.EventImageReferenced:
		return "Image Referenced", true
	case domain.EventScanFailed:
		return "Scan Failed", true
	}
	return "", false
}

// MaxDetailBytes is EventBridge's limit for a whole event; a ScanEvent stays
// far below it because reports travel by S3 pointer and references and top
// findings are bounded in the domain.
const MaxDetailBytes = 256 * 1024

// ScanEvent is the detail of every event on the image-scans bus: a domain
// event from the scans table plus what a handler needs to act on it without
// reading the table. Full reports stay in S3 (Report points at them).
type ScanEvent struct {
	SchemaVersion string           `json:"schemaVersion"`
	EventID       string           `json:"eventId"`
	EventType     domain.EventType `json:"eventType"`
	Time          time.Time        `json:"time"`
	ScanID        string           `json:"scanId"`
	Digest        domain.Digest    `json:"digest"`
	// Ref is the push the event is about: the one that started the scan, or
	// the new reference of an ImageReferenced event.
	Ref domain.ImageRef `json:"ref"`
	// References are all known places the digest was pushed to.
	References      []domain.ImageRef      `json:"references"`
	Status          domain.Status          `json:"status"`
	Summary         *domain.Summary        `json:"summary,omitempty"`
	Report          *domain.ReportLocation `json:"report,omitempty"`
	Platform        string                 `json:"platform,omitempty"`
	QScannerVersion string                 `json:"qscannerVersion,omitempty"`
	ScannedAt       time.Time              `json:"scannedAt,omitzero"`
	Failure         *domain.Failure        `json:"failure,omitempty"`
	TraceHeader     string                 `json:"traceHeader,omitempty"`
	// Cause is what asked for the change: push, rescan, backfill or
	// manual. Events published before it existed decode with none; read
	// it with Cause.OrPush.
	Cause domain.Cause `json:"cause,omitempty"`
	// Changes is a completed rescan's difference from the digest's previous
	// scan (bounded: counts plus at most domain.MaxDiffIDs IDs per list).
	Changes *domain.ScanDiff `json:"changes,omitempty"`
	// ReplayID is empty for live events. A replay sets it so that handlers
	// redo their work instead of deduplicating it away.
	ReplayID string `json:"replayId,omitempty"`
}

// ErrNotPublished: the record's last event is bookkeeping that handlers do not
// see (the Pipe's filter drops it too).
var ErrNotPublished = errors.New("event type not published")

// NewScanEvent builds the bus event for a scan record's last change.
func NewScanEvent(r domain.ScanRecord) (ScanEvent, error) {
	if !r.Event.Type.Published() {
		return ScanEvent{}, fmt.Errorf("%w: %q", ErrNotPublished, r.Event.Type)
	}
	refs := make([]domain.ImageRef, len(r.References))
	for i, ref := range r.References {
		refs[i] = ref.ImageRef
	}
	return ScanEvent{
		SchemaVersion:   SchemaVersion,
		EventID:         r.Event.ID,
		EventType:       r.Event.Type,
		Time:            r.Event.At,
		ScanID:          r.ScanID,
		Digest:          r.Digest,
		Ref:             r.Event.Ref,
		References:      refs,
		Status:          r.Status,
		Summary:         r.Summary,
		Report:          r.Report,
		Platform:        r.Platform,
		QScannerVersion: r.QScannerVersion,
		ScannedAt:       r.CompletedAt,
		Failure:         r.Failure,
		TraceHeader:     r.TraceHeader,
		Cause:           r.Event.Cause.OrPush(),
		Changes:         changesOf(r),
	}, nil
}

// changesOf is the difference a ScanCompleted event carries: the record's
// own, which only a completed rescan has.
func changesOf(r domain.ScanRecord) *domain.ScanDiff {
	if r.Event.Type != domain.EventScanCompleted {
		return nil
	}
	return r.Changes
}

// Targets are the references a handler acts for: the new one for an
// ImageReferenced event, every known one for a scan's outcome (pushes that
// arrived while the scan ran included).
func (e ScanEvent) Targets() []domain.ImageRef {
	if e.EventType == domain.EventImageReferenced || len(e.References) == 0 {
		return []domain.ImageRef{e.Ref}
	}
	return e.References
}

// Repository is one repository a handler acts for, with the tags the digest
// carries there.
type Repository struct {
	Account, Region, Name string
	Tags                  []string
	// Ref is a representative reference for display: the first tagged one,
	// or the first one if the digest is untagged there.
	Ref domain.ImageRef
}

// Repositories groups Targets by repository, in first-seen order.
func (e ScanEvent) Repositories() []Repository {
	var out []Repository
	idx := map[string]int{}
	for _, ref := range e.Targets() {
		k := ref.Account + "/" + ref.Region + "/" + ref.Repository
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Repository{Account: ref.Account, Region: ref.Region, Name: ref.Repository, Ref: ref})
		}
		if ref.Tag != "" {
			if len(out[i].Tags) == 0 {
				out[i].Ref = ref
			}
			out[i].Tags = append(out[i].Tags, ref.Tag)
		}
	}
	return out
}

// Validate checks what every handler relies on.
func (e ScanEvent) Validate() error {
	var errs []error
	if e.SchemaVersion != SchemaVersion && e.SchemaVersion != schemaVersion1 {
		errs = append(errs, fmt.Errorf("schema version %q, want %q (or %q, read from old events)", clipText(e.SchemaVersion), SchemaVersion, schemaVersion1))
	}
	if e.EventID == "" {
		errs = append(errs, errors.New("eventId missing"))
	}
	if !e.EventType.Published() {
		errs = append(errs, fmt.Errorf("event type %q is not published", e.EventType))
	}
	if _, err := domain.ParseDigest(string(e.Digest)); err != nil {
		errs = append(errs, err)
	}
	if e.EventType == domain.EventScanCompleted && (e.Summary == nil || e.Report == nil) {
		errs = append(errs, errors.New("a completed scan needs a summary and a report pointer"))
	}
	for _, ref := range e.Targets() {
		if _, err := domain.NewImageRef(ref.Account, ref.Region, ref.Repository, string(ref.Digest), ref.Tag); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if len(errs) > 0 {
		// One line, bounded: the reason lands in logs and in a DLQ attribute.
		parts := make([]string, len(errs))
		for i, err := range errs {
			parts[i] = strings.ReplaceAll(err.Error(), "\n", "; ")
		}
		return &invalidEventError{reason: clipText(strings.Join(parts, "; ")), errs: errs}
	}
	return nil
}

// invalidEventError is a one-line reason that still matches the domain's
// sentinels (errors.Is finds domain.ErrInvalid and the specific ones).
type invalidEventError struct {
	reason string
	errs   []error
}

func (e *invalidEventError) Error() string { return "invalid scan event: " + e.reason }

func (e *invalidEventError) Unwrap() []error { return append([]error{domain.ErrInvalid}, e.errs...) }

// DecodeBusMessage reads an EventBridge event as a rule delivers it to SQS
// (the message body) and returns its validated ScanEvent detail. An event
// replayed from the bus archive gets "archive:<replay name>" as its ReplayID,
// whatever the detail carried.
func DecodeBusMessage(body []byte) (ScanEvent, error) {
	var env struct {
		awsevents.CloudWatchEvent
		// ReplayName is set by EventBridge on events replayed from an archive.
		ReplayName string `json:"replay-name"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return ScanEvent{}, fmt.Errorf("%w bus event: %s", domain.ErrInvalid, errLine(err))
	}
	if env.Source != Source {
		return ScanEvent{}, fmt.Errorf("%w bus event: source %q, want %q", domain.ErrInvalid, clipText(env.Source), Source)
	}
	var ev ScanEvent
	if err := json.Unmarshal(env.Detail, &ev); err != nil {
		return ScanEvent{}, fmt.Errorf("%w bus event detail: %s", domain.ErrInvalid, errLine(err))
	}
	var v1 struct {
		DetailType string `json:"detailType"`
	}
	_ = json.Unmarshal(env.Detail, &v1) // the detail decoded just above
	if err := checkDetailType(env.DetailType, ev, v1.DetailType); err != nil {
		return ScanEvent{}, err
	}
	if err := ev.Validate(); err != nil {
		return ScanEvent{}, err
	}
	if env.ReplayName != "" {
		// A replay from the bus archive redoes the work like any replay,
		// including events an earlier table replay had put on the bus.
		ev.ReplayID = "archive:" + env.ReplayName
	}
	return ev, nil
}

// checkDetailType checks an envelope's detail-type against its detail's
// schema: the static DetailType for schema 2; for schema 1, the per-type
// detail-type, which the detail's own detailType field (detailField) named
// too. Other schema versions are left to Validate, which refuses them.
func checkDetailType(envelope string, ev ScanEvent, detailField string) error {
	switch ev.SchemaVersion {
	case SchemaVersion:
		if envelope != DetailType {
			return fmt.Errorf("%w bus event: detail-type %q, want %q for schema %s", domain.ErrInvalid, clipText(envelope), DetailType, SchemaVersion)
		}
	case schemaVersion1:
		if envelope != detailField {
			return fmt.Errorf("%w bus event: detail-type %q does not match detail %q", domain.ErrInvalid, clipText(envelope), clipText(detailField))
		}
		if want, ok := LegacyDetailType(ev.EventType); ok && envelope != want {
			return fmt.Errorf("%w bus event: schema 1 detail-type %q, want %q for a %s event", domain.ErrInvalid, clipText(envelope), want, ev.EventType)
		}
	}
	return nil
}

// BusEntry is one event ready for PutEvents.
type BusEntry struct {
	Source     string
	DetailType string
	Detail     []byte
	Resources  []string
	Time       time.Time
}

// Entry renders e for PutEvents, refusing one that would exceed EventBridge's
// size limit as CheckPipeEntry counts it.
func (e ScanEvent) Entry() (BusEntry, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return BusEntry{}, fmt.Errorf("encode scan event %s: %w", e.EventID, err)
	}
	if n := entrySize(b); n >= MaxDetailBytes {
		return BusEntry{}, fmt.Errorf("%w: event %s for %s, scan %s, is %d bytes as EventBridge counts it; it must be under %d",
			ErrEventTooLarge, e.EventID, e.Digest, e.ScanID, n, MaxDetailBytes)
	}
	return BusEntry{Source: Source, DetailType: DetailType, Detail: b, Time: e.Time}, nil
}

func errLine(err error) string {
	s := clipText(err.Error())
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			s = s[:i]
			break
		}
	}
	return s
}

// clipText keeps an echoed value or reason within 200 bytes, whole
// characters only.
func clipText(s string) string {
	return domain.Truncate(s, 200, domain.Ellipsis)
}
