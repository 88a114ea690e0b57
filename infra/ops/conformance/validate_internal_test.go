package conformance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Where each failure of the validator's own run ends up: in the error
// Validate returns (and Check fails the test with), naming the cause.
func TestValidatorRunErrors(t *testing.T) {
	t.Run("no virtualenv", func(t *testing.T) {
		_, _, err := pythonIn(t.TempDir())
		if !errors.Is(err, ErrNoPython) || !strings.Contains(err.Error(), "make venv") {
			t.Errorf("pythonIn = %v, want ErrNoPython telling how to make one", err)
		}
	})
	interp, script, err := python()
	if errors.Is(err, ErrNoPython) && !inCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	reqs := []Request{{Service: "sns", Method: "POST", Path: "/", Body: []byte("Action=Publish&Message=m")}}
	t.Run("the script fails", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.py")
		if err := os.WriteFile(bad, []byte("raise SystemExit('model store unreadable')\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := validateWith(interp, bad, reqs)
		if err == nil || !strings.Contains(err.Error(), "model store unreadable") {
			t.Errorf("validateWith = %v, want the script's last words", err)
		}
	})
	t.Run("the script judges too few", func(t *testing.T) {
		short := filepath.Join(t.TempDir(), "short.py")
		if err := os.WriteFile(short, []byte("print('[]')\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := validateWith(interp, short, reqs); err == nil || !strings.Contains(err.Error(), "judged 0 of 1") {
			t.Errorf("validateWith = %v, want the count mismatch", err)
		}
	})
	t.Run("an unreadable request is a result, not a crash", func(t *testing.T) {
		got, err := validateWith(interp, script, []Request{{Service: "sns", Method: "POST", Path: "/", Body: []byte("Version=1")}})
		if err != nil || len(got) != 1 || !strings.Contains(strings.Join(got[0].Errors, ""), "unreadable request") {
			t.Errorf("validateWith = %+v, %v; want one result saying the request is unreadable", got, err)
		}
	})
}
