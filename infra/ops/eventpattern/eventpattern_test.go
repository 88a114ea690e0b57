package eventpattern

import (
	"strings"
	"testing"
)

// TestPatternMatchesLikeEventBridge plays matchCases (cases_test.go): what
// the EventBridge user guide and aws/event-ruler's tests say a pattern does.
func TestPatternMatchesLikeEventBridge(t *testing.T) {
	if len(matchCases) < 40 {
		t.Fatalf("%d cases; the table is meant to hold at least 40", len(matchCases))
	}
	seen := map[string]bool{}
	for _, tc := range matchCases {
		if seen[tc.name] || tc.source == "" {
			t.Fatalf("case %q: names must be unique and every case must cite its source", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatalf("Compile: %v (source: %s)", err, tc.source)
			}
			got, err := p.Match([]byte(tc.event))
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tc.want {
				t.Errorf("Match = %v, want %v\npattern %s\nevent   %s\nsource  %s", got, tc.want, tc.pattern, tc.event, tc.source)
			}
		})
	}
}

// TestPatternRefusesWhatItCannotMatch: what EventBridge refuses when a
// pattern is created, and the operators this matcher does not implement,
// fail Compile with an error naming the problem.
func TestPatternRefusesWhatItCannotMatch(t *testing.T) {
	const (
		compiler = ruler + "JsonRuleCompilerTest.java — "
		source   = "aws/event-ruler src/main/software/amazon/event/ruler/JsonRuleCompiler.java — "
	)
	tests := []struct {
		name, source, pattern, wantErr string
	}{
		{"top level is not an object", compiler + "testCompile", `[1,2,3]`, "must be a JSON object"},
		{"not json", docSyntax, `{`, "event pattern"},
		{"empty pattern", compiler + "testCompile (empty objects)", `{}`, "empty objects are not allowed"},
		{"empty nested object", compiler + "testCompile", `{"foo":{}}`, "foo: empty objects are not allowed"},
		{"empty value array", compiler + "testCompile", `{"foo":[]}`, "foo: empty arrays are not allowed"},
		{"leaf is not an array", compiler + "testCompile", `{"a":1}`, "a: must be an object or an array"},
		{"leaf is a string", docValues, `{"detail":{"state":"terminated"}}`, "detail.state: must be an object or an array"},
		{"nested array value", source + "writeRules (a match value must be a string, number, true, false or null)", `{"a":[["x"]]}`, "a: a value must be"},
		{"operator object without a key", source + "processMatchExpression (match expression name not found)", `{"a":[{}]}`, "exactly one key, has 0"},
		{"operator object with two keys", compiler + "testCompile (bad patterns)", `{"a":[{"prefix":"child","foo":[]}]}`, "exactly one key, has 2"},
		{"exists with an extra key", compiler + "testExistsExpression", `{"x":[{"exists":true,"extraKey":"extraValue"}]}`, "exactly one key"},
		{"prefix wants a string", compiler + "testCompile (bad patterns)", `{"a":[{"prefix":3}]}`, "a: prefix wants a string"},
		{"exists wants a boolean", compiler + "testExistsExpression", `{"x":[{"exists":"badString"}]}`, "x: exists wants true or false"},
		{"unrecognized operator", compiler + "testCompile (array values must be primitives)", `{"a":[{"x":2}]}`, `unrecognized operator "x"`},
		// EventBridge operators this matcher does not implement: refused, never guessed.
		{"numeric is not supported", docPrefix, `{"n":[{"numeric":[">",1]}]}`, `operator "numeric" is not supported`},
		{"anything-but is not supported", docPrefix, `{"s":[{"anything-but":"x"}]}`, `operator "anything-but" is not supported`},
		{"suffix is not supported", docPrefix, `{"s":[{"suffix":".png"}]}`, `operator "suffix" is not supported`},
		{"equals-ignore-case is not supported", docPrefix, `{"s":[{"equals-ignore-case":"x"}]}`, `operator "equals-ignore-case" is not supported`},
		{"cidr is not supported", docPrefix, `{"ip":[{"cidr":"10.0.0.0/24"}]}`, `operator "cidr" is not supported`},
		{"wildcard is not supported", docPrefix, `{"f":[{"wildcard":"dir/*.png"}]}`, `operator "wildcard" is not supported`},
		{"prefix equals-ignore-case is not supported", docPrefix, `{"s":[{"prefix":{"equals-ignore-case":"x"}}]}`, "prefix with equals-ignore-case is not supported"},
		{"$or is not supported", docPrefix, `{"$or":[{"a":["x"]},{"b":["y"]}]}`, "$or is not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]byte(tc.pattern))
			if err == nil {
				t.Fatalf("Compile accepted %s (source: %s)", tc.pattern, tc.source)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Compile error %q does not say %q", err, tc.wantErr)
			}
		})
	}
}

func TestMatchRefusesAnEventThatIsNotAnObject(t *testing.T) {
	p, err := Compile([]byte(`{"a":["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{`["x"]`, `"x"`, `{`} {
		if _, err := p.Match([]byte(ev)); err == nil {
			t.Errorf("Match(%s) gave no error", ev)
		}
	}
}
