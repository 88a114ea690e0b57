// Package events holds the scanner's wire formats: the ECR push events the
// scan queue receives, the bus event schema and stream-record decoding. It
// depends on domain and reuses aws-lambda-go's event types (imported as
// awsevents) wherever they exist.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// imageActionDetail is the detail of an "ECR Image Action" event, documented
// in the ECR user guide ("Amazon ECR events and EventBridge"). ECR added the
// media type fields after aws-lambda-go's type was written.
type imageActionDetail struct {
	awsevents.ECRImageActionEventDetailType
	ManifestMediaType string `json:"manifest-media-type,omitempty"`
	ArtifactMediaType string `json:"artifact-media-type,omitempty"`
}

func imageActionRequest(ev *awsevents.CloudWatchEvent, d *imageActionDetail) (ScanRequest, error) {
	if d.ActionType != actionPush {
		return ScanRequest{}, skipPushf("action-type %s is not %s", pushQuote(d.ActionType), actionPush)
	}
	if d.Result != resultSuccess {
		return ScanRequest{}, skipPushf("push result %s is not %s", pushQuote(d.Result), resultSuccess)
	}
	switch {
	case d.RepositoryName == "":
		return ScanRequest{}, invalidPushf("missing detail.repository-name")
	case d.ImageDigest == "":
		return ScanRequest{}, invalidPushf("missing detail.image-digest")
	}
	for _, m := range [...]struct{ field, value string }{
		{"detail.manifest-media-type", d.ManifestMediaType},
		{"detail.artifact-media-type", d.ArtifactMediaType},
	} {
		if m.value != "" && !validPushMediaType(m.value) {
			return ScanRequest{}, invalidPushf("%s %s: want type/subtype", m.field, pushQuote(m.value))
		}
	}
	ref, err := domain.NewImageRef(pushAccount(ev, d.RepositoryName), ev.Region, d.RepositoryName, d.ImageDigest, d.ImageTag)
	if err != nil {
		return ScanRequest{}, invalidPushErr(err)
	}
	return ScanRequest{
		Ref:               ref,
		Trigger:           TriggerImageAction,
		EventID:           ev.ID,
		EventTime:         ev.Time,
		MediaType:         d.ManifestMediaType,
		ArtifactMediaType: d.ArtifactMediaType,
	}, nil
}

// cloudTrailHead is the part of a CloudTrail record (the detail of an "AWS
// API Call via CloudTrail" event) that tells which call it was, where, and
// whether it failed.
type cloudTrailHead struct {
	EventSource        string `json:"eventSource"`
	EventName          string `json:"eventName"`
	AWSRegion          string `json:"awsRegion"`
	RecipientAccountID string `json:"recipientAccountId"`
	ErrorCode          string `json:"errorCode"`
}

// skip returns a *SkipError unless the record is a successful ECR PutImage.
func (h *cloudTrailHead) skip() error {
	switch {
	case h.EventSource != cloudTrailECR:
		return skipPushf("CloudTrail eventSource %s is not %s", pushQuote(h.EventSource), cloudTrailECR)
	case h.EventName != cloudTrailPutImage:
		return skipPushf("CloudTrail eventName %s is not %s", pushQuote(h.EventName), cloudTrailPutImage)
	case h.ErrorCode != "":
		return skipPushf("PutImage failed with errorCode %s", pushQuote(h.ErrorCode))
	}
	return nil
}

// cloudTrailRecord keeps the call's parameters raw until the call is known to
// be PutImage, since other calls give the same names other shapes.
type cloudTrailRecord struct {
	cloudTrailHead
	RequestParameters json.RawMessage `json:"requestParameters"`
	ResponseElements  json.RawMessage `json:"responseElements"`
}

// putImageRequest and putImageResponse follow ECR's PutImage API as
// CloudTrail records it ("Logging Amazon ECR actions with AWS CloudTrail").
type putImageRequest struct {
	RegistryID             string `json:"registryId"`
	RepositoryName         string `json:"repositoryName"`
	ImageTag               string `json:"imageTag"`
	ImageDigest            string `json:"imageDigest"`
	ImageManifestMediaType string `json:"imageManifestMediaType"`
	ImageManifest          string `json:"imageManifest"`
}

