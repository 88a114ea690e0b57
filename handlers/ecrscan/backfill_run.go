package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"ecrscanner/domain"
	"ecrscanner/events"
	"ecrscanner/infra/ecrstore"
	"ecrscanner/infra/ops/replay"
)

// backfillECR is the part of the ECR API backfill enumerates with.
type backfillECR interface {
	DescribeRepositories(ctx context.Context, in *ecr.DescribeRepositoriesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// backfillCheckpoint is where a backfill stands: the repositories finished,
// and in the current one the DescribeImages page being worked (the token
// that fetches it) and how many of its images are done. Saved after every
// image sent, so a resume neither skips nor repeats one.
type backfillCheckpoint struct {
	Version     int            `json:"version"`
	Stack       string         `json:"stack"`
	Globs       []string       `json:"repositories"`
	PushedSince time.Time      `json:"pushedSince,omitzero"`
	TaggedOnly  bool           `json:"taggedOnly,omitempty"`
	Max         int            `json:"max,omitempty"`
	Done        []string       `json:"done"`
	Repository  string         `json:"repository,omitempty"`
	PageToken   string         `json:"pageToken,omitempty"`
	Offset      int            `json:"offset,omitempty"`
	Enqueued    int            `json:"enqueued"`
	Skipped     map[string]int `json:"skipped"`
	Finished    bool           `json:"finished,omitempty"`
	Updated     time.Time      `json:"updated"`
}

const backfillCheckpointVersion = 1

// backfiller enumerates repositories and images and enqueues backfill
// requests for the images without a fresh scan.
type backfiller struct {
	ecr      backfillECR
	store    domain.ScanStore
	send     func(ctx context.Context, m events.ScanRequestMessage) error
	wait     func(ctx context.Context) error // the rate limit
	account  string
	region   string
	cp       *backfillCheckpoint
	path     string // checkpoint file; "" for a dry run
	out      io.Writer
	pageSize int32
	now      time.Time
}

// errMaxReached ends a backfill that enqueued --max images.
var errMaxReached = errors.New("--max reached")

func (b *backfiller) run(ctx context.Context) error {
	repos, err := b.repositories(ctx)
	if err != nil {
		return err
	}
	for _, repo := range repos {
		if slices.Contains(b.cp.Done, repo) {
			continue
		}
		err := b.repository(ctx, repo)
		if errors.Is(err, errMaxReached) {
			fmt.Fprintf(b.out, "stopped: --max %d reached\n", b.cp.Max)
			break
		}
		if err != nil {
			return err
		}
		b.cp.Done = append(b.cp.Done, repo)
		b.cp.Repository, b.cp.PageToken, b.cp.Offset = "", "", 0
		if err := b.save(); err != nil {
			return err
		}
	}
	b.cp.Finished = true
	fmt.Fprintf(b.out, "backfill done: %d queued, skipped %v\n", b.cp.Enqueued, b.cp.Skipped)
	return b.save()
}

// repositories lists the registry's repositories matching the globs,
// sorted, one DescribeRepositories page at a time; a glob without
// wildcards that names no repository is reported and skipped.
func (b *backfiller) repositories(ctx context.Context) ([]string, error) {
	var names []string
	p := ecr.NewDescribeRepositoriesPaginator(b.ecr, &ecr.DescribeRepositoriesInput{RegistryId: aws.String(b.account)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list repositories of %s: %w", b.account, err)
		}
		for _, r := range page.Repositories {
			names = append(names, aws.ToString(r.RepositoryName))
		}
	}
	var out []string
	for _, n := range names {
		if slices.ContainsFunc(b.cp.Globs, func(g string) bool { ok, _ := path.Match(g, n); return ok }) {
			out = append(out, n)
		}
	}
	for _, g := range b.cp.Globs {
		if !hasWildcard(g) && !slices.Contains(names, g) {
			fmt.Fprintf(b.out, "skip repository %s: no such repository in %s/%s\n", g, b.account, b.region)
			b.cp.Skipped["unknown repository"]++
		}
	}
	sort.Strings(out)
	return out, nil
}

func hasWildcard(g string) bool {
	return slices.ContainsFunc([]rune(g), func(r rune) bool { return r == '*' || r == '?' || r == '[' })
}

// repository works through one repository's images, page by page, from
// where the checkpoint stands.
func (b *backfiller) repository(ctx context.Context, repo string) error {
	token, offset := "", 0
	if b.cp.Repository == repo {
		token, offset = b.cp.PageToken, b.cp.Offset
	}
	b.cp.Repository = repo
	for {
		in := &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), RegistryId: aws.String(b.account), MaxResults: aws.Int32(b.pageSize)}
		if b.cp.TaggedOnly {
			in.Filter = &ecrtypes.DescribeImagesFilter{TagStatus: ecrtypes.TagStatusTagged}
		}
		if token != "" {
			in.NextToken = aws.String(token)
		}
		page, err := b.ecr.DescribeImages(ctx, in)
		var noRepo *ecrtypes.RepositoryNotFoundException
		if errors.As(err, &noRepo) {
			fmt.Fprintf(b.out, "skip repository %s: deleted while the backfill ran\n", repo)
			return nil
		}
		if err != nil {
			return fmt.Errorf("list images of %s: %w", repo, err)
		}
		b.cp.PageToken = token
		queued, skipped := b.cp.Enqueued, total(b.cp.Skipped)
		for i := offset; i < len(page.ImageDetails); i++ {
			if err := b.image(ctx, repo, page.ImageDetails[i]); err != nil {
				return err
			}
			b.cp.Offset = i + 1
			if err := b.save(); err != nil {
				return err
			}
		}
		fmt.Fprintf(b.out, "%s: %d image(s): %d queued, %d skipped; total %d queued\n", repo, len(page.ImageDetails)-offset, b.cp.Enqueued-queued, total(b.cp.Skipped)-skipped, b.cp.Enqueued)
		token, offset = aws.ToString(page.NextToken), 0
		b.cp.PageToken, b.cp.Offset = token, 0
		if token == "" {
			return nil
		}
	}
}

