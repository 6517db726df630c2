package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// exitCode runs the recorder binary without a display and returns its exit status and stderr.
func exitCode(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(recorderBin, args...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatalf("recorder %v: %v", args, err)
	}
	return 0, stderr.String()
}

// TestUsageErrorsExit2: every error in how the recorder is called, cobra's own included,
// exits 2 with one line naming it; work that fails exits 1.
func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"record"}, 2, `required flag(s) "out" not set`},
		{[]string{"bogus"}, 2, `unknown command "bogus" for "recorder"`},
		{[]string{"--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"record", "--out", "x.mp4", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"record", "--out", "x.mp4", "extra"}, 2, `unknown command "extra" for "recorder record"`},
		{[]string{"record", "--out", "x.mp4", "--fps", "ten"}, 2, `invalid argument "ten"`},
		{[]string{"monitors", "extra"}, 2, `unknown command "extra"`},
		{[]string{"plugins", "bogus"}, 2, `unknown command "bogus" for "recorder plugins"`},
		{[]string{"uploads", "retry"}, 2, "accepts 1 arg(s), received 0"},
		{[]string{"--log-level", "loud", "encoders"}, 2, `--log-level "loud"`},
		{[]string{"monitors", "--display", ":1987"}, 1, "display unreachable"},
		{[]string{"help", "record"}, 0, ""},
		{[]string{"--version"}, 0, ""},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stderr := exitCode(t, c.args...)
			if code != c.code {
				t.Errorf("recorder %v: exit %d, want %d (stderr %q)", c.args, code, c.code, stderr)
			}
			if c.says != "" && (!strings.HasPrefix(stderr, "recorder: ") || !onlyLine(stderr) || !strings.Contains(stderr, c.says)) {
				t.Errorf("recorder %v: stderr %q, want one line saying %q", c.args, stderr, c.says)
			}
		})
	}
}
