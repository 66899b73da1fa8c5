//go:build linux

package lambdarun

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the process in a group of its own, so killProcessGroup reaches
// its children too, and has the kernel kill it if wsgate dies first. (Pdeathsig fires
// when the forking OS thread exits; the Go runtime keeps its threads, and wsgate locks
// none to a goroutine, so in practice that is when wsgate exits.)
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
