// Package benchmarks measures the recorder against the ffmpeg CLI doing the same capture and
// encode, alternating the two in one run so that both see the same machine.
package benchmarks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Usage is what one run of a command cost.
type Usage struct {
	// Tool is "recorder" or "ffmpeg".
	Tool string `json:"tool"`
	// CPU is user+system time, in seconds.
	CPU float64 `json:"cpu_s"`
	// User and Sys split CPU into user and kernel time, in seconds.
	User float64 `json:"user_s"`
	Sys  float64 `json:"sys_s"`
	// MaxRSS is the peak resident set, in MiB.
	MaxRSS float64 `json:"max_rss_mib"`
	// Wall is the run's wall time, in seconds.
	Wall float64 `json:"wall_s"`
	// Frames is how many frames the output file holds.
	Frames int `json:"frames"`
	// Bytes is the output file's size.
	Bytes int64 `json:"bytes"`
}

// Run runs argv with env, waits for it, and returns its resource usage.
func Run(ctx context.Context, tool string, env []string, argv ...string) (Usage, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	return RunCmd(tool, cmd)
}

// RunCmd starts cmd, waits for it, and returns its resource usage: user+system CPU and max RSS
// of the child (and any children it waited for) from wait4's rusage, and wall time. Callers
// set cmd's context, environment and stdout; stderr, when unset, is kept for the error.
func RunCmd(tool string, cmd *exec.Cmd) (Usage, error) {
	var stderr strings.Builder
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return Usage{}, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, tail(stderr.String(), 400))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return Usage{}, fmt.Errorf("%s: no rusage on this platform", tool)
	}
	user, sys := time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	return Usage{Tool: tool, CPU: (user + sys).Seconds(), User: user.Seconds(), Sys: sys.Seconds(),
		MaxRSS: float64(ru.Maxrss) / 1024, Wall: wall.Seconds()}, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Median returns the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// FileSize returns path's size, or 0.
func FileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
