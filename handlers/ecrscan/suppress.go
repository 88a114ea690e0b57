package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ecrscanner/domain"
	"ecrscanner/infra/awsconfig"
	"ecrscanner/infra/ops/stack"
	"ecrscanner/infra/suppressionstore"
)

func init() {
	register("suppress", command{
		usage: "add, list, remove or export suppressions (accepted risks with a reason and an expiry)",
		run:   runSuppress,
	})
}

const suppressUsage = `usage: ecrscan suppress add|list|remove|export [flags]

  add     --vulnerability CVE-…|QID | --secret-rule RULE | --package NAME
          --repository GLOB (repeat; path.Match: "*" does not cross "/")
          [--digest sha256:… (repeat)] --reason TEXT --owner NAME
          --expires 2026-12-31|30d [--max-days N]
  list    [--json]            every rule; expired ones are marked and reported
  remove  ID
  export  [--author NAME] [--registry HOST] [--output FILE]
          an OpenVEX v0.2.0 document of the CVE and QID rules

Common flags:
  --stack NAME   the scanner's stack (default $STACK_NAME, else qualys-ecr-scanner)
  --bucket NAME  the bucket holding suppressions/rules.json, instead of the stack's ResultsBucket

The rules live in one versioned S3 object (s3://<ResultsBucket>/suppressions/rules.json):
every change is an object version, and writes are conditional, so two people
editing at once cannot overwrite each other. --max-days (default
$SUPPRESSION_MAX_DAYS, else 90) is the longest a rule may live.

Exit 0: done. Exit 1: refused (with every reason) or AWS failed. Exit 2: bad usage.`

// suppressFlags are the flags every suppress subcommand takes.
type suppressFlags struct {
	stack, bucket string
}

func (f *suppressFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.stack, "stack", stackFromEnv(), "")
	fs.StringVar(&f.bucket, "bucket", "", "")
}

// suppressNow is the clock the suppress and gate commands read; tests fix it.
var suppressNow = func() time.Time { return time.Now().UTC() }

func runSuppress(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, suppressUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	subs := map[string]func([]string, io.Writer, io.Writer) int{
		"add": suppressAdd, "list": suppressList, "remove": suppressRemove, "export": suppressExport,
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ecrscan suppress: unknown subcommand %q: want add, list, remove or export\n", args[0])
		return exitUsage
	}
	return sub(args[1:], stdout, stderr)
}

// suppressFail prints a suppress error and returns code.
func suppressFail(stderr io.Writer, code int, format string, a ...any) int {
	fmt.Fprintf(stderr, "ecrscan suppress: "+format+"\n", a...)
	return code
}

// parseFlags parses fs, mapping -h to exitOK and bad flags to exitUsage
// (ok false with the code to return).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, suppressUsage)
			return exitOK, false
		}
		return suppressFail(stderr, exitUsage, "%v; see ecrscan suppress -h", err), false
	}
	return 0, true
}

// openSuppressions finds the rules document: --bucket, else the stack's
// ResultsBucket. It also returns the stack (nil with --bucket).
func openSuppressions(ctx context.Context, f suppressFlags) (*suppressionstore.Store, *stack.Deployed, error) {
	cfg, err := loadAWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	var d *stack.Deployed
	bucket := f.bucket
	if bucket == "" {
		if d, err = describeStack(ctx, cfg, f.stack); err != nil {
			return nil, nil, err
		}
		if bucket, err = d.Ref("ResultsBucket"); err != nil || bucket == "" {
			return nil, nil, fmt.Errorf("stack %s has no ResultsBucket: is it the scanner's stack?", f.stack)
		}
	}
	store, err := suppressionstore.New(s3.NewFromConfig(cfg, awsconfig.S3Options(cfg), quietChecksums), bucket)
	return store, d, err
}

func describeStack(ctx context.Context, cfg aws.Config, name string) (*stack.Deployed, error) {
	tmpl, err := stack.Load()
	if err != nil {
		return nil, err
	}
	return stack.Describe(ctx, cloudformation.NewFromConfig(cfg), name, tmpl)
}

func suppressAdd(args []string, stdout, stderr io.Writer) int {
	var f suppressFlags
	var rule domain.Suppression
	var repos, digests listFlag
	var expires string
	fs := flag.NewFlagSet("suppress add", flag.ContinueOnError)
	f.register(fs)
	fs.StringVar(&rule.Vulnerability, "vulnerability", "", "")
	fs.StringVar(&rule.SecretRule, "secret-rule", "", "")
	fs.StringVar(&rule.Package, "package", "", "")
	fs.Var(&repos, "repository", "")
	fs.Var(&digests, "digest", "")
	fs.StringVar(&rule.Reason, "reason", "", "")
	fs.StringVar(&rule.Owner, "owner", "", "")
	fs.StringVar(&expires, "expires", "", "")
	maxDays := fs.Int("max-days", maxDaysFromEnv(), "")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return suppressFail(stderr, exitUsage, "unexpected argument %q; see ecrscan suppress -h", fs.Arg(0))
	}
	if *maxDays < 1 {
		return suppressFail(stderr, exitUsage, "--max-days %d: want at least 1", *maxDays)
	}
	now := suppressNow()
	rule.Vulnerability = strings.ToUpper(strings.TrimSpace(rule.Vulnerability))
	rule.Repositories = repos
	for _, d := range digests {
		rule.Digests = append(rule.Digests, domain.Digest(d))
	}
	rule.ID, rule.CreatedAt = newSuppressionID(), now
	if expires != "" {
		at, err := parseExpiry(expires, now)
		if err != nil {
			return suppressFail(stderr, exitFailed, "refused: %v", err)
		}
		rule.ExpiresAt = at
	}
	if err := rule.Validate(now, time.Duration(*maxDays)*24*time.Hour); err != nil {
		return suppressFail(stderr, exitFailed, "%s", strings.ReplaceAll(err.Error(), "\n", "\n  - "))
	}
	return updateRules(f, stdout, stderr, func(ss *domain.Suppressions) (string, error) {
		ss.Rules = append(ss.Rules, rule)
		return fmt.Sprintf("added %s: %s in %s until %s (%s)", rule.ID, rule.Target(), strings.Join(rule.Repositories, ", "), rule.ExpiresAt.Format(time.RFC3339), rule.Reason), nil
	})
}