type putImageResponse struct {
	Image struct {
		RegistryID             string `json:"registryId"`
		RepositoryName         string `json:"repositoryName"`
		ImageManifestMediaType string `json:"imageManifestMediaType"`
		ImageID                struct {
			ImageDigest string `json:"imageDigest"`
			ImageTag    string `json:"imageTag"`
		} `json:"imageId"`
	} `json:"image"`
}

// manifestHead is what the media type hints need from a pushed manifest.
type manifestHead struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Config       struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
}

func putImageScanRequest(ev *awsevents.CloudWatchEvent, h *cloudTrailHead, req *putImageRequest, resp *putImageResponse) (ScanRequest, error) {
	img := &resp.Image
	repository := pushFirst(req.RepositoryName, img.RepositoryName)
	digest := pushFirst(img.ImageID.ImageDigest, req.ImageDigest)
	switch {
	case repository == "":
		return ScanRequest{}, invalidPushf("missing detail.requestParameters.repositoryName")
	case digest == "":
		return ScanRequest{}, invalidPushf("missing detail.responseElements.image.imageId.imageDigest")
	}
	// The registry IDs name the account that owns the repository. They come
	// before recipientAccountId because a cross-account push is also
	// recorded in the caller's account, where the recipient is the caller.
	account := pushFirst(img.RegistryID, req.RegistryID, h.RecipientAccountID, ev.AccountID)
	region := pushFirst(h.AWSRegion, ev.Region)
	tag := pushFirst(req.ImageTag, img.ImageID.ImageTag)
	mediaType := pushFirst(img.ImageManifestMediaType, req.ImageManifestMediaType)
	if mediaType != "" && !validPushMediaType(mediaType) {
		return ScanRequest{}, invalidPushf("detail imageManifestMediaType %s: want type/subtype", pushQuote(mediaType))
	}
	var artifactType string
	if req.ImageManifest != "" {
		// The manifest is the pusher's content, not the event's: a hint that
		// does not parse or validate is dropped, never fatal.
		var m manifestHead
		if json.Unmarshal([]byte(req.ImageManifest), &m) == nil {
			if mediaType == "" && validPushMediaType(m.MediaType) {
				mediaType = m.MediaType
			}
			if at := pushFirst(m.ArtifactType, m.Config.MediaType); validPushMediaType(at) {
				artifactType = at
			}
		}
	}
	ref, err := domain.NewImageRef(account, region, repository, digest, tag)
	if err != nil {
		return ScanRequest{}, invalidPushErr(err)
	}
	return ScanRequest{
		Ref:               ref,
		Trigger:           TriggerCloudTrailPutImage,
		EventID:           ev.ID,
		EventTime:         ev.Time,
		MediaType:         mediaType,
		ArtifactMediaType: artifactType,
	}, nil
}

// pushUnmarshalOptional decodes raw into v, leaving v zero when raw is absent or
// null (a failed call has null responseElements).
func pushUnmarshalOptional(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return json.Unmarshal(raw, v)
}

