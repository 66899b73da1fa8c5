//go:build linux

package lambdarun

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the process in a group of its own, so killProcessGroup reaches
// its children too, and has the kernel kill it if wsgate dies first.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
