// Package snsnotify publishes alerts to an Amazon SNS topic, checking them
// against SNS's rules first so that a message SNS would refuse is reported as
// invalid (no retry can cure it) rather than as an outage.
package snsnotify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"ecrscanner/domain"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// SNS limits. AWS documents subjects as "less than 100 characters" (moto and,
// reportedly, SNS itself accept exactly 100); 99 satisfies either reading.
const (
	MaxSubjectLen = 99
	// MaxMessageBytes is SNS's limit for a message body and its attributes
	// together.
	MaxMessageBytes = 256 * 1024
	maxAttributes   = 10
	maxAttrNameLen  = 256
)

// Alert is one notification. Subject is what email subscribers see as the
// subject line (SNS drops it for raw deliveries); Attributes become String
// message attributes, which subscription filter policies can match.
//
// Body is what every subscriber gets unless Protocols holds a message for
// its protocol ("https", "sqs", "lambda", …: the keys SNS reads when a
// message is published with MessageStructure json, "default" being Body).
type Alert struct {
	Subject    string
	Body       string
	Attributes map[string]string
	Protocols  map[string]string
}

// protocolKeys are the per-protocol keys of a MessageStructure=json
// message (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
var protocolKeys = map[string]bool{
	"email": true, "email-json": true, "http": true, "https": true, "sqs": true,
	"lambda": true, "firehose": true, "sms": true, "application": true,
}

// Message is what goes in Publish's Message: Body, or with Protocols a JSON
// object of "default" (Body) and each protocol's message. HTML characters
// are not escaped, so the size SNS counts is the size of what people read.
func (a Alert) Message() (message string, structured bool, err error) {
	if len(a.Protocols) == 0 {
		return a.Body, false, nil
	}
	m := make(map[string]string, len(a.Protocols)+1)
	maps.Copy(m, a.Protocols)
	m["default"] = a.Body
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", false, err
	}
	return strings.TrimSuffix(b.String(), "\n"), true, nil
}

// PublishAPI is the part of the SNS client that Notifier uses.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Notifier publishes alerts to one standard (not FIFO) topic. It is safe for
// concurrent use.
type Notifier struct {
	client PublishAPI
	topic  string
}

