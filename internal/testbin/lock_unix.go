//go:build unix

package testbin

import (
	"os"
	"syscall"
)

// lockBuild holds an exclusive lock on path (created if missing) until unlock is called, so
// that test packages running at once (go test -p) build one binary once: the second waits
// and links the first one's build rather than compiling the same packages beside it.
func lockBuild(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing releases the lock
}
