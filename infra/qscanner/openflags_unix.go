//go:build unix

package qscanner

import "syscall"

// openFlags keep openOutput from following a symlink swapped in after its
// check, and from blocking on a FIFO until a writer appears.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
