//go:build linux

// Package memtrim gives back the pages of the program's own executable that only start-up
// touched. Every package's initialisation runs at start-up, scattered over the binary, and
// the kernel maps each touched page's neighbours too (fault-around), so a large Go binary is
// mostly resident before main runs (about 23 MiB of the recorder's 32 MiB) though little of
// it runs again. Trim drops those pages from the process (they stay in the page cache) and
// asks the kernel to map only the pages touched from then on.
package memtrim

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Trim releases the executable's file-backed pages; the program keeps running unchanged and
// pages it needs again fault back in one by one. It reports what it could not do.
func Trim() error {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("memtrim: %w", err)
	}
	defer f.Close()
	var firstErr error
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "/") || strings.HasPrefix(fields[5], "/SYSV") ||
			strings.Contains(fields[1], "w") {
			continue // not a file, or writable: data the program changed
		}
		bounds := strings.SplitN(fields[0], "-", 2)
		start, err1 := strconv.ParseUint(bounds[0], 16, 64)
		end, err2 := strconv.ParseUint(bounds[1], 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_PAGEOUT} {
			// The raw call: the range is the program's own mapping, not Go memory.
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), advice); errno != 0 && firstErr == nil {
				firstErr = fmt.Errorf("memtrim: madvise %d on %s: %w", advice, fields[0], errno)
			}
		}
	}
	return firstErr
}