func pushFirst(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// validPushEventID accepts the UUIDs EventBridge assigns and anything of the same
// tame alphabet, so an ID is safe in keys, logs and file names.
func validPushEventID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(pushAlnum(c) || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// validPushMediaType checks RFC 6838's type/subtype syntax (restricted names of
// at most 127 characters each, no parameters), which every OCI and Docker
// media type follows.
func validPushMediaType(s string) bool {
	slash := strings.IndexByte(s, '/')
	if slash < 0 {
		return false
	}
	return pushRestrictedName(s[:slash]) && pushRestrictedName(s[slash+1:])
}

func pushRestrictedName(s string) bool {
	if len(s) == 0 || len(s) > 127 || !pushAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !pushAlnum(c) && !strings.ContainsRune("!#$&-^_.+", rune(c)) {
			return false
		}
	}
	return true
}

func pushAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// invalidPushError is an invalid push event: a one-line message over a cause
// that wraps domain.ErrInvalid (and the specific domain error, if any).
type invalidPushError struct {
	reason string
	cause  error
}

func (e *invalidPushError) Error() string { return "invalid ecr push event: " + e.reason }
func (e *invalidPushError) Unwrap() error { return e.cause }

func invalidPushf(format string, args ...any) error {
	return &invalidPushError{reason: pushOneLine(fmt.Sprintf(format, args...)), cause: domain.ErrInvalid}
}

// invalidPushErr wraps a validation error from domain, which already wraps
// domain.ErrInvalid but may span several lines (errors.Join).
func invalidPushErr(err error) error {
	return &invalidPushError{reason: pushOneLine(strings.ReplaceAll(err.Error(), "\n", "; ")), cause: err}
}

// invalidPushJSON turns a decoding error into a reason that names the field and
// the JSON types rather than Go's.
func invalidPushJSON(where string, err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr):
		field := where
		if typeErr.Field != "" {
			field = strings.TrimPrefix(where+"."+pushJSONPath(typeErr.Field), ".")
		}
		if field == "" {
			field = "event"
		}
		got := typeErr.Value
		if got == "bool" {
			got = "boolean"
		}
		return invalidPushf("%s: got JSON %s, want %s", field, got, pushJSONKind(typeErr.Type))
	case errors.As(err, &syntaxErr):
		return invalidPushf("not JSON: %v", syntaxErr)
	case errors.As(err, &timeErr):
		return invalidPushf("time: want an RFC 3339 timestamp")
	}
	if where == "" {
		where = "event"
	}
	return invalidPushf("%s: %v", where, err)
}

// pushEmbedded names the embedded structs of the decoded types, which
// encoding/json puts in an error's path although the event has no such level.
var pushEmbedded = map[string]bool{
	reflect.TypeFor[awsevents.ECRImageActionEventDetailType]().Name(): true,
	reflect.TypeFor[cloudTrailHead]().Name():                          true,
}

func pushJSONPath(field string) string {
	parts := strings.Split(field, ".")
	kept := parts[:0]
	for _, p := range parts {
		if !pushEmbedded[p] {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}

func pushJSONKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	}
	return t.String()
}

func skipPushf(format string, args ...any) error {
	return &SkipError{Reason: pushOneLine(fmt.Sprintf(format, args...))}
}

// pushMaxEcho bounds each piece of input quoted into a message, pushMaxReason the
// whole message, so a hostile event cannot flood a log line.
const (
	pushMaxEcho   = 64
	pushMaxReason = 400
)

// pushQuote bounds s and quotes it with Go escapes, so control characters and
// newlines in input appear escaped, never raw.
func pushQuote(s string) string {
	if len(s) <= pushMaxEcho {
		return strconv.Quote(s)
	}
	return strconv.Quote(pushTruncate(s, pushMaxEcho)) + "…"
}

// pushOneLine replaces control characters (newlines included) with spaces and
// bounds the length.
func pushOneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	if len(s) > pushMaxReason {
		return pushTruncate(s, pushMaxReason) + "…"
	}
	return s
}

// pushTruncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func pushTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// pushAccount is the event's account or, when an envelope lacks it (moto's
// rule delivery drops it), the account in the repository ARN that ECR lists
// in resources. The ARN must name the same region and repository.
func pushAccount(ev *awsevents.CloudWatchEvent, repository string) string {
	if ev.AccountID != "" {
		return ev.AccountID
	}
	for _, r := range ev.Resources {
		parts := strings.SplitN(r, ":", 6)
		if len(parts) == 6 && strings.HasPrefix(parts[0], "arn") && parts[2] == "ecr" && parts[3] == ev.Region && parts[5] == "repository/"+repository {
			return parts[4]
		}
	}
	return ""
}
