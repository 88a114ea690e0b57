package startup

import (
	"fmt"
	"strconv"
	"time"

	"ecrscanner/infra/lambdaenv"
)

// Markers must outlive the scan cache. A scan's record stands as the cache
// for CACHE_TTL_DAYS, and until it expires every push of the digest to a
// new tag or repository is an ImageReferenced event of that same scan; an
// alert marker (alert#<scan>#<repository>) or a deduplication marker gone
// before then lets a late tag alert, or act, a second time for one scan.
const (
	// RedeliveryWindow is how long after an event a delivery of it may
	// still come: a handler queue keeps a message 4 days, the stream a
	// record 24 hours. Markers are kept this long past the cache by default.
	RedeliveryWindow = 8 * 24 * time.Hour
	// maxCacheTTLDays is the longest cache the stack allows (the
	// template's CacheTTLDays MaxValue), assumed when the setting is
	// missing, which start-up refuses anyway.
	maxCacheTTLDays = 3650
)

// Retention is how long an Events function keeps its idempotency markers,
// and the scan cache they must outlive.
type Retention struct {
	// Cache is CACHE_TTL_DAYS, as the scan function reads it.
	Cache time.Duration
	// Markers is IDEMPOTENCY_RETENTION (a Go duration such as 87792h), by
	// default Cache plus RedeliveryWindow; never shorter than Cache.
	Markers time.Duration
}

// readRetention reads CACHE_TTL_DAYS (required: without it no retention can
// be shown to outlive the cache) and IDEMPOTENCY_RETENTION, and records a
// configuration problem in env if a marker would not outlive the cache.
func readRetention(env *lambdaenv.Env) Retention {
	days := maxCacheTTLDays
	if env.Required("CACHE_TTL_DAYS") != "" {
		days = env.Int("CACHE_TTL_DAYS", maxCacheTTLDays)
	}
	r := Retention{Cache: time.Duration(days) * 24 * time.Hour}
	r.Markers = env.Duration("IDEMPOTENCY_RETENTION", r.Cache+RedeliveryWindow)
	if r.Markers < r.Cache {
		env.Check(fmt.Errorf("IDEMPOTENCY_RETENTION=%s is shorter than the scan cache (CACHE_TTL_DAYS=%s, %s): "+
			"a marker would expire while its scan is still cached, and a tag pushed late would be handled again; "+
			"leave it unset or make it at least %s", r.Markers, strconv.Itoa(days), r.Cache, r.Cache))
	}
	return r
}

// MarkerRetention is how long an Events function keeps markers of its own
// (the alert function's one alert per scan and repository): the retention
// deduplication uses, read the same way. It records no problem in env:
// Events has read and checked these settings, and reported any problem with
// them, before the function's Build runs.
func MarkerRetention(env *lambdaenv.Env) time.Duration {
	return readRetention(&lambdaenv.Env{Lookup: env.Lookup}).Markers
}
