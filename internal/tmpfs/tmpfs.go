// Package tmpfs mounts small tmpfs file systems for tests that need a disk that fills up.
package tmpfs

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// MountForTest mounts a tmpfs of size bytes on a new folder and returns the folder; it is
// unmounted when the test ends. The test is skipped under -short, when not run as root, or
// when mount fails (e.g. in a container without CAP_SYS_ADMIN).
func MountForTest(t testing.TB, size int64) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a tmpfs mount: skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Fill writes a file of zeros into dir until its file system is full (ENOSPC) and returns
// its path; removing it frees the space again.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			return f.Name()
		}
	}
}
