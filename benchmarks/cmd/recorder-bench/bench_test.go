package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/benchmarks/encoderbench"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/testbin"
)

// benchBin is the recorder-bench binary under test, built once by TestMain.
var benchBin string

func TestMain(m *testing.M) {
	testbin.Main(m, func(dir string) { benchBin = filepath.Join(dir, "recorder-bench") },
		testbin.Binary{Name: "recorder-bench", Package: "."})
}

// runBin runs recorder-bench with args and returns its stderr and exit code.
func runBin(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, benchBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stderr.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("recorder-bench %v: %v", args, err)
	}
	return stderr.String(), 0
}

// TestBenchFlagValidation: bad input to recorder-bench is a usage error (exit 2) naming what
// is wrong and the valid values, before anything starts.
func TestBenchFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says []string
	}{
		{[]string{"--scenes", "idle,gaming"}, []string{`unknown scene "gaming"`, strings.Join(encoderbench.SceneNames(), ", ")}},
		{[]string{"--resolutions", "1080p,8k"}, []string{`unknown resolution "8k"`, "720p, 1080p, 1440p, 4k"}},
		{[]string{"--encoders", "h266"}, []string{`unknown encoder "h266"`, "auto, all", "libx264"}},
		{[]string{"--encoders", "libx264", "--presets", "turbo"}, []string{`unknown preset "turbo" for libx264`, "ultrafast"}},
		{[]string{"--rounds", "0"}, []string{"rounds"}},
		{[]string{"--fps", "0"}, []string{"fps", "1-60"}},
		{[]string{"--encode-only=sometimes"}, []string{"encode-only", "also, only or off"}},
		{[]string{"--duration", "100ms"}, []string{"duration"}},
	} {
		stderr, code := runBin(t, append([]string{"--plan"}, tc.args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, stderr)
		}
		for _, s := range tc.says {
			if !strings.Contains(stderr, s) {
				t.Errorf("%v: stderr %q does not say %q", tc.args, stderr, s)
			}
		}
	}
	if stderr, code := runBin(t, "encode-child", "--size", "64", "--raw", "x", "--out", "y", "--frames", "1"); code != 2 || !strings.Contains(stderr, "--size") {
		t.Errorf("encode-child --size 64: exit %d, stderr %q", code, stderr)
	}
}

// TestBenchQuickPlan: --quick's matrix, with explicit flags on top.
func TestBenchQuickPlan(t *testing.T) {
	mediatest.SkipIfUnavailable(t) // the plan asks ffmpeg which encoders it has
	stderr, code := runBin(t, "--quick", "--plan")
	if code != 0 || !strings.Contains(stderr, "2 stage(s), 2 live cell(s) × 1 round(s)") || !strings.Contains(stderr, "estimated") {
		t.Errorf("--quick --plan: exit %d, stderr %q", code, stderr)
	}
	stderr, code = runBin(t, "--quick", "--scenes", "typing", "--encode-only", "only", "--plan")
	if code != 0 || !strings.Contains(stderr, "1 stage(s), 0 live cell(s)") || !strings.Contains(stderr, "1 encode-only cell(s)") {
		t.Errorf("--quick --scenes typing --encode-only only --plan: exit %d, stderr %q", code, stderr)
	}
}

// TestBenchUsageErrorsExit2: cobra's own errors in how recorder-bench is called exit 2 too.
func TestBenchUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "recorder-bench"`},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"--rounds", "many"}, `invalid argument "many"`},
		{[]string{"encode-child", "extra"}, `unknown command "extra" for "recorder-bench encode-child"`},
	} {
		stderr, code := runBin(t, tc.args...)
		if code != 2 || !strings.HasPrefix(stderr, "recorder-bench: ") || !strings.Contains(stderr, tc.says) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.says)
		}
	}
}

// TestBenchHelpEncoders: the help line of --encoders names its value and keeps its text whole
// (pflag turns the first back-quoted word of a usage into the value's name).
func TestBenchHelpEncoders(t *testing.T) {
	out, err := exec.Command(benchBin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(string(out)) {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "--encoders" {
			line = strings.Join(f, " ")
		}
	}
	want := `--encoders list comma-separated list: auto (what "recorder record --encoder auto" picks here), all (every usable one), or registry names (default "auto")`
	if line != want {
		t.Errorf("help line of --encoders:\n got %s\nwant %s", line, want)
	}
}
