package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `recorder config check` gives the answer `recorder run` would, without starting anything:
// exit 0 for a good config, 2 with the same error otherwise, adapters' sections included
// (their plugin processes check them).
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const probeAt = "frontends:\n  - name: probe\n    config: {listen: '127.0.0.1:1'}\n"
	for _, c := range []struct {
		name, body string
		code       int
		says       string
	}{
		{"good.yaml", "spool_dir: " + dir + "\n" + probeAt + "uploaders:\n  - name: noop\n", 0, ""},
		{"typo.yaml", "spool_dir: " + dir + "\nengine:\n  fpss: 10\n", 2, `typo.yaml:3: engine.fpss: unknown key; did you mean "fps"?`},
		{"encoder.yaml", "spool_dir: " + dir + "\nengine:\n  encoders: [h265_magic]\n", 2, `engine.encoders[0]: unknown encoder "h265_magic"`},
		{"adapter.yaml", "spool_dir: " + dir + "\nfrontends:\n  - name: probe\n    config: {listen: 7}\n", 2, "frontends[0] (probe): config.listen: not a string"},
		{"plugin.yaml", "spool_dir: " + dir + "\nuploaders:\n  - name: webdav\n", 2, "unknown plugin: uploaders[0] (webdav)"},
	} {
		path := write(c.name, c.body)
		code, stderr := exitCode(t, "config", "check", "--config", path)
		if code != c.code || !strings.Contains(stderr, c.says) {
			t.Errorf("config check %s: exit %d, stderr %q; want exit %d saying %q", c.name, code, stderr, c.code, c.says)
		}
	}
}
