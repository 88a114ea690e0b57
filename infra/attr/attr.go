// Package attr names the keys that log lines and trace annotations share, so
// that one image is image_digest in every log line of every function and in
// every trace annotation, and a search by any key finds all of them. Keys a
// single log line uses for its own details stay beside that line.
//
// It is the one place those keys are spelled: write
// slog.String(attr.ImageDigest, d.String()) and span.Annotate(attr.ScanID, id),
// never the literal.
package attr

import "log/slog"

// Identity keys: what a person searches logs and traces by.
const (
	// Handler is the function (scan, archive, tag, alert, securityhub,
	// enrich) that logged the line or recorded the span.
	Handler = "handler"
	// ImageDigest is the image's content digest, sha256:<hex>.
	ImageDigest = "image_digest"
	// Repository is an ECR repository name.
	Repository = "repository"
	// Tag is an image tag.
	Tag = "tag"
	// ScanID names one scan of a digest; a rescan has a new one.
	ScanID = "scan_id"
	// EventID is a scan event's unique ID.
	EventID = "event_id"
	// EventType is a scan event's type (ScanCompleted, ImageReferenced,
	// ScanFailed).
	EventType = "event_type"
	// ReplayID marks the deliveries of one replay.
	ReplayID = "replay_id"
	// MessageID is an SQS message's ID.
	MessageID = "message_id"
)

// Outcome keys: what happened.
const (
	// Error is a failure's message.
	Error = "error"
	// Reason says why something was skipped, parked or failed.
	Reason = "reason"
	// FailureClass sorts a scan failure (domain.FailureClass).
	FailureClass = "failure_class"
	// Platform is the os/arch scanned.
	Platform = "platform"
	// DurationMS is how long the work took, in milliseconds.
	DurationMS = "duration_ms"
)

// Err is err's message under Error.
func Err(err error) slog.Attr { return slog.String(Error, err.Error()) }
