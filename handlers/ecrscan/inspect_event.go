package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"ecrscanner/events"
)

// Exit codes of inspect-event, so scripts can tell the outcomes apart.
const (
	inspectEventScan    = 0 // the event asks for a scan; the request is on stdout
	inspectEventInvalid = 2 // invalid event, unreadable input or bad usage
	inspectEventSkip    = 3 // a valid event that asks for no scan
)

// inspectEventStdin is where "-" reads from; tests replace it.
var inspectEventStdin io.Reader = os.Stdin

func init() {
	register("inspect-event", command{
		usage: "decode an ECR push event (FILE, or - for stdin) into its scan request",
		run:   runInspectEvent,
	})
}

// inspectedEvent is the scan request as inspect-event prints it: flat, with
// every key always present so that jq filters need no defaults.
type inspectedEvent struct {
	Registry          string `json:"registry"`
	Repository        string `json:"repository"`
	Digest            string `json:"digest"`
	Tag               string `json:"tag"`
	Trigger           string `json:"trigger"`
	Account           string `json:"account"`
	Region            string `json:"region"`
	EventID           string `json:"eventId"`
	EventTime         string `json:"eventTime"`
	Image             string `json:"image"`
	MediaType         string `json:"mediaType"`
	ArtifactMediaType string `json:"artifactMediaType"`
}

func runInspectEvent(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintln(stderr, "ecrscan inspect-event: "+inspectEventLine(fmt.Sprintf(format, a...)))
		return code
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stderr, "usage: ecrscan inspect-event FILE\n\n"+
			"Decodes an EventBridge event as the scan queue receives it (ECR Image Action,\n"+
			"or CloudTrail PutImage) the way the scan function does. FILE - reads stdin.\n"+
			"Exit 0: prints the scan request as one JSON object. Exit 3: a valid event that\n"+
			"asks for no scan, reason on stderr. Exit 2: an invalid event or unreadable FILE.")
		return 0
	}
	if len(args) != 1 {
		return fail(inspectEventInvalid, "want exactly one FILE argument (or -), got %d; see ecrscan inspect-event -h", len(args))
	}
	body, err := readInspectEventInput(args[0])
	if err != nil {
		return fail(inspectEventInvalid, "%v", err)
	}
	req, err := events.DecodePush(body)
	var skip *events.SkipError
	switch {
	case errors.As(err, &skip):
		return fail(inspectEventSkip, "%v", err)
	case err != nil:
		return fail(inspectEventInvalid, "%v", err)
	}
	r := req.Ref
	out, err := json.Marshal(inspectedEvent{
		Registry:          r.Registry(),
		Repository:        r.Repository,
		Digest:            r.Digest.String(),
		Tag:               r.Tag,
		Trigger:           string(req.Trigger),
		Account:           r.Account,
		Region:            r.Region,
		EventID:           req.EventID,
		EventTime:         req.EventTime.UTC().Format(time.RFC3339Nano),
		Image:             r.Name(),
		MediaType:         req.MediaType,
		ArtifactMediaType: req.ArtifactMediaType,
	})
	if err != nil {
		return fail(inspectEventInvalid, "encode scan request: %v", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", out); err != nil {
		return fail(inspectEventInvalid, "write scan request: %v", err)
	}
	return inspectEventScan
}

// readInspectEventInput reads at most one byte more than DecodePush accepts,
// so a huge file is refused by size without being read whole.
func readInspectEventInput(name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = inspectEventStdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	body, err := io.ReadAll(io.LimitReader(r, events.MaxEventSize+1))
	if err != nil && name == "-" {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return body, err // an *os.PathError names the file itself
}

// inspectEventLine keeps a message on one line: file names and OS errors
// come from outside and may hold anything.
func inspectEventLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