var topicARNRE = regexp.MustCompile(`^arn:[a-z0-9-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)

// New returns a notifier publishing to topicARN through client.
func New(client PublishAPI, topicARN string) (*Notifier, error) {
	if client == nil {
		return nil, errors.New("snsnotify: nil SNS client")
	}
	if !topicARNRE.MatchString(topicARN) {
		return nil, fmt.Errorf("snsnotify: invalid topic ARN %q: want arn:<partition>:sns:<region>:<account>:<standard topic name>", topicARN)
	}
	return &Notifier{client: client, topic: topicARN}, nil
}

// Publish sends a. An alert that breaks SNS's rules (see Validate), or that
// SNS refuses as an invalid parameter, is an error wrapping
// domain.ErrInvalid; a request that went out without an answer, one wrapping
// ErrOutcomeUnknown (see RetrySentOnlyOnAnswer); any other error may be
// retried. SNS publishes at least
// once: callers that must not repeat an alert record it themselves.
func (n *Notifier) Publish(ctx context.Context, a Alert) error {
	if err := Validate(a); err != nil {
		return fmt.Errorf("publish %q to %s: %w", a.Subject, n.topic, err)
	}
	message, structured, err := a.Message()
	if err != nil {
		return fmt.Errorf("publish %q to %s: %w alert: %w", a.Subject, n.topic, domain.ErrInvalid, err)
	}
	in := &sns.PublishInput{
		TopicArn: aws.String(n.topic),
		Message:  aws.String(message),
	}
	if structured {
		in.MessageStructure = aws.String("json")
	}
	if a.Subject != "" {
		in.Subject = aws.String(a.Subject)
	}
	if len(a.Attributes) > 0 {
		in.MessageAttributes = make(map[string]types.MessageAttributeValue, len(a.Attributes))
		for k, v := range a.Attributes {
			in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	// A context already ended publishes nothing; a cancellation after this
	// point may have let the request out (ErrOutcomeUnknown).
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %q to %s: %w", a.Subject, n.topic, err)
	}
	if _, err := n.client.Publish(ctx, in); err != nil {
		var param *types.InvalidParameterException
		var value *types.InvalidParameterValueException
		if errors.As(err, &param) || errors.As(err, &value) {
			return fmt.Errorf("publish %q to %s: %w alert: %w", a.Subject, n.topic, domain.ErrInvalid, err)
		}
		if outcomeUnknown(err) {
			return fmt.Errorf("publish %q to %s: %w: %w", a.Subject, n.topic, ErrOutcomeUnknown, err)
		}
		return fmt.Errorf("publish %q to %s: %w", a.Subject, n.topic, err)
	}
	return nil
}

var attrNameRE = regexp.MustCompile(`^[A-Za-z0-9_-](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?$`)

// Validate checks a against SNS's rules for Publish: a subject of printable
// ASCII, at most MaxSubjectLen characters, not starting with a space; a
// non-empty UTF-8 body; per-protocol messages only under SNS's protocol
// keys, each non-empty UTF-8; at most 10 attributes with valid names (not reserved
// for AWS) and non-empty UTF-8 values; body and attributes together within
// MaxMessageBytes (the JSON message, with Protocols). Problems are reported
// together, wrapping domain.ErrInvalid.
func Validate(a Alert) error {
	var errs []error
	if len(a.Subject) > MaxSubjectLen {
		errs = append(errs, fmt.Errorf("subject is %d characters, over %d", len(a.Subject), MaxSubjectLen))
	}
	for i := 0; i < len(a.Subject); i++ {
		if c := a.Subject[i]; c < 0x20 || c > 0x7e {
			errs = append(errs, fmt.Errorf("subject has a byte 0x%02x that is not printable ASCII at %d", c, i))
			break
		}
	}
	if strings.HasPrefix(a.Subject, " ") {
		errs = append(errs, errors.New("subject starts with a space"))
	}
	if a.Body == "" {
		errs = append(errs, errors.New("empty body"))
	} else if !utf8.ValidString(a.Body) {
		errs = append(errs, errors.New("body is not valid UTF-8"))
	}
	if len(a.Attributes) > maxAttributes {
		errs = append(errs, fmt.Errorf("%d attributes, over %d", len(a.Attributes), maxAttributes))
	}
	for _, k := range slices.Sorted(maps.Keys(a.Protocols)) {
		if !protocolKeys[k] {
			errs = append(errs, fmt.Errorf("protocol key %q is not an SNS protocol", k))
		}
		if v := a.Protocols[k]; v == "" || !utf8.ValidString(v) {
			errs = append(errs, fmt.Errorf("protocol %q has an empty or non-UTF-8 message", k))
		}
	}
	message, _, err := a.Message()
	if err != nil {
		errs = append(errs, err)
	}
	// With MessageStructure json, SNS's limit is on the whole JSON message:
	// every protocol's together.
	size := len(message)
	for _, k := range slices.Sorted(maps.Keys(a.Attributes)) {
		v := a.Attributes[k]
		lower := strings.ToLower(k)
		switch {
		case len(k) > maxAttrNameLen || !attrNameRE.MatchString(k) || strings.Contains(k, ".."):
			errs = append(errs, fmt.Errorf("attribute name %q is not valid", k))
		case strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon."):
			errs = append(errs, fmt.Errorf("attribute name %q is reserved", k))
		}
		if v == "" || !utf8.ValidString(v) {
			errs = append(errs, fmt.Errorf("attribute %q has an empty or non-UTF-8 value", k))
		}
		size += len(k) + len("String") + len(v)
	}
	if size > MaxMessageBytes {
		errs = append(errs, fmt.Errorf("message and attributes are %d bytes, over %d", size, MaxMessageBytes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w alert: %w", domain.ErrInvalid, errors.Join(errs...))
	}
	return nil
}
