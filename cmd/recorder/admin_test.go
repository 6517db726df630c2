package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A bad admin section stops `recorder run` before anything starts: exit 2, one line naming
// admin.token, and never the token.
func TestRunRejectsBadAdminConfig(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	cases := []struct{ body, want string }{
		{"admin: {enabled: true}\n", "admin.token: required when admin.enabled is true"},
		{"admin: {enabled: true, token: {env: RECORDER_TEST_UNSET_TOKEN}}\n", "admin.token: env RECORDER_TEST_UNSET_TOKEN is not set"},
		{"admin: {enabled: true, token: {env: RECORDER_TEST_SHORT_TOKEN}}\n", "admin.token: env RECORDER_TEST_SHORT_TOKEN holds a token of 9 characters: use at least 16"},
		{"admin: {enabled: true, token: inline-secret-0123456789}\n", "admin.token: a secret must be a reference"},
	}
	for _, c := range cases {
		cfg := writeConfig(t, "spool_dir: "+t.TempDir()+"\n"+c.body)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, recorderBin, "run", "--config", cfg)
		cmd.Env = d.srv.Env()
		if strings.Contains(c.body, "RECORDER_TEST_SHORT_TOKEN") {
			// Set only where the config names it: any other RECORDER_ variable is refused.
			cmd.Env = append(cmd.Env, "RECORDER_TEST_SHORT_TOKEN=too-short")
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%q: exit %v, want 2", c.body, err)
		}
		msg := stderr.String()
		if !strings.Contains(msg, c.want) || !onlyLine(lastLine(msg)) {
			t.Errorf("%q: stderr %q lacks %q", c.body, msg, c.want)
		}
		if strings.Contains(msg, "too-short") || strings.Contains(msg, "inline-secret") {
			t.Errorf("%q: stderr quotes the token: %q", c.body, msg)
		}
		if stdout.Len() > 0 {
			t.Errorf("%q: something started: %q", c.body, stdout.String())
		}
	}
}
