//go:build unix

package xvfb

import (
	"errors"
	"syscall"
)

// platformSupported reports whether this platform can run Xvfb servers.
const platformSupported = true

// signalGroup sends a graceful (SIGTERM) or forceful (SIGKILL) signal to
// the process group led by pid. A group that no longer exists is not an
// error: the goal, no running processes, is already met.
func signalGroup(pid int, force bool) error {
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
