package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/attr"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ecrstore"
)

// repoKey names one repository of one registry.
type repoKey struct{ account, region, name string }

func keyOf(ref domain.ImageRef) repoKey { return repoKey{ref.Account, ref.Region, ref.Repository} }

// lookUp asks ECR about every reference of the batch, one DescribeImages
// (per 100 digests) per repository. A repository that no longer exists
// holds none of them.
func (r *sweepRun) lookUp(ctx context.Context, batch []dynamostore.DueScan) (map[repoKey]map[domain.Digest]ecrstore.Usage, error) {
	digests := map[repoKey][]domain.Digest{}
	for _, d := range batch {
		seen := map[repoKey]bool{}
		for _, ref := range d.References {
			if k := keyOf(ref); !seen[k] {
				seen[k] = true
				digests[k] = append(digests[k], d.Digest)
			}
		}
	}
	out := map[repoKey]map[domain.Digest]ecrstore.Usage{}
	for k, ds := range digests {
		u, err := r.usage.Describe(ctx, k.account, k.region, k.name, ds)
		if errors.Is(err, domain.ErrNotFound) {
			r.logger.InfoContext(ctx, "repository no longer in ECR; its images are not rescanned", slog.String(attr.Repository, k.name), slog.String("region", k.region))
			continue
		}
		if re := (*ecrstore.RoleError)(nil); errors.As(err, &re) {
			// One member's missing or misconfigured spoke role must not stop
			// the sweep of every other registry; its images stay due.
			r.logger.WarnContext(ctx, "member registry not reachable; its images are not rescanned this run", slog.String("account", k.account), slog.String("region", k.region), slog.String(attr.Reason, err.Error()))
			r.unreachable[k] = true
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = u
	}
	return out, nil
}

// choose applies the selection rules to one due record (its age was the
// index query's): the reference to rescan it under, or why not. A digest
// is rescanned when any repository still holds it as an image that was
// pushed or pulled within the window; the reference chosen is the most
// recently used one.
func (r *sweepRun) choose(d dynamostore.DueScan, usage map[repoKey]map[domain.Digest]ecrstore.Usage) (domain.ImageRef, string) {
	if len(d.References) == 0 {
		return domain.ImageRef{}, SkipNoReference
	}
	var best domain.ImageRef
	var bestUse time.Time
	found, image, unreachable := false, false, false
	for _, ref := range d.References {
		u, ok := usage[keyOf(ref)][d.Digest]
		if !ok {
			unreachable = unreachable || r.unreachable[keyOf(ref)]
			continue
		}
		found = true
		if !u.Kind.Scannable() {
			continue
		}
		image = true
		if last := lastUse(u); best.Digest == "" || last.After(bestUse) {
			best, bestUse = ref, last
		}
	}
	switch {
	case !found && unreachable:
		return domain.ImageRef{}, SkipUnreachable
	case !found:
		return domain.ImageRef{}, SkipDeleted
	case !image:
		return domain.ImageRef{}, SkipArtifact
	case bestUse.Before(r.windowStart):
		return domain.ImageRef{}, SkipIdle
	}
	return best, ""
}

// lastUse is when ECR last saw the image pushed or pulled.
func lastUse(u ecrstore.Usage) time.Time {
	if u.LastPulled.After(u.PushedAt) {
		return u.LastPulled
	}
	return u.PushedAt
}
