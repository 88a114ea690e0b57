//go:build unix

package motoserver

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts moto_server (a Python script that may fork) in its own
// group so that Stop reaches every process it started and a Ctrl-C in the
// terminal is left to the parent to handle.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func terminateGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

func killGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
