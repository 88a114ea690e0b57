package queue

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// A reason quoting a scanner's output (terminal escapes, a NUL, invalid
// UTF-8) is parked with those characters replaced: SQS refuses a message
// whose attribute holds a character outside its set, which would leave the
// message unparked. The body, which SQS already accepted, is sent as it is.
func TestParkReplacesCharactersSQSRefuses(t *testing.T) {
	f := &fakeSender{}
	d, err := NewDeadLetters(f, "url")
	if err != nil {
		t.Fatal(err)
	}
	body := "{\"tab\":\"\t\",\"emoji\":\"🙂\"}"
	if err := d.Park(context.Background(), "m-1", body, "qscanner: \x1b[31mfatal\x1b[0m\x00 bad \x80 \ufffe ok\ttab\nline 🙂"); err != nil {
		t.Fatal(err)
	}
	in := f.in
	got := aws.ToString(in.MessageAttributes["failure_reason"].StringValue)
	if want := "qscanner: \ufffd[31mfatal\ufffd[0m\ufffd bad \ufffd \ufffd ok\ttab\nline 🙂"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if aws.ToString(in.MessageBody) != body {
		t.Errorf("body %q changed", aws.ToString(in.MessageBody))
	}
	if strings.ContainsRune(got, 0x1b) {
		t.Error("escape kept")
	}
}
