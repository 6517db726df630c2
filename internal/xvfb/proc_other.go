//go:build !unix

package xvfb

import "syscall"

// platformSupported reports whether this platform can run Xvfb servers.
// Without process groups Close could not reliably stop a server, so the
// package refuses to start any.
const platformSupported = false

// sysProcAttr is never used on this platform; Available fails first.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup is never used on this platform; Available fails first.
func signalGroup(pid int, force bool) error { return ErrUnsupported }
