//go:build linux

package host

import (
	"os/exec"
	"syscall"
)

// dieWithHost makes the kernel kill the plugin process when the host process dies, however it
// dies: an orphaned plugin would keep its listening port and block the restarted recorder.
func dieWithHost(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
