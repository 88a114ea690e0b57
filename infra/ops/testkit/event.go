package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"ecrscanner/domain"
	"ecrscanner/events"
)

// CompletedEvent is the bus event of the sample scan (ScanID, finished at
// ScannedAt) of rep, known under refs; refs[0] started the scan. Its report
// pointer is ReportAt(rep.Digest, ScanID).
func CompletedEvent(rep *domain.Report, refs ...domain.ImageRef) events.ScanEvent {
	return CompletedEventOf(rep, ScanID, ScannedAt, refs...)
}

// CompletedEventOf is CompletedEvent for another scan, scanID, finished at
// at: a rescan, or a scan of another image.
func CompletedEventOf(rep *domain.Report, scanID string, at time.Time, refs ...domain.ImageRef) events.ScanEvent {
	sum := domain.Summarize(rep)
	loc := ReportAt(rep.Digest, scanID)
	return events.ScanEvent{
		SchemaVersion:   events.SchemaVersion,
		EventID:         eventID(domain.EventScanCompleted, scanID, at),
		EventType:       domain.EventScanCompleted,
		Time:            at,
		ScanID:          scanID,
		Digest:          rep.Digest,
		Ref:             refs[0],
		References:      refs,
		Status:          domain.StatusCompleted,
		Summary:         &sum,
		Report:          &loc,
		Platform:        rep.Platform,
		QScannerVersion: rep.QScannerVersion,
		ScannedAt:       at,
	}
}

// ReferencedEvent is the ImageReferenced event of a push of newRef three
// days after the sample scan, which reuses its result; refs are the
// references known before it.
func ReferencedEvent(rep *domain.Report, newRef domain.ImageRef, refs ...domain.ImageRef) events.ScanEvent {
	return ReferencedEventAt(rep, ScannedAt.Add(72*time.Hour), newRef, refs...)
}

// ReferencedEventAt is ReferencedEvent for a push at at.
func ReferencedEventAt(rep *domain.Report, at time.Time, newRef domain.ImageRef, refs ...domain.ImageRef) events.ScanEvent {
	ev := CompletedEvent(rep, append(append([]domain.ImageRef(nil), refs...), newRef)...)
	ev.EventType = domain.EventImageReferenced
	ev.EventID = eventID(domain.EventImageReferenced, ScanID, at)
	ev.Time = at
	ev.Ref = newRef
	return ev
}

// FailedEvent is the ScanFailed event of the sample scan, failed for good
// with f, known under refs; refs[0] started the scan.
func FailedEvent(f domain.Failure, refs ...domain.ImageRef) events.ScanEvent {
	return events.ScanEvent{
		SchemaVersion: events.SchemaVersion,
		EventID:       eventID(domain.EventScanFailed, ScanID, ScannedAt),
		EventType:     domain.EventScanFailed,
		Time:          ScannedAt,
		ScanID:        ScanID,
		Digest:        refs[0].Digest,
		Ref:           refs[0],
		References:    refs,
		Status:        domain.StatusFailed,
		Failure:       &f,
		ScannedAt:     ScannedAt,
	}
}

// eventID is a stable stand-in for the random ID the domain draws: the same
// kind of event of the same scan at the same time gets the same ID, in the
// domain's format (32 hex digits).
func eventID(typ domain.EventType, scanID string, at time.Time) string {
	sum := sha256.Sum256([]byte(string(typ) + "#" + scanID + "#" + at.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:16])
}
