package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// dynamoLimits checks every item (PutItem Item, TransactWriteItems Put
// items) against the item size, and every key's string values against the
// partition key bound.
func dynamoLimits(r Request) []string {
	var in struct {
		Item          map[string]json.RawMessage
		Key           map[string]json.RawMessage
		TransactItems []struct {
			Put *struct{ Item map[string]json.RawMessage }
		}
	}
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return []string{"body: " + err.Error()}
	}
	items := []map[string]json.RawMessage{in.Item}
	for _, t := range in.TransactItems {
		if t.Put != nil {
			items = append(items, t.Put.Item)
		}
	}
	var p []string
	for _, item := range items {
		if n := itemSize(item); n > dynamoMaxItem {
			p = append(p, fmt.Sprintf("item is %d bytes, over %d", n, dynamoMaxItem))
		}
	}
	for name, v := range in.Key {
		var s struct{ S string }
		if json.Unmarshal(v, &s) == nil && len(s.S) > dynamoMaxPartitionKey {
			p = append(p, fmt.Sprintf("key %s is %d bytes, over %d", name, len(s.S), dynamoMaxPartitionKey))
		}
	}
	return p
}

// itemSize follows DynamoDB's item size rules: attribute names plus values;
// a string is its UTF-8 length, a number about one byte per two digits plus
// one, a map or list 3 bytes plus one per element plus its elements.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
func itemSize(item map[string]json.RawMessage) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(raw json.RawMessage) int {
	var v struct {
		S, N, B string
		BOOL    *bool
		NULL    *bool
		M       map[string]json.RawMessage
		L       []json.RawMessage
		SS, NS  []string
	}
	if json.Unmarshal(raw, &v) != nil {
		return len(raw)
	}
	switch {
	case v.M != nil:
		n := 3
		for k, e := range v.M {
			n += len(k) + valueSize(e) + 1
		}
		return n
	case v.L != nil:
		n := 3
		for _, e := range v.L {
			n += valueSize(e) + 1
		}
		return n
	case v.N != "":
		return (len(strings.TrimLeft(v.N, "-0"))+1)/2 + 1
	case v.B != "":
		return len(v.B) * 3 / 4
	case v.BOOL != nil, v.NULL != nil:
		return 1
	}
	n := len(v.S)
	for _, s := range append(v.SS, v.NS...) {
		n += len(s)
	}
	return n
}

// securityHubLimits checks a BatchImportFindings request.
func securityHubLimits(r Request) []string {
	if !strings.HasSuffix(r.Path, "/findings/import") {
		return nil
	}
	var in struct{ Findings []json.RawMessage }
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return []string{"body: " + err.Error()}
	}
	var p []string
	if len(in.Findings) > asffMaxBatch || len(r.Body) > asffMaxBatchBytes {
		p = append(p, fmt.Sprintf("batch of %d findings, %d bytes; at most %d and %d", len(in.Findings), len(r.Body), asffMaxBatch, asffMaxBatchBytes))
	}
	for i, raw := range in.Findings {
		var f struct {
			Id, Title, Description string
			ProductFields          map[string]string
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			p = append(p, fmt.Sprintf("finding %d: %v", i, err))
			continue
		}
		bad := func(format string, a ...any) {
			p = append(p, fmt.Sprintf("finding %q: ", f.Id)+fmt.Sprintf(format, a...))
		}
		if len(raw) > asffMaxFinding {
			bad("%d bytes, over %d", len(raw), asffMaxFinding)
		}
		if n := utf8.RuneCountInString(f.Title); n > asffMaxTitle {
			bad("Title is %d characters, over %d", n, asffMaxTitle)
		}
		if n := utf8.RuneCountInString(f.Description); n > asffMaxDescription {
			bad("Description is %d characters, over %d", n, asffMaxDescription)
		}
		if len(f.ProductFields) > asffMaxProductFields {
			bad("%d ProductFields, over %d", len(f.ProductFields), asffMaxProductFields)
		}
		for k, v := range f.ProductFields {
			if strings.HasPrefix(k, "aws/") {
				bad("ProductFields key %q is reserved for AWS", k)
			}
			if utf8.RuneCountInString(k) > asffMaxFieldKey || utf8.RuneCountInString(v) > asffMaxFieldValue {
				bad("ProductFields[%q] is %d/%d characters, over %d/%d", k, utf8.RuneCountInString(k), utf8.RuneCountInString(v), asffMaxFieldKey, asffMaxFieldValue)
			}
		}
	}
	return p
}

// CheckLimits fails t for each documented limit a captured request breaks.
func CheckLimits(t interface {
	Helper()
	Errorf(string, ...any)
}, reqs []Request) {
	t.Helper()
	for i, r := range reqs {
		for _, problem := range Limits(r) {
			t.Errorf("%s request %d (%s %s): %s", r.Service, i, r.Method, r.Path, problem)
		}
	}
}

// sqsLimits checks SendMessage: the message body and String attribute
// values may hold only the characters SQS allows, and body plus attributes
// (names, types, values) at most 256 KiB.
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
func sqsLimits(r Request) []string {
	var in struct {
		MessageBody       string
		MessageAttributes map[string]struct{ DataType, StringValue string }
	}
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return []string{"body: " + err.Error()}
	}
	var p []string
	size := len(in.MessageBody)
	if i := strings.IndexFunc(in.MessageBody, sqsDisallowed); i >= 0 {
		p = append(p, fmt.Sprintf("MessageBody has %U at byte %d, which SQS refuses", []rune(in.MessageBody[i:])[0], i))
	}
	for k, a := range in.MessageAttributes {
		size += len(k) + len(a.DataType) + len(a.StringValue)
		if i := strings.IndexFunc(a.StringValue, sqsDisallowed); i >= 0 {
			p = append(p, fmt.Sprintf("attribute %s has %U at byte %d, which SQS refuses", k, []rune(a.StringValue[i:])[0], i))
		}
	}
	if size > sqsMaxMessage {
		p = append(p, fmt.Sprintf("message and attributes are %d bytes, over %d", size, sqsMaxMessage))
	}
	return p
}

// sqsDisallowed: outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
// #x10000-#x10FFFF.
func sqsDisallowed(r rune) bool {
	switch {
	case r == 0x9, r == 0xA, r == 0xD:
		return false
	case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return false
	}
	return true
}
