package main

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/screenrec/recorder/internal/cli"
)

// runInProcess runs the recorder's command tree with args, as main does, and returns the
// exit status main would exit with and what it would print on stderr.
func runInProcess(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRoot()
	root.SetOut(io.Discard)
	var stderr strings.Builder
	code := cli.Run(context.Background(), root, args, &stderr)
	return code, stderr.String()
}

// The real binary exits with the status cli.Run gives: 2 for a usage error, 1 for a failure.
func TestUsageErrorExitsTheProcessWith2(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]int{"bogus": 2, "monitors --display :1987": 1} {
		code, stderr := exitCode(t, strings.Fields(args)...)
		if code != want || !strings.HasPrefix(stderr, "recorder: ") || !onlyLine(stderr) {
			t.Errorf("recorder %s: exit %d, stderr %q; want %d and one line", args, code, stderr, want)
		}
	}
}

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
// exits 2 with one line naming it; work that fails exits 1. The table runs the command tree
// in this process (what main runs, through cli.Run, which gives the status main exits with);
// TestUsageErrorExitsTheProcessWith2 checks the real binary's status.
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
			code, stderr := runInProcess(t, c.args...)
			if code != c.code {
				t.Errorf("recorder %v: exit %d, want %d (stderr %q)", c.args, code, c.code, stderr)
			}
			if c.says != "" && (!strings.HasPrefix(stderr, "recorder: ") || !onlyLine(stderr) || !strings.Contains(stderr, c.says)) {
				t.Errorf("recorder %v: stderr %q, want one line saying %q", c.args, stderr, c.says)
			}
		})
	}
}
