//go:build linux

package xvfb

import "syscall"

// sysProcAttr puts Xvfb in its own process group, so Close can also reach
// helpers it spawns (xkbcomp), and asks the kernel to SIGKILL it when its
// parent dies, so a crashed or killed test binary does not leak servers.
//
// Pdeathsig fires when the OS thread that started the child exits, not the
// whole process. The Go runtime only retires threads whose goroutine exited
// while locked with runtime.LockOSThread, which Start never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
