//go:build !unix

package motoserver

import "os/exec"

// Without process groups only the direct child can be stopped.
func setProcessGroup(*exec.Cmd) {}

func terminateGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
