//go:build !linux

package lambdarun

import "os/exec"

// setProcessGroup: process groups and the parent-death signal are set up on Linux
// only; elsewhere only the process itself is killed.
func setProcessGroup(cmd *exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
}
