// Package lambdaenv reads a function's configuration from its environment and
// collects every problem, so a misconfigured function fails at start-up with
// one message listing all of them rather than one at a time.
package lambdaenv

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads variables through Lookup (os.LookupEnv by default).
type Env struct {
	Lookup func(string) (string, bool)
	errs   []error
}

// New reads the process environment.
func New() *Env { return &Env{Lookup: os.LookupEnv} }

// FromMap reads a fixed map, for tests and local runs.
func FromMap(m map[string]string) *Env {
	return &Env{Lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func (e *Env) get(name string) (string, bool) {
	v, ok := e.Lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// Required returns the variable's value, noting an error if it is unset.
func (e *Env) Required(name string) string {
	v, ok := e.get(name)
	if !ok {
		e.errs = append(e.errs, fmt.Errorf("%s is required", name))
	}
	return v
}

// String returns the variable's value or def.
func (e *Env) String(name, def string) string {
	if v, ok := e.get(name); ok {
		return v
	}
	return def
}

// Int returns the variable as a positive integer, or def.
func (e *Env) Int(name string, def int) int {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive integer", name, v))
		return def
	}
	return n
}

// Bool returns the variable as a boolean (true/false/1/0/yes/no), or def.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true
	case "false", "0", "no":
		return false
	}
	e.errs = append(e.errs, fmt.Errorf("%s=%q: want true or false", name, v))
	return def
}

// Duration returns the variable as a Go duration, or def.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive duration such as 30s", name, v))
		return def
	}
	return d
}

// List returns a comma-separated variable as a list, or def.
func (e *Env) List(name string, def []string) []string {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Check records err (if not nil) as a configuration problem.
func (e *Env) Check(err error) {
	if err != nil {
		e.errs = append(e.errs, err)
	}
}

// Err returns every problem noted so far, joined, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
}

// Durations returns a comma-separated list of positive durations, or def.
func (e *Env) Durations(name string, def []time.Duration) []time.Duration {
	raw := e.List(name, nil)
	if raw == nil {
		return def
	}
	out := make([]time.Duration, 0, len(raw))
	for _, r := range raw {
		d, err := time.ParseDuration(r)
		if err != nil || d <= 0 {
			e.errs = append(e.errs, fmt.Errorf("%s: %q is not a positive duration such as 5m", name, r))
			return def
		}
		out = append(out, d)
	}
	return out
}
