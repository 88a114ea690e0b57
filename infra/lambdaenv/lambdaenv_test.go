package lambdaenv

import (
	"strings"
	"testing"
	"time"
)

func TestEnvCollectsEveryProblem(t *testing.T) {
	env := FromMap(map[string]string{
		"DAYS":    "zero",
		"ALERTS":  "maybe",
		"TIMEOUT": "-1s",
		"LIST":    " a, ,b ",
		"NAME":    "  x ",
	})
	if got := env.Required("MISSING"); got != "" {
		t.Errorf("Required(MISSING) = %q", got)
	}
	if got := env.Int("DAYS", 30); got != 30 {
		t.Errorf("Int(DAYS) = %d, want default 30", got)
	}
	if got := env.Bool("ALERTS", true); !got {
		t.Errorf("Bool(ALERTS) = false, want default true")
	}
	if got := env.Duration("TIMEOUT", time.Minute); got != time.Minute {
		t.Errorf("Duration(TIMEOUT) = %v, want default", got)
	}
	if got := env.List("LIST", nil); strings.Join(got, "|") != "a|b" {
		t.Errorf("List(LIST) = %q", got)
	}
	if got := env.String("NAME", "d"); got != "x" {
		t.Errorf("String(NAME) = %q", got)
	}
	err := env.Err()
	if err == nil {
		t.Fatal("Err() = nil, want four problems")
	}
	for _, want := range []string{"MISSING is required", "DAYS", "ALERTS", "TIMEOUT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %q, missing %q", err, want)
		}
	}
}

func TestEnvDefaultsWhenUnset(t *testing.T) {
	env := FromMap(nil)
	if env.Int("N", 3) != 3 || !env.Bool("B", true) || env.String("S", "s") != "s" || env.Duration("D", time.Second) != time.Second {
		t.Error("defaults not returned for unset variables")
	}
	if err := env.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

func TestDurations(t *testing.T) {
	env := FromMap(map[string]string{"OK": "1m, 5m", "BAD": "1m,soon"})
	if got := env.Durations("OK", nil); len(got) != 2 || got[1] != 5*time.Minute {
		t.Errorf("Durations(OK) = %v", got)
	}
	def := []time.Duration{time.Second}
	if got := env.Durations("UNSET", def); len(got) != 1 || got[0] != time.Second {
		t.Errorf("Durations(UNSET) = %v", got)
	}
	if got := env.Durations("BAD", def); got[0] != time.Second || env.Err() == nil || !strings.Contains(env.Err().Error(), "soon") {
		t.Errorf("Durations(BAD) = %v, err %v", got, env.Err())
	}
}
