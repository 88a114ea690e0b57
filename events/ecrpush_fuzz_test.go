package events

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"ecrscanner/domain"
)

// FuzzDecodePush checks DecodePush's contract on any input: no panic; exactly
// one of a request, a skip or an invalid error; messages on one bounded line;
// a request that re-validates and survives its JSON encoding; and the one-pass decoder agreeing with the
// stepwise one. Without -fuzz it runs the fixtures as seeds.
func FuzzDecodePush(f *testing.F) {
	addFiles(f, "../testdata/events/*.json")
	f.Add([]byte(`null`))
	f.Add([]byte(`{"id":"a","time":"2025-01-01T00:00:00Z","source":"aws.ecr","detail-type":"ECR Image Action","detail":{}}`))
	f.Add([]byte(`{"id":"a","time":"2025-01-01T00:00:00Z","source":"aws.ecr","detail-type":"AWS API Call via CloudTrail",` +
		`"detail":{"eventSource":"ecr.amazonaws.com","eventName":"PutImage","requestParameters":{"imageManifest":"{\"artifactType\":1}"}}}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodePush(body)
		if len(body) > 0 && len(body) <= MaxEventSize {
			want, wantErr := decodePushStepwise(body)
			if !reflect.DeepEqual(got, want) || errText(err) != errText(wantErr) || reflect.TypeOf(err) != reflect.TypeOf(wantErr) {
				t.Fatalf("one pass and stepwise disagree:\n %+v, %v\n %+v, %v", got, err, want, wantErr)
			}
		}
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || len(msg) > 512 {
				t.Fatalf("message not one bounded line (%d bytes): %q", len(msg), msg)
			}
			var skip *SkipError
			if errors.As(err, &skip) == errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error is both or neither skip and invalid: %v", err)
			}
			if got != (ScanRequest{}) {
				t.Fatalf("error %v with a request %+v", err, got)
			}
			return
		}
		b, err := json.Marshal(got)
		if err != nil || !utf8.Valid(b) {
			t.Fatalf("request does not re-encode: %v", err)
		}
		var back ScanRequest
		if err := json.Unmarshal(b, &back); err != nil || back.Ref != got.Ref || !back.EventTime.Equal(got.EventTime) || back.EventID != got.EventID {
			t.Fatalf("request does not survive its encoding (%v):\n %+v\n %+v", err, got, back)
		}
		r := got.Ref
		if _, err := domain.NewImageRef(r.Account, r.Region, r.Repository, string(r.Digest), r.Tag); err != nil {
			t.Fatalf("request with an invalid ref: %v", err)
		}
		if got.Trigger != TriggerImageAction && got.Trigger != TriggerCloudTrailPutImage {
			t.Fatalf("unknown trigger %q", got.Trigger)
		}
		if !validPushEventID(got.EventID) || got.EventTime.IsZero() {
			t.Fatalf("bad event id or time: %q %v", got.EventID, got.EventTime)
		}
		for _, m := range []string{got.MediaType, got.ArtifactMediaType} {
			if m != "" && !validPushMediaType(m) {
				t.Fatalf("bad media type %q", m)
			}
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestValidPushMediaType(t *testing.T) {
	tests := map[string]bool{
		"application/vnd.oci.image.manifest.v1+json":                true,
		"application/vnd.docker.distribution.manifest.list.v2+json": true,
		"application/vnd.dev.cosign.artifact.sig.v1+json":           true,
		"text/plain; charset=utf-8":                                 false,
		"application/":                                              false,
		"/json":                                                     false,
		"application":                                               false,
		"a/b/c":                                                     false,
		"a/b\n":                                                     false,
		".a/b":                                                      false,
		"a/" + strings.Repeat("b", 128):                             false,
	}
	for in, want := range tests {
		if got := validPushMediaType(in); got != want {
			t.Errorf("validPushMediaType(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestPushTruncateKeepsRunesWhole(t *testing.T) {
	s := strings.Repeat("é", 10) // 2 bytes each
	got := pushTruncate(s, 5)
	if got != "éé" {
		t.Errorf("pushTruncate = %q, want %q", got, "éé")
	}
	if q := pushQuote(strings.Repeat("\n", 1000)); len(q) > 3*pushMaxEcho || strings.Contains(q, "\n") {
		t.Errorf("pushQuote of a long control string = %d bytes, raw newline %v", len(q), strings.Contains(q, "\n"))
	}
}

// addFiles seeds f with every file matching pattern. (The events package's
// own tests cannot use testkit.Files: the kit imports events.)
func addFiles(f *testing.F, pattern string) {
	names, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
