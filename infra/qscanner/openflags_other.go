//go:build !unix

package qscanner

// openFlags is empty where O_NOFOLLOW and O_NONBLOCK do not exist: openOutput
// still checks the mode before and after opening.
const openFlags = 0
