package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"ecrscanner/domain"
	"ecrscanner/infra/ops/replay"
	"ecrscanner/infra/ops/stack"
)

func init() {
	register("status", command{
		usage: "show an image's scan record, its handlers' outcomes and its X-Ray trace ID",
		run:   runStatus,
	})
}

const statusUsage = `usage: ecrscan status IMAGE_OR_DIGEST [--stack NAME] [--json]

IMAGE_OR_DIGEST is a digest (sha256:...) or an image: repo:tag,
registry/repo:tag or repo@sha256:... (a tag is resolved with ECR DescribeImages).
Shows the scan record (status, scan ID, counts, failure, references), what
each handler did with the record's last published event (DONE, IN_PROGRESS
or none, and any replays of it), and the scan's X-Ray trace ID.

  --stack NAME  the scanner's stack (default $STACK_NAME, else qualys-ecr-scanner)
  --json        print one JSON object instead of the table

Exit 0: shown. Exit 1: no scan record for the digest, or a lookup failed.
Exit 2: bad usage.`

// imageArg is what status was asked about: a digest, or a tag to resolve.
type imageArg struct {
	digest                         domain.Digest
	registryID, region, repository string
	tag                            string
}

// ecrRegistryRE reads an ECR registry host: account and region.
var ecrRegistryRE = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`)

// parseImageArg reads a digest, repo:tag, registry/repo:tag or
// [registry/]repo@digest. A missing tag means latest, as for docker pull.
func parseImageArg(s string) (imageArg, error) {
	if strings.HasPrefix(s, "sha256:") {
		d, err := domain.ParseDigest(s)
		return imageArg{digest: d}, err
	}
	var a imageArg
	name := s
	if host, rest, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		m := ecrRegistryRE.FindStringSubmatch(host)
		if m == nil {
			return imageArg{}, fmt.Errorf("%q is not an ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com)", host)
		}
		a.registryID, a.region, name = m[1], m[2], rest
	}
	// repo@digest keeps its repository too: the gate needs it.
	if repo, dg, ok := strings.Cut(name, "@"); ok {
		d, err := domain.ParseDigest(dg)
		if err != nil {
			return imageArg{}, err
		}
		a.digest, a.repository = d, repo
		return a, domain.ValidateRepository(repo)
	}
	a.repository, a.tag = name, "latest"
	if i := strings.LastIndex(name, ":"); i >= 0 {
		a.repository, a.tag = name[:i], name[i+1:]
	}
	if err := domain.ValidateRepository(a.repository); err != nil {
		return imageArg{}, err
	}
	if a.tag == "" {
		return imageArg{}, fmt.Errorf("%q: name a tag (repository:tag) or a digest", name)
	}
	if err := domain.ValidateTag(a.tag); err != nil {
		return imageArg{}, err
	}
	return a, nil
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "ecrscan status: "+format+"\n", a...)
		return code
	}
	o, err := parseStatusArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, statusUsage)
		return exitOK
	}
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	rep, err := lookupStatus(context.Background(), o)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	if o.json {
		b, err := json.Marshal(rep)
		if err != nil {
			return fail(exitFailed, "encode status: %v", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	printStatus(stdout, rep)
	return exitOK
}

// statusOptions is the status command line.
type statusOptions struct {
	stack string
	json  bool
	image imageArg
}

// parseStatusArgs reads the flags, before or after the one image.
func parseStatusArgs(args []string) (statusOptions, error) {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stackName := fs.String("stack", stackFromEnv(), "")
	asJSON := fs.Bool("json", false, "")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return statusOptions{}, err
	}
	if len(positional) != 1 {
		return statusOptions{}, fmt.Errorf("want exactly one IMAGE_OR_DIGEST, got %d; see ecrscan status -h", len(positional))
	}
	img, err := parseImageArg(positional[0])
	if err != nil {
		return statusOptions{}, err
	}
	return statusOptions{stack: *stackName, json: *asJSON, image: img}, nil
}

// parseInterspersed parses fs's flags before, between and after the
// positional arguments, which it returns. -h is flag.ErrHelp; any other
// error points at the command's help.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%v; see ecrscan %s -h", err, fs.Name())
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}

// lookupStatus finds the stack and the image's scan record, resolving a tag
// to its digest, and builds the report from the record, the handlers' rules
// and their markers.
func lookupStatus(ctx context.Context, o statusOptions) (statusReport, error) {
	cfg, err := loadAWSConfig(ctx)
	if err != nil {
		return statusReport{}, err
	}
	tmpl, err := stack.Load()
	if err != nil {
		return statusReport{}, err
	}
	st, err := replay.LoadStack(ctx, cloudformation.NewFromConfig(cfg), o.stack, tmpl)
	if err != nil {
		return statusReport{}, err
	}
	img, digest := o.image, o.image.digest
	if digest == "" {
		if digest, err = replay.ResolveTag(ctx, ecr.NewFromConfig(cfg), img.registryID, img.region, img.repository, img.tag); err != nil {
			return statusReport{}, err
		}
	}
	ddb := dynamodb.NewFromConfig(cfg)
	rec, ok, err := replay.GetRecord(ctx, ddb, st.ScansTable, digest)
	if err != nil {
		return statusReport{}, err
	}
	if !ok {
		return statusReport{}, fmt.Errorf("no scan record for %s in stack %s (never pushed, not an image, or expired from the cache)", digest, st.Name)
	}
	routes, err := replay.LoadRoutes(ctx, eventbridge.NewFromConfig(cfg), st, st.Handlers)
	if err != nil {
		return statusReport{}, err
	}
	markers, err := replay.NewMarkers(ddb, st.IdempotencyTable)
	if err != nil {
		return statusReport{}, err
	}
	return buildStatus(ctx, st, rec, routes, markers)
}
