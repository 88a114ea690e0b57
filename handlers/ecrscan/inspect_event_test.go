package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const inspectEventFixtures = "../../testdata/events"

func runInspectEventCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"inspect-event"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// assertInspectEventOneLine checks that s is exactly one newline-terminated line.
func assertInspectEventOneLine(t *testing.T, what, s string) {
	t.Helper()
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("%s is not exactly one line: %q", what, s)
	}
}

func TestInspectEventFixtures(t *testing.T) {
	const (
		digest   = "sha256:f76b46650a2fc9cef63a3f61ad4eb4a5fc504d24f1ed29345a7542add8b06a12"
		untagged = "sha256:e30c938c5da87410b60fc30e33e45b61c60bf8797248861e20f0a5ce51c2d012"
		registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	)
	request := func(trigger, id, at, dgst, tag, media, artifact string) map[string]any {
		return map[string]any{
			"registry": registry, "repository": "team-a/payments-api", "digest": dgst, "tag": tag,
			"trigger": trigger, "account": "123456789012", "region": "us-east-1",
			"eventId": id, "eventTime": at,
			"image":     registry + "/team-a/payments-api@" + dgst,
			"mediaType": media, "artifactMediaType": artifact,
		}
	}
	tests := []struct {
		file   string
		code   int
		want   map[string]any // the JSON object on stdout, for code 0
		stderr string         // a part of the stderr line, for other codes
	}{
		{file: "ecr-image-action-push.json", code: 0, want: request("ecr-image-action", "5b4b2fd6-98d2-4d1d-9cf5-63ebcdc90922",
			"2025-11-20T14:03:27Z", digest, "v1.4.2", "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json")},
		{file: "ecr-image-action-push-untagged.json", code: 0, want: request("ecr-image-action", "3ee5a907-60dc-445f-a40c-089f506080ac",
			"2025-11-20T14:03:25Z", untagged, "", "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.container.image.v1+json")},
		{file: "cloudtrail-putimage.json", code: 0, want: request("cloudtrail-putimage", "acfca11d-14a3-4453-b043-0e9279ecd41b",
			"2025-11-20T14:03:27Z", digest, "v1.4.2", "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json")},
		{file: "ecr-image-action-push-failure.json", code: 3, stderr: `not scanned: push result "FAILURE" is not SUCCESS`},
		{file: "ecr-image-action-delete.json", code: 3, stderr: `not scanned: action-type "DELETE" is not PUSH`},
		{file: "cloudtrail-putimage-error.json", code: 3, stderr: `errorCode "ImageAlreadyExistsException"`},
		{file: "cloudtrail-batchdeleteimage.json", code: 3, stderr: `eventName "BatchDeleteImage"`},
		{file: "ecr-invalid-repository-traversal.json", code: 2, stderr: `invalid repository "../../etc"`},
		{file: "ecr-invalid-tag-shell.json", code: 2, stderr: `invalid tag "v1;rm -rf /"`},
		{file: "ecr-invalid-tag-huge.json", code: 2, stderr: "invalid tag"},
		{file: "ecr-invalid-digest-uppercase-hex.json", code: 2, stderr: "invalid digest"},
		{file: "ecr-invalid-id-newline.json", code: 2, stderr: `id "5b4b2fd6\nFAKE`},
		{file: "ecr-invalid-detail-string.json", code: 2, stderr: "detail: got JSON string, want object"},
		{file: "ecr-invalid-empty.json", code: 2, stderr: "empty body"},
		{file: "ecr-invalid-not-json.json", code: 2, stderr: "not JSON"},
		{file: "cloudtrail-invalid-tag-subshell.json", code: 2, stderr: `invalid tag "$(curl`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			code, stdout, stderr := runInspectEventCLI(t, filepath.Join(inspectEventFixtures, tt.file))
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if tt.code != 0 {
				if stdout != "" {
					t.Errorf("stdout = %q, want nothing", stdout)
				}
				assertInspectEventOneLine(t, "stderr", stderr)
				if !strings.HasPrefix(stderr, "ecrscan inspect-event: ") || !strings.Contains(stderr, tt.stderr) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, tt.stderr)
				}
				if len(stderr) > 600 {
					t.Errorf("stderr is %d bytes long", len(stderr))
				}
				return
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			assertInspectEventOneLine(t, "stdout", stdout)
			var got map[string]any
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout is not a JSON object: %v: %q", err, stdout)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("stdout =\n %v\nwant\n %v", got, tt.want)
			}
		})
	}
}

func TestInspectEventReadsStdin(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(inspectEventFixtures, "cloudtrail-putimage-untagged.json"))
	if err != nil {
		t.Fatal(err)
	}
	old := inspectEventStdin
	t.Cleanup(func() { inspectEventStdin = old })
	inspectEventStdin = bytes.NewReader(body)

	code, stdout, stderr := runInspectEventCLI(t, "-")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var got struct {
		Tag     *string `json:"tag"`
		Digest  string  `json:"digest"`
		Trigger string  `json:"trigger"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Tag == nil || *got.Tag != "" {
		t.Errorf("tag = %v, want present and empty for an untagged push", got.Tag)
	}
	if got.Digest != "sha256:e30c938c5da87410b60fc30e33e45b61c60bf8797248861e20f0a5ce51c2d012" || got.Trigger != "cloudtrail-putimage" {
		t.Errorf("digest, trigger = %q, %q", got.Digest, got.Trigger)
	}
}

func TestInspectEventUsageAndInputErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	// Valid JSON that is too big: refused for its size, not its content.
	if err := os.WriteFile(big, append([]byte(`{"a":"`), append(bytes.Repeat([]byte("x"), 300<<10), `"}`...)...), 0o600); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "no\nsuch.json")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "no argument", args: nil, code: 2, stderr: "want exactly one FILE"},
		{name: "two arguments", args: []string{"a.json", "b.json"}, code: 2, stderr: "want exactly one FILE"},
		{name: "missing file", args: []string{filepath.Join(dir, "missing.json")}, code: 2, stderr: "no such file"},
		{name: "file name with a newline", args: []string{odd}, code: 2, stderr: "no such file"},
		{name: "directory", args: []string{dir}, code: 2, stderr: "is a directory"},
		{name: "oversized file", args: []string{big}, code: 2, stderr: "exceeds"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "usage: ecrscan inspect-event FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runInspectEventCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.stderr)
			}
			if tt.code != 0 {
				assertInspectEventOneLine(t, "stderr", stderr)
			}
		})
	}
}

func TestInspectEventIsListed(t *testing.T) {
	var out, errOut bytes.Buffer
	run([]string{"help"}, &out, &errOut)
	if !strings.Contains(errOut.String(), "inspect-event") {
		t.Errorf("usage does not list inspect-event:\n%s", errOut.String())
	}
}
