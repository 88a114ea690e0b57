package conformance

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Documented limits the service models do not encode, each with its source.
const (
	// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html: "Subject
	// ... must be ASCII text that begins with a letter, number, or
	// punctuation mark; must not include line breaks or control characters;
	// and must be less than 100 characters long."
	snsMaxSubject = 100
	// Same page: "Messages must be UTF-8 encoded strings and at most 256 KB
	// in size (262,144 bytes, not 262,144 characters)"; message attributes
	// count towards it (sns-message-attributes.html).
	snsMaxMessage = 262144
	// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
	sqsMaxMessage = 262144
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html:
	// an entry, counted as that page counts it, must be under 256 KB.
	eventsMaxEntry = 256 * 1024
	// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_Tag.html
	ecrMaxTagKey, ecrMaxTagValue = 128, 256
	// https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html:
	// "The name for a key is a sequence of Unicode characters whose UTF-8
	// encoding is at most 1,024 bytes long."
	s3MaxKey = 1024
	// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html:
	// item size 400 KB including attribute names; partition key value 2048 bytes.
	dynamoMaxItem, dynamoMaxPartitionKey = 400 * 1024, 2048
	// https://docs.aws.amazon.com/securityhub/latest/userguide/asff-top-level-attributes.html
	// and finding-update-batchimportfindings.html (100 findings, 240 KB each,
	// 6 MB a batch).
	asffMaxTitle, asffMaxDescription, asffMaxProductFields = 256, 1024, 50
	// https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFinding.html
	// (ProductFields): "the key can contain up to 128 characters, and the
	// value can contain up to 2048 characters".
	asffMaxFieldKey, asffMaxFieldValue              = 128, 2048
	asffMaxFinding, asffMaxBatch, asffMaxBatchBytes = 240 * 1024, 100, 6 * 1024 * 1024
)

// Limits checks one captured request against the documented limits of its
// service, and every request against UTF-8. It returns the problems found.
func Limits(r Request) []string {
	var p []string
	if !utf8.Valid(r.Body) && r.Service != "s3" {
		p = append(p, "body is not valid UTF-8")
	}
	switch r.Service {
	case "sns":
		p = append(p, snsLimits(r)...)
	case "sqs":
		p = append(p, sqsLimits(r)...)
	case "events":
		p = append(p, eventsLimits(r)...)
	case "ecr":
		p = append(p, ecrLimits(r)...)
	case "s3":
		p = append(p, s3Limits(r)...)
	case "dynamodb":
		p = append(p, dynamoLimits(r)...)
	case "securityhub":
		p = append(p, securityHubLimits(r)...)
	}
	return p
}

func snsLimits(r Request) []string {
	form, err := url.ParseQuery(string(r.Body))
	if err != nil {
		return []string{"form: " + err.Error()}
	}
	var p []string
	subject := form.Get("Subject")
	if utf8.RuneCountInString(subject) >= snsMaxSubject {
		p = append(p, fmt.Sprintf("Subject is %d characters, not under %d", utf8.RuneCountInString(subject), snsMaxSubject))
	}
	for i := 0; i < len(subject); i++ {
		if c := subject[i]; c < 0x20 || c > 0x7e {
			p = append(p, fmt.Sprintf("Subject has byte 0x%02x at %d: not printable ASCII", c, i))
			break
		}
	}
	size := len(form.Get("Message"))
	for k, v := range form {
		if strings.HasPrefix(k, "MessageAttributes.entry.") { // name, data type and value all count
			size += len(v[0])
		}
	}
	if size > snsMaxMessage {
		p = append(p, fmt.Sprintf("message and attributes are %d bytes, over %d", size, snsMaxMessage))
	}
	return p
}

func eventsLimits(r Request) []string {
	var in struct {
		Entries []struct {
			Source, DetailType, Detail string
			Resources                  []string
			Time                       any
		}
	}
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return []string{"body: " + err.Error()}
	}
	var p []string
	for i, e := range in.Entries {
		n := len(e.Source) + len(e.DetailType) + len(e.Detail)
		for _, res := range e.Resources {
			n += len(res)
		}
		if e.Time != nil {
			n += 14
		}
		if n >= eventsMaxEntry {
			p = append(p, fmt.Sprintf("entry %d is %d bytes as EventBridge counts it, not under %d", i, n, eventsMaxEntry))
		}
	}
	return p
}

func ecrLimits(r Request) []string {
	var in struct {
		Tags []struct{ Key, Value string } `json:"tags"`
	}
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return []string{"body: " + err.Error()}
	}
	var p []string
	for _, t := range in.Tags {
		if utf8.RuneCountInString(t.Key) > ecrMaxTagKey || utf8.RuneCountInString(t.Value) > ecrMaxTagValue {
			p = append(p, fmt.Sprintf("tag %q is %d/%d characters, over %d/%d", t.Key, utf8.RuneCountInString(t.Key), utf8.RuneCountInString(t.Value), ecrMaxTagKey, ecrMaxTagValue))
		}
	}
	return p
}

// s3Limits reads the key from a path-style request path (/bucket/key).
func s3Limits(r Request) []string {
	path, err := url.PathUnescape(r.Path)
	if err != nil {
		return []string{"path: " + err.Error()}
	}
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 2)
	if len(parts) < 2 {
		return nil
	}
	key := parts[1]
	var p []string
	if len(key) > s3MaxKey {
		p = append(p, fmt.Sprintf("key is %d bytes, over %d", len(key), s3MaxKey))
	}
	if !utf8.ValidString(key) {
		p = append(p, "key is not valid UTF-8")
	}
	return p
}
