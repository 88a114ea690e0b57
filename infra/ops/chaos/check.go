package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"ecrscanner/domain"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/s3store"
)

// Result is what a run came to.
type Result struct {
	Seed uint64
	Size Size
	// Per digest: how its record ended.
	Pushes, Digests, Completed, FailedWithReason int
	Stuck, Lost, InDLQ                           int
	// LostReferences are pushes to a repository missing from their
	// digest's record and from the dead-letter queues (counted in Lost).
	LostReferences              int
	Archives, DuplicateArchives int
	Alerts, DuplicateAlerts     int
	PoisonInDLQ, Poison         int
	DeadLettered                map[string]int // messages per DLQ, poison included
	// DeadLetters describes each dead-lettered message that is not poison.
	DeadLetters []string
	Kills       int
	Quiescent   bool
	Elapsed     time.Duration
	Faults      map[Fault]int
	Requests    int
	Violations  []string
}

// Summary is the one line a run prints.
func (r *Result) Summary() string {
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(r.Pushes) / r.Elapsed.Seconds()
	}
	return fmt.Sprintf("pushes %d, digests %d, completed %d, failed-with-reason %d, stuck %d, lost %d, duplicate archives %d, duplicate alerts %d, poison in DLQ %d/%d, %.1f events/s",
		r.Pushes, r.Digests, r.Completed, r.FailedWithReason, r.Stuck, r.Lost, r.DuplicateArchives, r.DuplicateAlerts, r.PoisonInDLQ, r.Poison, rate)
}

// Failed reports whether the invariant broke.
func (r *Result) Failed() bool { return len(r.Violations) > 0 }

func (r *Result) violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// check reads the stores and judges the run.
func (r *run) check(ctx context.Context, poison []poisonMessage) (*Result, error) {
	res := &Result{Seed: r.plan.Seed, Size: r.plan.Size, Pushes: len(r.plan.Pushes), Digests: len(r.plan.Images), Poison: len(poison), DeadLettered: map[string]int{}}
	dlqs, err := r.deadLetters(ctx, res)
	if err != nil {
		return nil, err
	}
	for _, m := range poison {
		if containsAny(dlqs[m.DLQ], m.Marker) {
			res.PoisonInDLQ++
		} else {
			res.violate("poison message sent to %s is not in %s", m.Queue, m.DLQ)
		}
	}
	var scanDLQ []deadLetter
	for _, q := range sortedKeys(dlqs) {
		if strings.HasPrefix(q, "Scan") {
			scanDLQ = append(scanDLQ, dlqs[q]...)
		}
		for _, l := range dlqs[q] {
			if !strings.Contains(l.body, "chaos-poison:") {
				res.DeadLetters = append(res.DeadLetters, q+": "+l.describe())
			}
		}
	}
	if err := r.checkRecords(ctx, res, scanDLQ); err != nil {
		return nil, err
	}
	if err := r.checkArchives(ctx, res); err != nil {
		return nil, err
	}
	r.checkAlerts(res)
	return res, nil
}

// deadLetters reads every dead-letter queue of the stack once.
func (r *run) deadLetters(ctx context.Context, res *Result) (map[string][]deadLetter, error) {
	client := sqs.NewFromConfig(r.opts.Config)
	out := map[string][]deadLetter{}
	for id, rs := range r.p.Deployment.Template.Resources {
		if rs.Type != "AWS::SQS::Queue" || !strings.HasSuffix(id, "DLQ") || !r.p.Deployment.Created(id) {
			continue
		}
		url, err := r.p.Ref(id)
		if err != nil {
			return nil, err
		}
		if out[id], err = readAll(ctx, client, url); err != nil {
			return nil, err
		}
		if n := len(out[id]); n > 0 {
			res.DeadLettered[id] = n
		}
	}
	return out, nil
}

// checkRecords judges each digest by its record: COMPLETED, or FAILED with
// a reason, or its pushes dead-lettered; and every repository it was pushed
// to is on the record, or that push is dead-lettered.
func (r *run) checkRecords(ctx context.Context, res *Result, scanDLQ []deadLetter) error {
	pushedTo := make([]map[string]bool, len(r.plan.Images))
	for _, ref := range r.plan.Refs {
		if pushedTo[ref.Image] == nil {
			pushedTo[ref.Image] = map[string]bool{}
		}
		pushedTo[ref.Image][ref.Repository] = true
	}
	for i, d := range r.digests {
		rec, ok, err := r.obs.Record(ctx, d)
		if err != nil {
			return fmt.Errorf("read record of %s: %w", d, err)
		}
		switch {
		case !ok && containsAny(scanDLQ, d.String()):
			res.InDLQ++
			continue
		case !ok:
			res.Lost++
			res.violate("image %d (%s, mode %s): no record and no push in a scan dead-letter queue", i, d, r.plan.Images[i].Mode)
			continue
		case rec.Status == domain.StatusCompleted:
			res.Completed++
		case rec.Status == domain.StatusFailed && rec.Failure != nil && strings.TrimSpace(rec.Failure.Reason) != "":
			res.FailedWithReason++
		case rec.Status == domain.StatusScanning:
			res.Stuck++
			res.violate("image %d (%s, mode %s): stuck in SCANNING (attempts %d, lease %+v)", i, d, r.plan.Images[i].Mode, rec.Attempts, rec.Lease)
			continue
		default:
			res.Lost++
			res.violate("image %d (%s, mode %s): record %s without a failure reason", i, d, r.plan.Images[i].Mode, rec.Status)
			continue
		}
		r.checkReferences(res, i, rec, pushedTo[i], scanDLQ)
	}
	return nil
}

