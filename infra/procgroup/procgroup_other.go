//go:build !unix

// Package procgroup runs a child process in a group of its own where the
// platform has process groups; elsewhere only the direct child is stopped.
package procgroup

import "os/exec"

// Set does nothing without process groups.
func Set(*exec.Cmd) {}

// Terminate stops the direct child.
func Terminate(cmd *exec.Cmd) error { return cmd.Process.Kill() }

// Kill stops the direct child.
func Kill(cmd *exec.Cmd) error { return cmd.Process.Kill() }
