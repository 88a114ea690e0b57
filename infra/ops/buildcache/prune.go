package buildcache

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// staleAfter is how long a cached build stays after its last use. Each
// source edit makes a new key, and a set of function binaries weighs some
// hundred megabytes, so old ones must go; a test run uses its key every few
// minutes, and whoever finds its key pruned only builds again.
const staleAfter = 15 * time.Minute

// touch records a use of entry.
func touch(entry string) error {
	now := time.Now()
	return os.Chtimes(entry, now, now)
}

// prune removes the builds of other keys not used for staleAfter. It takes
// each one's lock first, so it never removes a build that a process is
// filling or installing from, and skips those it cannot lock at once.
func prune(base, keep string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		key := e.Name()
		if !e.IsDir() || key == keep || strings.HasPrefix(key, ".") {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < staleAfter {
			continue
		}
		lockPath := filepath.Join(base, key+".lock")
		unlock, ok := tryLock(lockPath)
		if !ok {
			continue
		}
		if fi, err := os.Stat(filepath.Join(base, key)); err == nil && time.Since(fi.ModTime()) >= staleAfter {
			_ = os.RemoveAll(filepath.Join(base, key))
			_ = os.Remove(lockPath)
		}
		unlock()
	}
}