func (r *run) checkReferences(res *Result, img int, rec domain.ScanRecord, repos map[string]bool, scanDLQ []deadLetter) {
	on := map[string]bool{}
	for _, ref := range rec.References {
		on[ref.Repository] = true
	}
	for _, repo := range sortedKeys(repos) {
		if on[repo] || containsAll(scanDLQ, rec.Digest.String(), `"`+repo+`"`) {
			continue
		}
		res.LostReferences++
		res.Lost++
		res.violate("image %d (%s): pushed to %s, which its %s record does not reference", img, rec.Digest, repo, rec.Status)
	}
}

// checkArchives counts the archive objects and those beyond one per
// (repository, digest, scan): the archive handler names an object by
// repository, digest and scan time, so a second object for one scan is a
// duplicate archive.
func (r *run) checkArchives(ctx context.Context, res *Result) error {
	bucket, err := r.p.Ref("ResultsBucket")
	if err != nil {
		return err
	}
	client := s3.NewFromConfig(r.opts.Config, awsconfig.S3Options(r.opts.Config))
	seen := map[string][]string{}
	for _, repo := range r.plan.Repositories {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(s3store.ArchivePrefix + repo + "/")}
		for {
			out, err := client.ListObjectsV2(ctx, in)
			if err != nil {
				return fmt.Errorf("list archives of %s: %w", repo, err)
			}
			for _, obj := range out.Contents {
				key := aws.ToString(obj.Key)
				scan, err := archiveScanID(ctx, client, bucket, key)
				if err != nil {
					return err
				}
				group := repo + "|" + scan
				seen[group] = append(seen[group], key)
				res.Archives++
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			in.ContinuationToken = out.NextContinuationToken
		}
	}
	for _, group := range sortedKeys(seen) {
		if keys := seen[group]; len(keys) > 1 {
			res.DuplicateArchives += len(keys) - 1
			res.violate("%d archive objects for one scan (%s): %v", len(keys), group, keys)
		}
	}
	return nil
}

func archiveScanID(ctx context.Context, client *s3.Client, bucket, key string) (string, error) {
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", fmt.Errorf("read archive %s: %w", key, err)
	}
	defer obj.Body.Close()
	var doc struct {
		Digest string `json:"digest"`
		ScanID string `json:"scanId"`
	}
	if err := json.NewDecoder(obj.Body).Decode(&doc); err != nil || doc.ScanID == "" {
		return "", fmt.Errorf("archive %s: no scan ID in the document (%v)", key, err)
	}
	return doc.Digest + "|" + doc.ScanID, nil
}

// scanLineRE reads the scan ID from an alert's "Scan:" line, which every
// alert body has (handlers/alert writeImage).
var scanLineRE = regexp.MustCompile(`(?m)^Scan:\s+([0-9a-f]{32})\b`)

// checkAlerts counts the alerts delivered and those beyond one per (scan,
// repository), the alert handler's idempotency key.
func (r *run) checkAlerts(res *Result) {
	r.alerts.mu.Lock()
	defer r.alerts.mu.Unlock()
	seen := map[string]int{}
	for _, a := range r.alerts.alerts {
		res.Alerts++
		scan := "?"
		var structured struct {
			ScanID string `json:"scanId"`
		}
		// An SQS subscriber gets the structured JSON (handlers/alert
		// channels.go); the text body is the other subscribers'.
		if json.Unmarshal([]byte(a.Message), &structured) == nil && structured.ScanID != "" {
			scan = structured.ScanID
		} else if m := scanLineRE.FindStringSubmatch(a.Message); m != nil {
			scan = m[1]
		} else {
			res.violate("alert %q names no scan", a.Subject)
		}
		seen[scan+"|"+a.Attributes["repository"]+"|"+a.Attributes["image_digest"]]++
	}
	keys := sortedKeys(seen)
	sort.Strings(keys)
	for _, k := range keys {
		if n := seen[k]; n > 1 {
			res.DuplicateAlerts += n - 1
			res.violate("%d alerts for one scan and repository (%s)", n, k)
		}
	}
}
