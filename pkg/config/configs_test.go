package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/screenrec/recorder/pkg/secret"
)

// The sample configs under configs/ double as golden tests: every one must load, validate,
// map onto a valid engine.Config and resolve its secret references, and none may hold a
// secret inline.

const configsDir = "../../configs"

// sampleConfigs lists every file under configs/; each must be a .yaml config.
func sampleConfigs(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(configsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if filepath.Ext(path) != ".yaml" {
			t.Errorf("%s: configs/ holds only .yaml config files", path)
			return nil
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d configs under %s (%v), want at least recorder.yaml and the samples", len(files), configsDir, files)
	}
	return files
}

// fakeEnv sets every variable: secret references by environment resolve.
func fakeEnv(name string) (string, bool) { return "fake-" + name, true }

// withFakeFiles returns a copy of v with every {file: PATH} reference pointing at a file
// that exists (the samples name files on deployment hosts).
func withFakeFiles(t *testing.T, v any) any {
	if s, ok, _ := secret.Parse(v); ok && s.File != "" {
		p := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(p, []byte("fake-file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"file": p}
	}
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = withFakeFiles(t, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withFakeFiles(t, e)
		}
		return out
	}
	return v
}

func TestSampleConfigsLoad(t *testing.T) {
	for _, path := range sampleConfigs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// No environment: the files alone must be valid.
			c, err := Parse(path, data, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			for _, list := range [][]Adapter{c.Frontends, c.Uploaders} {
				for i := range list {
					list[i].Config, _ = withFakeFiles(t, list[i].Config).(map[string]any)
				}
			}
			r, err := c.Resolved(fakeEnv)
			if err != nil {
				t.Fatalf("Resolved: %v", err)
			}
			// Listen addresses are valid wherever they are.
			for _, a := range append(r.Frontends, r.Uploaders...) {
				if l, ok := a.Config["listen"].(string); ok {
					if err := ValidateListen(l); err != nil {
						t.Errorf("%s: %v", a.Name, err)
					}
				}
			}
		})
	}
}

func TestDefaultConfigFile(t *testing.T) {
	path := filepath.Join(configsDir, "recorder.yaml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Frontends) != 1 || c.Frontends[0].Name != "probe" || c.Frontends[0].Config["listen"] != "127.0.0.1:18080" {
		t.Errorf("frontends = %+v, want probe on 127.0.0.1:18080", c.Frontends)
	}
	if len(c.Uploaders) != 1 || c.Uploaders[0].Name != "noop" {
		t.Errorf("uploaders = %+v, want noop", c.Uploaders)
	}
	// spool_dir is relative to the file: the repository's spool/.
	repo, _ := filepath.Abs("../..")
	if want := filepath.Join(repo, "spool"); c.SpoolDir != want {
		t.Errorf("spool_dir = %q, want %q", c.SpoolDir, want)
	}
	// The engine section writes out the defaults, but for one deliberate departure: the demo's
	// noop uploader stores nothing, so its "uploaded" recordings are kept.
	if !c.Upload.KeepUploaded {
		t.Error("recorder.yaml must keep uploaded recordings: its noop uploader stores them nowhere")
	}
	d := Default()
	d.Upload.KeepUploaded = true
	if fmt.Sprint(c.Engine.Encoders, c.Engine.FPS, c.Engine.MaxSessions, c.Engine.SegmentDuration, c.Engine.MinFreeDisk, *c.Engine.DrawMouse, c.Engine.MaskColor, c.Upload, c.Log, c.Telemetry) !=
		fmt.Sprint(d.Engine.Encoders, d.Engine.FPS, d.Engine.MaxSessions, d.Engine.SegmentDuration, d.Engine.MinFreeDisk, *d.Engine.DrawMouse, d.Engine.MaskColor, d.Upload, d.Log, d.Telemetry) {
		t.Errorf("recorder.yaml's engine/upload/log/telemetry differ from the defaults: %+v %+v %+v %+v", c.Engine, c.Upload, c.Log, c.Telemetry)
	}
}

// secretWords end the names of keys that hold secrets (or lists of them). A key is judged by
// its last word: token_ttl is a duration, secret_sha256 a hash, key_file a path and
// active_key_id an id, while api_key, password, Token and access_keys hold secrets.
var secretWords = map[string]bool{"password": true, "passwd": true, "token": true, "tokens": true,
	"secret": true, "secrets": true, "key": true, "keys": true, "credential": true, "credentials": true}

func secretName(k string) bool {
	var b strings.Builder
	for i, r := range k {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	words := strings.FieldsFunc(b.String(), func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	return len(words) > 0 && secretWords[words[len(words)-1]]
}

func inlineSecrets(path string, v any, secretish bool) []string {
	if secret.IsRef(v) {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		// A secret-named object's own fields are judged by their names ({id, secret_sha256}
		// under access_keys are not secrets); all of a malformed reference is the secret's.
		_, env := x["env"]
		_, file := x["file"]
		inherit := secretish && (env || file)
		var out []string
		for k, e := range x {
			own := secretName(k)
			out = append(out, inlineSecrets(joinPath(path, k), e, inherit || own)...)
		}
		return out
	case []any:
		var out []string
		for i, e := range x {
			out = append(out, inlineSecrets(fmt.Sprintf("%s[%d]", path, i), e, secretish)...)
		}
		return out
	case nil:
		return nil
	}
	if secretish {
		return []string{path}
	}
	return nil
}

func TestSampleConfigsHaveNoInlineSecrets(t *testing.T) {
	for _, path := range sampleConfigs(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(path, data, nil)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, kind := range []struct {
			section string
			list    []Adapter
		}{{"frontends", c.Frontends}, {"uploaders", c.Uploaders}} {
			for i, a := range kind.list {
				for _, p := range inlineSecrets(fmt.Sprintf("%s[%d].config", kind.section, i), a.Config, false) {
					t.Errorf("%s: %s: a secret written inline; use {env: NAME} or {file: PATH}", c.Where(p), p)
				}
			}
		}
	}
}

func TestInlineSecretsCatches(t *testing.T) {
	cfg := map[string]any{
		"password": "hunter2",
		"api_key":  map[string]any{"env": "K"},
		"auth":     map[string]any{"Token": 12345, "user": "u"},
		"tokens":   []any{"a", map[string]any{"file": "/x"}},
		"secret":   map[string]any{"env": "A", "other": "inline"},
		"listen":   ":1",
		"key_file": "/etc/recorder/tls.key", // a path to a secret is a reference already
		// Identifiers and hashes under a secret-named list are not secrets.
		"access_keys":   []any{map[string]any{"id": "ops", "secret_sha256": "9f86d0", "permissions": []any{"Record"}}},
		"active_key_id": "2026-11",
		"token_ttl":     "3600s",
		"apiKey":        "inline-camel",
	}
	got := inlineSecrets("c", cfg, false)
	want := []string{"c.apiKey", "c.auth.Token", "c.password", "c.secret.env", "c.secret.other", "c.tokens[0]"}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("inlineSecrets = %v, want %v", got, want)
	}
}
