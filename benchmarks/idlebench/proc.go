package idlebench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times: USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

// cpuTime is the user+system CPU time a process (all its threads, not its children) has used
// so far, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its closing ')' are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad CPU times %q %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}

// memory is a process's resident set now and at its peak, in MiB, from /proc/<pid>/status.
func memory(pid int) (rss, peak float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			peak = kb / 1024
		}
	}
	return rss, peak, sc.Err()
}

// window is what a process used over a measuring window.
type window struct {
	CPU     float64 `json:"cpu_s"`        // user+system seconds
	Wall    float64 `json:"wall_s"`       // the window's length
	Core    float64 `json:"core_percent"` // CPU / wall, % of one core
	RSS     float64 `json:"rss_mib"`      // resident set at the window's end
	PeakRSS float64 `json:"peak_rss_mib"` // the process's peak resident set so far
}

// measure samples pid's CPU time now and after d (or when stop closes first), and its memory
// at the end.
func measure(pid int, d time.Duration, stop <-chan struct{}) (window, error) {
	c0, err := cpuTime(pid)
	if err != nil {
		return window{}, err
	}
	t0 := time.Now()
	select {
	case <-time.After(d):
	case <-stop:
		return window{}, fmt.Errorf("process %d ended during the measuring window", pid)
	}
	c1, err := cpuTime(pid)
	if err != nil {
		return window{}, err
	}
	wall := time.Since(t0)
	w := window{CPU: (c1 - c0).Seconds(), Wall: wall.Seconds()}
	w.Core = 100 * w.CPU / w.Wall
	w.RSS, w.PeakRSS, err = memory(pid)
	return w, err
}
