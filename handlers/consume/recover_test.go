package consume_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"ecrscanner/handlers/consume"
)

func TestRecover(t *testing.T) {
	plain := errors.New("S3 unavailable")
	tests := []struct {
		name      string
		handler   consume.Handler
		permanent bool
		msg       []string // parts the error must contain
		same      error    // the error must be this one, untouched
	}{
		{
			name:      "panic with a string",
			handler:   func(context.Context, consume.Message) error { panic("boom") },
			permanent: true,
			msg:       []string{"panic handling message m7: boom", "recover_test.go"},
		},
		{
			name: "panic with an error",
			handler: func(context.Context, consume.Message) error {
				var m map[string]int
				m["x"]++ // assignment to entry in nil map
				return nil
			},
			permanent: true,
			msg:       []string{"panic handling message m7:", "nil map"},
		},
		{
			name:      "panic with nil",
			handler:   func(context.Context, consume.Message) error { panic(nil) },
			permanent: true,
			msg:       []string{"panic handling message m7:", "nil"},
		},
		{
			name:    "an error passes untouched",
			handler: func(context.Context, consume.Message) error { return plain },
			same:    plain,
		},
		{
			name:    "success",
			handler: func(context.Context, consume.Message) error { return nil },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := consume.Recover()(tc.handler)(context.Background(), consume.Message{ID: "m7", Body: "{}"})
			if consume.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent %v, want %v (error %v)", consume.IsPermanent(err), tc.permanent, err)
			}
			if tc.same != nil && err != tc.same {
				t.Errorf("error %v, want the handler's own", err)
			}
			if len(tc.msg) == 0 && tc.same == nil && err != nil {
				t.Errorf("error %v, want none", err)
			}
			for _, part := range tc.msg {
				if err == nil || !strings.Contains(err.Error(), part) {
					t.Errorf("error %v does not say %q", err, part)
				}
			}
		})
	}
}

// A poison message fails alone: the rest of its batch is still handled.
func TestRecoverKeepsTheBatchGoing(t *testing.T) {
	var handled []string
	h := func(_ context.Context, m consume.Message) error {
		handled = append(handled, m.ID)
		if m.Body == "poison" {
			panic("nil pointer dereference")
		}
		return nil
	}
	var errs []error
	record := func(next consume.Handler) consume.Handler {
		return func(ctx context.Context, m consume.Message) error {
			err := next(ctx, m)
			errs = append(errs, err)
			return err
		}
	}
	resp, err := consume.Batch(consume.Chain(h, record, consume.Recover()))(context.Background(), sqsEvent("ok", "poison", "ok"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(handled, ","); got != "m1,m2,m3" {
		t.Errorf("handled %s, want m1,m2,m3", got)
	}
	if got := strings.Join(failedIDs(resp), ","); got != "m2" {
		t.Errorf("failed %q, want only m2", got)
	}
	if len(errs) != 3 || errs[0] != nil || !consume.IsPermanent(errs[1]) || errs[2] != nil {
		t.Errorf("outcomes %v, want nil, a permanent error, nil", errs)
	}
}
