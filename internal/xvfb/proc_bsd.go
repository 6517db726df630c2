//go:build unix && !linux

package xvfb

import "syscall"

// sysProcAttr puts Xvfb in its own process group, so Close can also reach
// helpers it spawns (xkbcomp). Non-Linux systems have no parent-death
// signal, so a crashed test may leak the server there.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
