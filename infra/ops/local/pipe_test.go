package local_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/stack"
)

// templateWith is the project's template with old replaced by new (once).
func templateWith(t *testing.T, old, new string) *stack.Template {
	t.Helper()
	body := string(stack.Body())
	if strings.Count(body, old) != 1 {
		t.Fatalf("the template has %d copies of %q", strings.Count(body, old), old)
	}
	tpl, err := stack.Parse([]byte(strings.Replace(body, old, new, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestCheckPipeSpecAcceptsTheTemplate(t *testing.T) {
	tpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := tpl.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := local.CheckPipeSpec(spec); err != nil {
		t.Fatal(err)
	}
}

// A copy of the template with what the Pipe used to say (a filter on
// eventName, DetailType $.detailType) does not start: AWS would not filter or
// set the detail-type that way.
func TestCheckPipeSpecRefusesWhatAWSRefuses(t *testing.T) {
	const filter = `- Pattern: '{"dynamodb":{"NewImage"`
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{
			name: "a filter on eventName", old: filter, new: `- Pattern: '{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage"`,
			want: []string{`filter 0 uses the key "eventName"`, "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html", "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-event-filtering.html"},
		},
		{
			name: "a filter on the record's source", old: filter, new: `- Pattern: '{"eventSourceARN":[{"prefix":"arn:"}],"dynamodb":{"NewImage"`,
			want: []string{`uses the key "eventSourceARN"`},
		},
		{
			name: "a detail-type read from the enriched event", old: "DetailType: Image Scan Event", new: "DetailType: $.detailType",
			want: []string{`target DetailType "$.detailType" is a dynamic path`, "supports only static values", "not the enrichment's output", "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-event-target.html"},
		},
		{
			name: "a dynamic source", old: "Source: ecr-image-scanner\n", new: "Source: $.source\n",
			want: []string{`target Source "$.source" is a dynamic path`},
		},
		{
			name: "no detail-type", old: "DetailType: Image Scan Event", new: "DetailType: ''",
			want: []string{"target DetailType is empty"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := templateWith(t, tc.old, tc.new).Pipe()
			if err != nil {
				t.Fatal(err)
			}
			err = local.CheckPipeSpec(spec)
			if err == nil {
				t.Fatalf("the Pipe of a template with %q starts", tc.new)
			}
			for _, w := range append(tc.want, "pipe ScanEventsPipe") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A Pipe built by hand with a dynamic detail-type does not run either.
func TestPipeRunRefusesADynamicDetailType(t *testing.T) {
	p := &local.Pipe{Source: "ecr-image-scanner", DetailType: "$.detailType", Logger: slog.New(slog.DiscardHandler)}
	err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "supports only static values") {
		t.Fatalf("Run = %v, want a refusal of the dynamic path", err)
	}
}

// A filter that is not a JSON object is refused with the Pipe and filter named.
func TestCheckPipeSpecRefusesAFilterThatIsNoObject(t *testing.T) {
	err := local.CheckPipeSpec(stack.PipeSpec{LogicalID: "P", Filters: []string{`{"dynamodb":{}}`, `["dynamodb"]`}, Source: "s", DetailType: "d"})
	if err == nil || !strings.Contains(err.Error(), "pipe P: filter 1 is not a JSON object") {
		t.Fatalf("error %v", err)
	}
}
