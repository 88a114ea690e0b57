//go:build unix

package buildcache

import (
	"os"
	"syscall"
)

// lock takes an exclusive lock on the file at path, creating it, and
// returns its release. The kernel releases it should the process die.
func lock(path string) (unlock func(), err error) {
	return flock(path, syscall.LOCK_EX)
}

// tryLock is lock without waiting: ok is false while another holds it.
func tryLock(path string) (unlock func(), ok bool) {
	unlock, err := flock(path, syscall.LOCK_EX|syscall.LOCK_NB)
	return unlock, err == nil
}

func flock(path string, how int) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
