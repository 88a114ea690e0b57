package events

import (
	"encoding/json"
	"fmt"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
)

// FromStreamRecord decodes a DynamoDB stream record of the scans table, as the
// Pipe hands it to its enrichment step, into the bus event for the item's
// last change. It returns ErrNotPublished for a change handlers do not see
// (bookkeeping events, removals by TTL).
func FromStreamRecord(rec awsevents.DynamoDBEventRecord) (ScanEvent, error) {
	if rec.EventName != "INSERT" && rec.EventName != "MODIFY" {
		return ScanEvent{}, fmt.Errorf("%w: stream %s of %v", ErrNotPublished, rec.EventName, rec.Change.Keys["digest"])
	}
	r, err := DecodeScanImage(rec.Change.NewImage)
	if err != nil {
		return ScanEvent{}, fmt.Errorf("stream record %s: %w", rec.EventID, err)
	}
	ev, err := NewScanEvent(r)
	if err != nil {
		return ScanEvent{}, err
	}
	if err := ev.Validate(); err != nil {
		return ScanEvent{}, fmt.Errorf("stream record %s: %w", rec.EventID, err)
	}
	return ev, nil
}

// DecodeScanImage reads a scans-table item in DynamoDB's JSON form (a stream
// image) into the record the store wrote. The store marshals domain.ScanRecord
// by its JSON field names, so the item converts to plain JSON and back.
func DecodeScanImage(img map[string]awsevents.DynamoDBAttributeValue) (domain.ScanRecord, error) {
	if len(img) == 0 {
		return domain.ScanRecord{}, fmt.Errorf("%w scan item: no image", domain.ErrInvalid)
	}
	plain := make(map[string]any, len(img))
	for k, v := range img {
		plain[k] = plainValue(v)
	}
	b, err := json.Marshal(plain)
	if err != nil {
		return domain.ScanRecord{}, fmt.Errorf("%w scan item: %s", domain.ErrInvalid, errLine(err))
	}
	var r domain.ScanRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return domain.ScanRecord{}, fmt.Errorf("%w scan item: %s", domain.ErrInvalid, errLine(err))
	}
	return r, nil
}

// plainValue converts one attribute to the JSON value it was marshalled from.
func plainValue(v awsevents.DynamoDBAttributeValue) any {
	switch v.DataType() {
	case awsevents.DataTypeString:
		return v.String()
	case awsevents.DataTypeNumber:
		return json.Number(v.Number())
	case awsevents.DataTypeBoolean:
		return v.Boolean()
	case awsevents.DataTypeBinary:
		return v.Binary()
	case awsevents.DataTypeMap:
		m := make(map[string]any, len(v.Map()))
		for k, e := range v.Map() {
			m[k] = plainValue(e)
		}
		return m
	case awsevents.DataTypeList:
		l := make([]any, len(v.List()))
		for i, e := range v.List() {
			l[i] = plainValue(e)
		}
		return l
	case awsevents.DataTypeStringSet:
		return v.StringSet()
	case awsevents.DataTypeNumberSet:
		ns := v.NumberSet()
		l := make([]json.Number, len(ns))
		for i, n := range ns {
			l[i] = json.Number(n)
		}
		return l
	case awsevents.DataTypeBinarySet:
		return v.BinarySet()
	}
	return nil
}
