//go:build unix

// Package procgroup runs a child process in a group of its own, so that
// stopping it reaches every process it started (QScanner and moto_server
// both fork), and a Ctrl-C in the terminal is left to the parent to handle.
package procgroup

import (
	"os/exec"
	"syscall"
)

// Set makes cmd, once started, the leader of a new process group.
func Set(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// Terminate asks the whole group to stop (SIGTERM).
func Terminate(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

// Kill stops the whole group at once (SIGKILL).
func Kill(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
