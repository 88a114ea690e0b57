// Package events holds the scanner's wire formats: the ECR push events the
// scan queue receives, the bus event schema and stream-record decoding. It
// depends on domain and reuses aws-lambda-go's event types (imported as
// awsevents) wherever they exist.
package events

import (
	"encoding/json"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
)

// Trigger names the kind of event that asked for a scan.
type Trigger string

const (
	// TriggerImageAction: EventBridge's native "ECR Image Action" event.
	TriggerImageAction Trigger = "ecr-image-action"
	// TriggerCloudTrailPutImage: the CloudTrail record of an ECR PutImage call,
	// delivered by EventBridge as "AWS API Call via CloudTrail".
	TriggerCloudTrailPutImage Trigger = "cloudtrail-putimage"
	// TriggerScanRequest: a ScanRequestMessage (rescan, backfill, manual).
	TriggerScanRequest Trigger = "scan-request"
)

// MaxEventSize is the largest body DecodePush reads: EventBridge's and SQS's
// 256 KiB limit. Anything bigger did not come from either.
const MaxEventSize = 256 << 10

// The values that select the two push shapes.
const (
	sourceECR            = "aws.ecr"
	detailTypeAction     = "ECR Image Action"
	detailTypeCloudTrail = "AWS API Call via CloudTrail"
	actionPush           = "PUSH"
	resultSuccess        = "SUCCESS"
	cloudTrailECR        = "ecr.amazonaws.com"
	cloudTrailPutImage   = "PutImage"
)

// ScanRequest is what one push event asks of the scan handler. Every field
// has been validated: Ref by domain.NewImageRef, EventID against a
// conservative character set, the media types against RFC 6838's syntax.
type ScanRequest struct {
	Ref     domain.ImageRef
	Trigger Trigger
	// EventID is the EventBridge event's id, stable across redeliveries and
	// archive replays, so it can key idempotent effects.
	EventID   string
	EventTime time.Time
	// MediaType is the pushed manifest's media type when the event says it
	// (empty otherwise). It is a hint: the registry has the final word.
	MediaType string
	// ArtifactMediaType is the manifest's artifact type, or its config's media
	// type, when the event says it (empty otherwise). A hint like MediaType,
	// it lets a signature or SBOM be recognised without a registry call.
	ArtifactMediaType string
	// Cause, RequestedBy and NotBefore say what asked for the scan
	// (DecodeScanMessage sets them; a push is CausePush).
	Cause       domain.Cause
	RequestedBy string
	NotBefore   time.Time
}

// SkipError reports a well-formed event that asks for no scan: a failed push,
// a deletion, another ECR event or API call, another source. Callers
// acknowledge such a message rather than retry it.
type SkipError struct {
	// Reason is one line, with any echoed input quoted and bounded.
	Reason string
}

func (e *SkipError) Error() string { return "not scanned: " + e.Reason }

// DecodePush reads the body of a scan-queue message: an EventBridge event of
// either push shape, "ECR Image Action" (PUSH with result SUCCESS) or
// CloudTrail's "AWS API Call via CloudTrail" for ECR PutImage without an
// errorCode. It returns the scan request, or a *SkipError for a valid event
// that asks for no scan, or an error wrapping domain.ErrInvalid (one line,
// echoed input bounded) for anything malformed. Unknown fields are ignored,
// since AWS adds fields over time; a field it reads that has the wrong JSON
// type makes the event invalid.
func DecodePush(body []byte) (ScanRequest, error) {
	if len(body) == 0 {
		return ScanRequest{}, invalidPushf("empty body")
	}
	if len(body) > MaxEventSize {
		return ScanRequest{}, invalidPushf("body of %d bytes exceeds %d", len(body), MaxEventSize)
	}
	// One pass decodes both shapes at once, which is all a well-formed push
	// needs. Only when it fails does the stepwise decoder run: it tells an
	// event of another kind whose fields happen to clash with ours (a skip)
	// from a malformed push (invalid), and names the offending field.
	// json.Unmarshal, unlike a json.Decoder left to itself, also rejects
	// anything after the event, and it needs no copy of the body.
	var ev pushEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return decodePushStepwise(body)
	}
	if err := classifyPush(&ev.CloudWatchEvent, ev.Detail != nil); err != nil {
		return ScanRequest{}, err
	}
	d := ev.Detail
	if ev.DetailType == detailTypeAction {
		return imageActionRequest(&ev.CloudWatchEvent, &d.imageActionDetail)
	}
	if err := d.skip(); err != nil {
		return ScanRequest{}, err
	}
	var req putImageRequest
	if d.RequestParameters != nil {
		req = *d.RequestParameters
	}
	var resp putImageResponse
	if d.ResponseElements != nil {
		resp = *d.ResponseElements
	}
	return putImageScanRequest(&ev.CloudWatchEvent, &d.cloudTrailHead, &req, &resp)
}

