package local_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/local"
	"ecrscanner/infra/ops/mototest"
	"ecrscanner/infra/ops/stack"
)

// TestRoleMissingActionFails deploys the template with one action removed
// from one role — $ECRSCAN_DROP_ACTION, "RoleLogicalID:service:Action",
// ArchiveRole:s3:PutObject by default — pushes an image, and checks that
// the run fails where that role is used: a request of the function (or its
// queue poller, or the Pipe) that has the role is refused with AccessDenied
// naming the action, and no other role is refused anything. With the
// unmodified template the other end-to-end tests pass under the same
// enforcement, so every action a role needs for a push is one it has.
//
//	ECRSCAN_DROP_ACTION=ScanRole:dynamodb:PutItem ECRSCAN_BUILD_CACHE=shared \
//	  go test ./infra/ops/local -run TestRoleMissingActionFails -count=1 -v
func TestRoleMissingActionFails(t *testing.T) {
	spec := os.Getenv(local.DropActionEnv)
	if spec == "" {
		spec = "ArchiveRole:s3:PutObject"
	}
	roleID, action, _ := strings.Cut(spec, ":")
	tmpl, err := stack.Load()
	if err != nil {
		t.Fatal(err)
	}
	users := roleUsers(t, tmpl, roleID)
	log := &refusals{by: map[string][]string{}}
	e, _ := startE2E(t, func(reg *local.Registry, client *ecr.Client) domain.ImageRef {
		ref, err := reg.PushSample(context.Background(), client, local.Account, local.Region, mototest.UniqueName("iam/unused"), "v1")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}, func(o *local.PipelineOptions) {
		o.DropAction = spec
		o.Logger = slog.New(slog.NewTextHandler(log, nil))
		output, result := o.Output, o.OnResult
		o.Output = func(fn, line string) { log.add(fn, line); output(fn, line) }
		o.OnResult = func(fn string, received, failed int, took time.Duration, err error) {
			if err != nil {
				log.add(fn, err.Error())
			}
			result(fn, received, failed, took, err)
		}
	})
	ref, err := e.reg.PushSample(e.ctx, e.ecr, local.Account, local.Region, mototest.UniqueName("iam/app"), "v1")
	if err != nil {
		t.Fatal(err)
	}
	e.push(ref)
	took := e.eventually("AccessDenied for "+action+" in "+strings.Join(users, " or "), 60*time.Second, func() bool {
		return len(log.denied(users, action)) > 0
	})
	t.Logf("%s refused after %v: %s", spec, took.Round(time.Millisecond), log.denied(users, action)[0])
	// Where the message ends: a handler that fails it sees it again until
	// its queue's redrive moves it to the DLQ (or it parks it there itself).
	if dlqs := userDLQs(tmpl, users); len(dlqs) > 0 {
		deadline := time.Now().Add(45 * time.Second)
		for parked := ""; parked == "" && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			for _, q := range dlqs {
				if n, err := e.obs.QueueDepth(e.ctx, q); err == nil && n > 0 {
					parked = q
					t.Logf("the message ended in %s", q)
				}
			}
		}
	}
	for who, lines := range log.snapshot() {
		if !contains(users, who) && len(deniedLines(lines, "")) > 0 {
			t.Errorf("%s, which does not have %s, was refused too: %s", who, roleID, deniedLines(lines, "")[0])
		}
	}
	for _, q := range tmpl.Queues() {
		if q.IsDLQ || q.IsDeliveryDLQ {
			if n, err := e.obs.QueueDepth(e.ctx, q.LogicalID); err == nil && n > 0 {
				t.Logf("%s holds %d message(s)", q.LogicalID, n)
			}
		}
	}
}

// userDLQs are the dead-letter queues of the queues feeding users, and the
// Pipe's.
func userDLQs(tmpl *stack.Template, users []string) []string {
	dlq := map[string]string{}
	for _, q := range tmpl.Queues() {
		dlq[q.LogicalID] = q.DLQ
	}
	var out []string
	for _, m := range tmpl.EventSourceMappings() {
		if contains(users, m.Function) && dlq[m.Queue] != "" {
			out = append(out, dlq[m.Queue])
		}
	}
	if spec, err := tmpl.Pipe(); err == nil && contains(users, "pipe") && spec.DeadLetterQueue != "" {
		out = append(out, spec.DeadLetterQueue)
	}
	return out
}

// roleUsers are who runs with a role: the functions whose execution role it
// is, or "pipe" for the Pipe's role.
func roleUsers(t *testing.T, tmpl *stack.Template, roleID string) []string {
	t.Helper()
	var users []string
	for _, f := range tmpl.Functions() {
		if f.Role == roleID {
			users = append(users, f.LogicalID)
		}
	}
	if spec, err := tmpl.Pipe(); err == nil {
		if arn, ok := tmpl.Resources[spec.LogicalID].Properties["RoleArn"].(map[string]any); ok {
			if l, ok := arn["Fn::GetAtt"].([]any); ok && len(l) > 0 && l[0] == roleID {
				users = append(users, "pipe")
			}
		}
	}
	if len(users) == 0 {
		t.Fatalf("no function or pipe of the template runs with %s", roleID)
	}
	sort.Strings(users)
	return users
}

// refusals collects, by who said it, the lines of a run: functions' output
// and invocation errors, and the runner's own log (the Pipe's lines begin
// "pipe:", a poller's name its function).
type refusals struct {
	mu sync.Mutex
	by map[string][]string
}

var pollerFunction = regexp.MustCompile(`function=(\w+)`)

// Write takes the runner's slog lines.
func (r *refusals) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		who := "runner"
		if strings.Contains(line, `msg="pipe:`) {
			who = "pipe"
		} else if m := pollerFunction.FindStringSubmatch(line); m != nil {
			who = m[1]
		}
		r.add(who, line)
	}
	return len(p), nil
}

func (r *refusals) add(who, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.by[who] = append(r.by[who], line)
}

func (r *refusals) snapshot() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]string, len(r.by))
	for k, v := range r.by {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// denied returns the refusals of action in the lines of users.
func (r *refusals) denied(users []string, action string) []string {
	var out []string
	for who, lines := range r.snapshot() {
		if contains(users, who) {
			out = append(out, deniedLines(lines, action)...)
		}
	}
	return out
}

// deniedLines are the lines reporting AccessDenied, for action if given. moto
// names the action in its message except for S3, whose AccessDenied says only
// "Access Denied", as S3's does.
func deniedLines(lines []string, action string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, "AccessDenied") {
			continue
		}
		if action != "" && !strings.HasPrefix(action, "s3:") && !bytes.Contains(bytes.ToLower([]byte(l)), []byte("perform: "+strings.ToLower(action))) {
			continue
		}
		out = append(out, l)
	}
	return out
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
