// Package tmpfs mounts small tmpfs file systems for tests that need a disk that fills up.
package tmpfs

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
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

// Fill writes a file of zeros into dir, an outside writer, until at most leave bytes are free
// on its file system (0: until it is full, ENOSPC) and returns its path; removing it frees the
// space again.
func Fill(t testing.TB, dir string, leave int64) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 16<<10)
	for Free(t, dir) > leave {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	return f.Name()
}

// Free is the space available on dir's file system.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
