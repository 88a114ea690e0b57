package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"ecrscanner/infra/ops/local"
)

// WorkQueues maps each deployed queue that has a redrive policy (the scan
// queue and every handler's) to its dead-letter queue, by logical ID, as the
// template's RedrivePolicy names it.
func WorkQueues(d *local.Deployment) map[string]string {
	out := map[string]string{}
	for id, res := range d.Template.Resources {
		if res.Type != "AWS::SQS::Queue" || !d.Created(id) {
			continue
		}
		rp, _ := res.Properties["RedrivePolicy"].(map[string]any)
		getAtt, _ := rp["deadLetterTargetArn"].(map[string]any)
		args, _ := getAtt["Fn::GetAtt"].([]any)
		if len(args) == 2 {
			if dlq, ok := args[0].(string); ok {
				out[id] = dlq
			}
		}
	}
	return out
}

// sortedKeys lists m's keys in order, so that runs and reports are stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// depth is a queue's visible and in-flight message count.
func depth(ctx context.Context, client *sqs.Client, url string) (int, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		v, err := strconv.Atoi(out.Attributes[string(a)])
		if err != nil {
			return 0, fmt.Errorf("queue %s attribute %s: %w", url, a, err)
		}
		n += v
	}
	return n, nil
}

// waitQuiescent waits until every work queue has stayed empty (nothing
// visible, nothing in flight) for opts.Quiet, or opts.Bound has passed; it
// reports whether the pipeline went quiet. Quiet spans the Pipe's poll and
// a function's retry delay, so an empty moment between two steps of one
// event does not count.
func (r *run) waitQuiescent(ctx context.Context) (bool, error) {
	client := sqs.NewFromConfig(r.opts.Config)
	urls := map[string]string{}
	for q := range WorkQueues(r.p.Deployment) {
		u, err := r.p.Ref(q)
		if err != nil {
			return false, err
		}
		urls[q] = u
	}
	deadline := time.Now().Add(r.opts.Bound)
	var emptySince time.Time
	lastLog := time.Now()
	for time.Now().Before(deadline) {
		busy := map[string]int{}
		for _, q := range sortedKeys(urls) {
			n, err := depth(ctx, client, urls[q])
			if err != nil {
				return false, err
			}
			if n > 0 {
				busy[q] = n
			}
		}
		switch {
		case len(busy) > 0:
			emptySince = time.Time{}
		case emptySince.IsZero():
			emptySince = time.Now()
		case time.Since(emptySince) >= r.opts.Quiet:
			return true, nil
		}
		if time.Since(lastLog) > 10*time.Second && len(busy) > 0 {
			r.opts.Logger.Info("chaos: waiting for quiescence", slog.Any("queues", busy))
			lastLog = time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
	return false, nil
}

// poisonMessage is a malformed body sent straight to a work queue.
type poisonMessage struct {
	Queue, DLQ, Marker string
}

// sendPoison sends one malformed body to each work queue: not JSON, so no
// handler can read it, and marked so that the check finds it.
func (r *run) sendPoison(ctx context.Context) ([]poisonMessage, error) {
	client := sqs.NewFromConfig(r.opts.Config)
	queues := WorkQueues(r.p.Deployment)
	var out []poisonMessage
	for _, q := range sortedKeys(queues) {
		url, err := r.p.Ref(q)
		if err != nil {
			return nil, err
		}
		m := poisonMessage{Queue: q, DLQ: queues[q], Marker: fmt.Sprintf("chaos-poison:%s:%d", q, r.plan.Seed)}
		body := `{"poison":"` + m.Marker + `","detail":{"image-digest":`
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			return nil, fmt.Errorf("send poison to %s: %w", q, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// readAll receives every message in a dead-letter queue once (hiding each
// for the rest of the run) and returns the bodies.
func readAll(ctx context.Context, client *sqs.Client, url string) ([]deadLetter, error) {
	var letters []deadLetter
	for empty := 0; empty < 2; {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 600,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", url, err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			l := deadLetter{body: aws.ToString(m.Body), receives: m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]}
			if v, ok := m.MessageAttributes["failure_reason"]; ok {
				l.reason = aws.ToString(v.StringValue)
			}
			letters = append(letters, l)
		}
	}
	return letters, nil
}

// deadLetter is a message read from a dead-letter queue.
type deadLetter struct {
	body, reason, receives string
}

// describe says what the letter is about: its reason (set when a function
// dead-lettered it itself; none when SQS's redrive moved it) and the digest
// and event type its body names.
func (l deadLetter) describe() string {
	reason := l.reason
	if reason == "" {
		reason = "redriven by SQS after " + l.receives + " receives"
	}
	what := ""
	if m := digestRE.FindString(l.body); m != "" {
		what = " " + m
	}
	if m := typeRE.FindStringSubmatch(l.body); m != nil {
		what += " " + m[1]
	}
	return reason + ":" + what
}

var (
	digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	typeRE   = regexp.MustCompile(`"(?:eventType|detail-type)"\s*:\s*"([^"]+)"`)
)

// containsAny reports whether some letter's body contains s.
func containsAny(letters []deadLetter, s string) bool {
	return containsAll(letters, s)
}

// containsAll reports whether some letter's body contains every s.
func containsAll(letters []deadLetter, s ...string) bool {
	for _, l := range letters {
		all := true
		for _, x := range s {
			all = all && strings.Contains(l.body, x)
		}
		if all {
			return true
		}
	}
	return false
}