// pushEvent is an EventBridge event whose detail holds the fields of both
// push shapes. Its Detail shadows the embedded event's raw one.
type pushEvent struct {
	awsevents.CloudWatchEvent
	Detail *pushDetail `json:"detail"`
}

type pushDetail struct {
	imageActionDetail
	cloudTrailHead
	RequestParameters *putImageRequest  `json:"requestParameters"`
	ResponseElements  *putImageResponse `json:"responseElements"`
}

// decodePushStepwise decodes the envelope, then only the detail fields of its
// shape, then only the parameters of the call: slower than DecodePush's one
// pass, but precise about what is wrong and blind to the fields of shapes
// and calls it does not handle.
func decodePushStepwise(body []byte) (ScanRequest, error) {
	var ev awsevents.CloudWatchEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return ScanRequest{}, invalidPushJSON("", err)
	}
	if err := classifyPush(&ev, len(ev.Detail) > 0 && string(ev.Detail) != "null"); err != nil {
		return ScanRequest{}, err
	}
	if ev.DetailType == detailTypeAction {
		var d imageActionDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return ScanRequest{}, invalidPushJSON("detail", err)
		}
		return imageActionRequest(&ev, &d)
	}
	var d cloudTrailRecord
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return ScanRequest{}, invalidPushJSON("detail", err)
	}
	if err := d.skip(); err != nil {
		return ScanRequest{}, err
	}
	var req putImageRequest
	if err := pushUnmarshalOptional(d.RequestParameters, &req); err != nil {
		return ScanRequest{}, invalidPushJSON("detail.requestParameters", err)
	}
	var resp putImageResponse
	if err := pushUnmarshalOptional(d.ResponseElements, &resp); err != nil {
		return ScanRequest{}, invalidPushJSON("detail.responseElements", err)
	}
	return putImageScanRequest(&ev, &d.cloudTrailHead, &req, &resp)
}

// classifyPush returns nil for an event of one of the two push shapes, an
// invalid error for an envelope that lacks what every EventBridge event
// carries (so a message is never skipped for lack of what would have made it
// invalid), and a *SkipError for any other event.
func classifyPush(ev *awsevents.CloudWatchEvent, hasDetail bool) error {
	switch {
	case ev.ID == "":
		return invalidPushf("missing id")
	case !validPushEventID(ev.ID):
		return invalidPushf("id %s: want 1-128 characters of [A-Za-z0-9._:-]", pushQuote(ev.ID))
	case ev.Time.IsZero():
		return invalidPushf("missing time")
	case ev.Source == "":
		return invalidPushf("missing source")
	case ev.DetailType == "":
		return invalidPushf("missing detail-type")
	case !hasDetail:
		return invalidPushf("missing detail")
	case ev.Source != sourceECR:
		return skipPushf("source %s is not %s", pushQuote(ev.Source), sourceECR)
	case ev.DetailType != detailTypeAction && ev.DetailType != detailTypeCloudTrail:
		return skipPushf("detail-type %s is not an image push", pushQuote(ev.DetailType))
	}
	return nil
}

// pushUnmarshalOptional decodes raw into v, leaving v zero when raw is absent or
// null (a failed call has null responseElements).
func pushUnmarshalOptional(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return json.Unmarshal(raw, v)
}
