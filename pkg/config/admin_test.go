package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAdminDefaults(t *testing.T) {
	c := mustParse(t, nil)
	if c.Admin.Enabled || c.Admin.Listen != DefaultAdminListen || c.Admin.Token != nil {
		t.Errorf("admin = %+v, want disabled on %s with no token", c.Admin, DefaultAdminListen)
	}
	if DefaultAdminListen != "127.0.0.1:9464" {
		t.Errorf("DefaultAdminListen = %q: the admin API must default to loopback", DefaultAdminListen)
	}
	// Disabled, a token is optional but still checked.
	mustParse(t, doc("admin: {listen: '[::1]:0'}"))
	mustParse(t, doc("admin: {token: {file: /run/secrets/admin}}"))
}

func TestAdminErrors(t *testing.T) {
	const inline = "hunter2-hunter2-hunter2"
	tests := []struct {
		name string
		data []byte
		env  []string
		want string
		kind error
	}{
		{"enabled without a token", doc("admin:", "  enabled: true"), nil,
			`x.yaml:1: admin.token: required when admin.enabled is true: the API's bearer token, as {env: NAME} or {file: PATH}`, ErrBadValue},
		{"inline token", doc("admin:", "  enabled: true", "  token: "+inline), nil,
			`x.yaml:3: admin.token: a secret must be a reference, {env: NAME} or {file: PATH}, not written inline`, ErrSecret},
		{"inline token in a mapping", doc("admin:", "  token: {value: "+inline+"}"), nil,
			`x.yaml:2: admin.token: a secret must be a reference, {env: NAME} or {file: PATH}, not written inline`, ErrSecret},
		{"both env and file", doc("admin:", "  token: {env: A, file: /b}"), nil,
			`x.yaml:2: admin.token: a secret reference takes env or file, not both`, ErrSecret},
		{"empty env name", doc("admin:", "  token: {env: ''}"), nil,
			`x.yaml:2: admin.token: a secret reference's env must be a variable name`, ErrSecret},
		{"bad listen", doc("admin:", "  listen: '9464'"), nil,
			`x.yaml:2: admin.listen: bad listen address "9464": missing port in address: write host:port, e.g. "127.0.0.1:8080"`, ErrBadValue},
		// A number where a string belongs is refused, not turned into text.
		{"number for listen", doc("admin:", "  listen: 9464"), nil,
			`x.yaml:2: admin.listen: expected a string, got an integer "9464"`, ErrWrongType},
		{"enabled by the environment without a token", nil, []string{"RECORDER_ADMIN_ENABLED=true"},
			`x.yaml: admin.token: required when admin.enabled is true: the API's bearer token, as {env: NAME} or {file: PATH}`, ErrBadValue},
		{"bad boolean from the environment", nil, []string{"RECORDER_ADMIN_ENABLED=yes"},
			`$RECORDER_ADMIN_ENABLED: admin.enabled: "yes" is not a boolean (true or false)`, ErrEnv},
		{"bad listen from the environment", nil, []string{"RECORDER_ADMIN_LISTEN=nowhere"},
			`$RECORDER_ADMIN_LISTEN: admin.listen: bad listen address "nowhere": missing port in address: write host:port, e.g. "127.0.0.1:8080"`, ErrBadValue},
		{"unknown key", doc("admin:", "  tokn: {env: X}"), nil,
			`x.yaml:2: admin.tokn: unknown key; did you mean "token"?`, ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", tt.data, tt.env)
			checkErr(t, err, tt.want, tt.kind)
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}

func TestAdminEnvOverrides(t *testing.T) {
	c := mustParse(t, doc("admin:", "  token: {file: /run/secrets/admin}"),
		"RECORDER_ADMIN_ENABLED=true", "RECORDER_ADMIN_LISTEN=0.0.0.0:9000", "RECORDER_ADMIN_TOKEN=from-the-environment-0123")
	want := Admin{Enabled: true, Listen: "0.0.0.0:9000", Token: map[string]any{"env": EnvAdminToken}}
	if !reflect.DeepEqual(c.Admin, want) {
		t.Errorf("admin = %+v, want %+v (the token stays a reference to the variable)", c.Admin, want)
	}
	env := func(name string) (string, bool) {
		if name == EnvAdminToken {
			return "from-the-environment-0123", true
		}
		return "", false
	}
	if tok, err := c.AdminToken(env); err != nil || tok != "from-the-environment-0123" {
		t.Errorf("AdminToken = %q, %v", tok, err)
	}
}

func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte("token-from-a-file-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "recorder.yaml")
	// A relative file reference is resolved against the config file's folder.
	if err := os.WriteFile(cfg, doc("admin:", "  enabled: true", "  token: {file: admin-token}"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := c.AdminToken(nil); err != nil || tok != "token-from-a-file-0123" {
		t.Errorf("AdminToken from a relative file = %q, %v", tok, err)
	}

	env := func(vals map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	}
	c = mustParse(t, doc("admin:", "  enabled: true", "  token: {env: ADMIN_TOKEN}"))
	_, err = c.AdminToken(env(nil))
	checkErr(t, err, "x.yaml:3: admin.token: env ADMIN_TOKEN is not set", ErrSecret)
	_, err = c.AdminToken(env(map[string]string{"ADMIN_TOKEN": "short-secret"}))
	checkErr(t, err, "x.yaml:3: admin.token: env ADMIN_TOKEN holds a token of 12 characters: use at least 16 (e.g. openssl rand -hex 32)", ErrSecret)
	if err != nil && strings.Contains(err.Error(), "short-secret") {
		t.Errorf("the error quotes the token: %v", err)
	}
	if tok, err := c.AdminToken(env(map[string]string{"ADMIN_TOKEN": "0123456789abcdef"})); err != nil || tok != "0123456789abcdef" {
		t.Errorf("AdminToken = %q, %v", tok, err)
	}
	_, err = mustParse(t, nil).AdminToken(env(nil))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "admin.token: not set") {
		t.Errorf("AdminToken with no token = %v", err)
	}
}

// make run's config serves the admin API on loopback with the token from the environment.
func TestDefaultConfigFileEnablesAdminOnLoopback(t *testing.T) {
	c, err := Load(filepath.Join(configsDir, "recorder.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Admin{Enabled: true, Listen: DefaultAdminListen, Token: map[string]any{"env": EnvAdminToken}}
	if !reflect.DeepEqual(c.Admin, want) {
		t.Errorf("recorder.yaml admin = %+v, want %+v", c.Admin, want)
	}
}
