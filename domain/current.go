package domain

import "time"

// ImageScan is one image's scan as a handler sees it: from an event, or from
// what a target (a repository's labels, Security Hub's findings) shows.
type ImageScan struct {
	Digest    Digest
	ScannedAt time.Time
}

// IsZero reports whether s names no scan (the target shows none).
func (s ImageScan) IsZero() bool { return s.Digest == "" && s.ScannedAt.IsZero() }

// CurrentImage is the one rule for a repository's current image, shared by
// every handler that shows one (the tag handler's repository labels, the
// Security Hub handler's findings): it reports whether the event's image scan
// is now the current one, given what the target already shows.
//
// The newest scan is current: a later ScannedAt wins; equal times (the same
// scan seen again, or two scans finishing in the same instant) go to the
// greater digest, so that the same digest seen again is current (rewriting
// it is harmless) and two digests still settle on one. A target that shows
// nothing takes the event's image.
//
// The event's own time is deliberately not part of the rule. An
// ImageReferenced event for a cached digest (an older image re-tagged after a
// newer one was scanned) carries the cached scan's time and does not make
// that image current: it is tagged, and its findings stay shown, but the
// repository's current image remains the newest scan. Comparing only what
// every target records (digest and scan time) makes all targets converge on
// the same image whatever order events arrive in.
func CurrentImage(shown, event ImageScan) bool {
	if shown.IsZero() {
		return true
	}
	if !event.ScannedAt.Equal(shown.ScannedAt) {
		return event.ScannedAt.After(shown.ScannedAt)
	}
	return event.Digest >= shown.Digest
}

// CurrentImageAfter is CurrentImage for an event with a cause. A scan no
// push caused (a rescan, a backfill, a manual rescan) makes its image the
// current one only where the target shows that image already or nothing:
// the sweep rescans every image still in use, and an older one's newer scan
// must not take the repository over from the image pushed last.
func CurrentImageAfter(shown, event ImageScan, cause Cause) bool {
	if cause.OrPush() != CausePush && shown.Digest != "" && shown.Digest != event.Digest {
		return false
	}
	return CurrentImage(shown, event)
}