func suppressRemove(args []string, stdout, stderr io.Writer) int {
	var f suppressFlags
	fs := flag.NewFlagSet("suppress remove", flag.ContinueOnError)
	f.register(fs)
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return suppressFail(stderr, exitUsage, "remove takes one rule ID; see ecrscan suppress list")
	}
	id := fs.Arg(0)
	return updateRules(f, stdout, stderr, func(ss *domain.Suppressions) (string, error) {
		r, ok := ss.Find(id)
		if !ok {
			return "", fmt.Errorf("no rule %q (see ecrscan suppress list)", id)
		}
		kept := ss.Rules[:0]
		for _, x := range ss.Rules {
			if x.ID != id {
				kept = append(kept, x)
			}
		}
		ss.Rules = kept
		return fmt.Sprintf("removed %s: %s", r.ID, r.Target()), nil
	})
}

// updateRules reads the rules, applies change and writes them back
// conditionally, then prints what change says it did; a lost race is
// reported, not retried, since the change may no longer make sense on the
// new rules.
func updateRules(f suppressFlags, stdout, stderr io.Writer, change func(*domain.Suppressions) (string, error)) int {
	ctx := context.Background()
	store, _, err := openSuppressions(ctx, f)
	if err != nil {
		return suppressFail(stderr, exitFailed, "%v", err)
	}
	ss, etag, err := store.Load(ctx)
	if err != nil {
		return suppressFail(stderr, exitFailed, "%v", err)
	}
	done, err := change(&ss)
	if err != nil {
		return suppressFail(stderr, exitFailed, "%v", err)
	}
	if err := store.Save(ctx, ss, etag); err != nil {
		if errors.Is(err, suppressionstore.ErrConflict) {
			return suppressFail(stderr, exitFailed, "someone changed the rules at the same time; nothing was written: run the command again (%v)", err)
		}
		return suppressFail(stderr, exitFailed, "%v", err)
	}
	fmt.Fprintln(stdout, done)
	return exitOK
}

func suppressList(args []string, stdout, stderr io.Writer) int {
	var f suppressFlags
	fs := flag.NewFlagSet("suppress list", flag.ContinueOnError)
	f.register(fs)
	asJSON := fs.Bool("json", false, "")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	ctx := context.Background()
	store, _, err := openSuppressions(ctx, f)
	if err != nil {
		return suppressFail(stderr, exitFailed, "%v", err)
	}
	ss, _, err := store.Load(ctx)
	if err != nil {
		return suppressFail(stderr, exitFailed, "%v", err)
	}
	now := suppressNow()
	if *asJSON {
		b, _ := json.MarshalIndent(ss, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printRules(stdout, ss, now)
	}
	if exp := ss.Expired(now); len(exp) > 0 {
		fmt.Fprintf(stderr, "ecrscan suppress: %d rule(s) expired; their findings are no longer suppressed: renew (add again) or remove them:", len(exp))
		for _, r := range exp {
			fmt.Fprintf(stderr, " %s (%s, owner %s)", r.ID, r.Target(), r.Owner)
		}
		fmt.Fprintln(stderr)
	}
	return exitOK
}

func printRules(w io.Writer, ss domain.Suppressions, now time.Time) {
	if len(ss.Rules) == 0 {
		fmt.Fprintln(w, "no suppressions")
		return
	}
	fmt.Fprintf(w, "%-14s %-8s %-28s %-24s %-12s %-20s %s\n", "ID", "STATE", "TARGET", "SCOPE", "OWNER", "EXPIRES", "REASON")
	for _, r := range ss.Rules {
		state := "active"
		if !r.Active(now) {
			state = "EXPIRED"
		}
		scope := strings.Join(r.Repositories, ",")
		if len(r.Digests) > 0 {
			scope += " @" + strconv.Itoa(len(r.Digests)) + " digest(s)"
		}
		fmt.Fprintf(w, "%-14s %-8s %-28s %-24s %-12s %-20s %s\n", r.ID, state, r.Target(), scope, r.Owner, r.ExpiresAt.UTC().Format(time.RFC3339), r.Reason)
	}
}

// parseExpiry reads a date (2026-12-31, the end of that day UTC), an
// RFC 3339 time, or a duration ahead of now in days or hours (30d, 12h).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24*time.Hour - time.Second).UTC(), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d > 0 {
			return now.Add(time.Duration(d) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("--expires %q: want a date (2026-12-31), an RFC 3339 time or a time ahead (30d, 12h)", s)
}

func maxDaysFromEnv() int {
	if n, err := strconv.Atoi(os.Getenv("SUPPRESSION_MAX_DAYS")); err == nil && n > 0 {
		return n
	}
	return int(domain.DefaultMaxSuppression.Hours() / 24)
}

func newSuppressionID() string {
	var b [5]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "sup-" + hex.EncodeToString(b[:])
}
