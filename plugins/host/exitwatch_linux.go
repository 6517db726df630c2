//go:build linux

package host

import (
	"os"

	"golang.org/x/sys/unix"
)

// watchExit returns a channel closed once process pid has exited, and a function that stops
// watching (and must be called). It waits on a pidfd in Go's network poller: no thread and no
// timer while the process lives. ok is false when the kernel has no pidfd (before 5.3): the
// caller then polls.
func watchExit(pid int) (exited <-chan struct{}, stop func(), ok bool) {
	if pid <= 0 {
		return nil, nil, false
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, nil, false
	}
	// Non-blocking, so that os.NewFile gives a file the poller waits on.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, nil, false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, false
	}
	ch := make(chan struct{})
	go func() {
		// A pidfd becomes readable when its process exits. The first call only arms the
		// wait; Read returns an error once stop closes the file.
		first := true
		err := rc.Read(func(uintptr) bool {
			if first {
				first = false
				return false
			}
			return true
		})
		if err == nil {
			close(ch)
		}
	}()
	return ch, func() { f.Close() }, true
}
