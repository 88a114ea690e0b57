package eventpattern

import "testing"

// The cases pin the local matcher to EventBridge's documented pattern
// semantics for the operators the template uses.
func TestPatternMatchesLikeEventBridge(t *testing.T) {
	const pipeFilter = `{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"event":{"M":{"type":{"S":["ScanCompleted","ImageReferenced","ScanFailed"]}}}}}}`
	tests := []struct {
		name    string
		pattern string
		event   string
		want    bool
	}{
		{"pipe filter: completed insert", pipeFilter, `{"eventName":"INSERT","dynamodb":{"NewImage":{"event":{"M":{"type":{"S":"ScanCompleted"}}}}}}`, true},
		{"pipe filter: modify to referenced", pipeFilter, `{"eventName":"MODIFY","dynamodb":{"NewImage":{"event":{"M":{"type":{"S":"ImageReferenced"}}}}}}`, true},
		{"pipe filter: bookkeeping event dropped", pipeFilter, `{"eventName":"MODIFY","dynamodb":{"NewImage":{"event":{"M":{"type":{"S":"ScanStarted"}}}}}}`, false},
		{"pipe filter: TTL removal dropped", pipeFilter, `{"eventName":"REMOVE","dynamodb":{"OldImage":{"event":{"M":{"type":{"S":"ScanCompleted"}}}}}}`, false},
		{"pipe filter: missing field fails", pipeFilter, `{"eventName":"INSERT","dynamodb":{"NewImage":{}}}`, false},
		{"literal is case-sensitive", `{"a":["x"]}`, `{"a":"X"}`, false},
		{"extra event fields are ignored", `{"a":["x"]}`, `{"a":"x","b":1}`, true},
		{"array in the event matches any element", `{"a":["x"]}`, `{"a":["y","x"]}`, true},
		{"numbers compare by value", `{"n":[5]}`, `{"n":5.0}`, true},
		{"string is not a number", `{"n":[5]}`, `{"n":"5"}`, false},
		{"prefix", `{"s":[{"prefix":"Scan"}]}`, `{"s":"ScanFailed"}`, true},
		{"prefix mismatch", `{"s":[{"prefix":"Scan"}]}`, `{"s":"ImageReferenced"}`, false},
		{"exists true", `{"s":[{"exists":true}]}`, `{"s":"v"}`, true},
		{"exists true on missing", `{"s":[{"exists":true}]}`, `{}`, false},
		{"exists false on missing", `{"s":[{"exists":false}]}`, `{}`, true},
		{"null literal", `{"s":[null]}`, `{"s":null}`, true},
		{"object pattern against scalar", `{"s":{"t":["x"]}}`, `{"s":"x"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Match([]byte(tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPatternRefusesWhatItCannotMatch(t *testing.T) {
	for name, src := range map[string]string{
		"unsupported operator": `{"n":[{"numeric":[">",1]}]}`,
		"scalar value":         `{"a":"x"}`,
		"not json":             `{`,
		"bad prefix":           `{"a":[{"prefix":1}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Compile([]byte(src)); err == nil {
				t.Error("Compile accepted it")
			}
		})
	}
}