// image enqueues one image unless a rule skips it; each skip is printed
// with its reason.
func (b *backfiller) image(ctx context.Context, repo string, det ecrtypes.ImageDetail) error {
	d, err := domain.ParseDigest(aws.ToString(det.ImageDigest))
	if err != nil {
		return b.skip(repo, aws.ToString(det.ImageDigest), "unreadable digest")
	}
	u := ecrstore.UsageOf(det)
	switch {
	case !u.Kind.Scannable():
		return b.skip(repo, d.String(), "not an image ("+string(u.Kind)+")")
	case !b.cp.PushedSince.IsZero() && u.PushedAt.Before(b.cp.PushedSince):
		return b.skip(repo, d.String(), "pushed before --pushed-since")
	case b.cp.TaggedOnly && len(u.Tags) == 0:
		return b.skip(repo, d.String(), "untagged")
	}
	if s, err := b.store.Get(ctx, d); err == nil {
		if _, fresh := s.Result(b.now); fresh {
			return b.skip(repo, d.String(), "fresh scan")
		}
		if s.InProgress(b.now) {
			return b.skip(repo, d.String(), "being scanned")
		}
	} else if !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	if b.cp.Max > 0 && b.cp.Enqueued >= b.cp.Max {
		return errMaxReached
	}
	tag := ""
	if len(u.Tags) > 0 {
		tag = u.Tags[0]
	}
	ref, err := domain.NewImageRef(b.account, b.region, repo, d.String(), tag)
	if err != nil {
		return b.skip(repo, d.String(), "invalid reference: "+err.Error())
	}
	if b.path == "" {
		fmt.Fprintf(b.out, "would scan %s\n", ref.Display())
		b.cp.Enqueued++
		return nil
	}
	if err := b.wait(ctx); err != nil {
		return err
	}
	if err := b.send(ctx, events.NewScanRequest(domain.CauseBackfill, ref, "ecrscan backfill", b.now, false)); err != nil {
		return err
	}
	b.cp.Enqueued++
	return nil
}

func (b *backfiller) skip(repo, digest, reason string) error {
	b.cp.Skipped[reason]++
	fmt.Fprintf(b.out, "skip %s@%s: %s\n", repo, digest, reason)
	return nil
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// save writes the checkpoint atomically (a temporary file renamed over
// it); a dry run keeps none.
func (b *backfiller) save() error {
	if b.path == "" {
		return nil
	}
	b.cp.Version, b.cp.Updated = backfillCheckpointVersion, time.Now().UTC()
	data, err := json.MarshalIndent(b.cp, "", "  ")
	if err != nil {
		return err
	}
	if err := replay.WriteFileAtomic(b.path, append(data, '\n')); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", b.path, err)
	}
	return nil
}

func loadBackfillCheckpoint(p string) (*backfillCheckpoint, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	var cp backfillCheckpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", p, err)
	}
	if cp.Version != backfillCheckpointVersion || cp.Stack == "" || len(cp.Globs) == 0 {
		return nil, fmt.Errorf("load checkpoint %s: not a backfill checkpoint of version %d", p, backfillCheckpointVersion)
	}
	if cp.Skipped == nil {
		cp.Skipped = map[string]int{}
	}
	return &cp, nil
}
