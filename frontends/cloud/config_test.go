package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
)

func TestConfigureDefaults(t *testing.T) {
	m := testConfigMap()
	for _, k := range []string{"listen", "active_key_id", "confirm_window", "engine_timeout"} {
		delete(m, k)
	}
	st, diags := loadSettings(mustJSON(t, m))
	if st == nil {
		t.Fatalf("refused: %+v", diags)
	}
	c := st.cfg
	if c.Listen != DefaultListen || c.TokenTTL != time.Hour || c.ConfirmWindow != 2*time.Second ||
		c.EngineTimeout != 10*time.Second || st.active != "a" || c.HTTPSListen != "" {
		t.Errorf("defaults: %+v, active %q", c, st.active)
	}
	if st.users["1234567"] != ":10" || st.users["carol"] != "" {
		t.Errorf("users %v", st.users)
	}
	// Printing the config never shows a signing key.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, c); strings.Contains(out, testKeyA) {
			t.Errorf("%s of the config shows the signing key: %s", verb, out)
		}
	}
}

func TestConfigureSchema(t *testing.T) {
	schema, err := New().ConfigSchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]sdk.Field{}
	for _, f := range schema.Fields {
		fields[f.Name] = f
	}
	configKeys := []string{"listen", "https_listen", "cert_file", "key_file", "users", "access_keys",
		"signing_keys", "active_key_id", "token_ttl", "confirm_window", "engine_timeout"}
	for _, k := range configKeys {
		if _, ok := fields[k]; !ok {
			t.Errorf("schema lacks %q", k)
		}
	}
	for _, k := range []string{"users", "access_keys", "signing_keys"} {
		if !fields[k].Required {
			t.Errorf("%s is not marked required", k)
		}
	}
	if !fields["signing_keys[].key"].Secret {
		t.Error("the signing keys' key is not marked secret")
	}
	// The host checks Secret on top-level keys, whose whole value must then be a reference:
	// signing_keys is a list of {id, key}, so it must not be marked.
	for _, k := range configKeys {
		if fields[k].Secret {
			t.Errorf("top-level %q is marked secret", k)
		}
	}
	if fields["listen"].Default != DefaultListen || fields["token_ttl"].Default != "3600s" ||
		fields["confirm_window"].Default != "2s" || fields["engine_timeout"].Default != "10s" {
		t.Errorf("defaults in the schema: %+v", schema.Fields)
	}
}

// TestConfigureDiagnostics: each bad config gets exactly one diagnostic of that severity,
// naming the field.
func TestConfigureDiagnostics(t *testing.T) {
	type mod = func(m map[string]any)
	set := func(k string, v any) mod { return func(m map[string]any) { m[k] = v } }
	del := func(k string) mod { return func(m map[string]any) { delete(m, k) } }
	firstOf := func(list string, k string, v any) mod {
		return func(m map[string]any) { m[list].([]any)[0].(map[string]any)[k] = v }
	}
	const errorSev, warning = sdk.SeverityError, sdk.SeverityWarning
	for _, c := range []struct {
		name     string
		mod      mod
		field    string
		severity sdk.Severity
		summary  string
	}{
		{"MissingSigningKeys", del("signing_keys"), "signing_keys", errorSev, "missing signing_keys"},
		{"EmptySigningKeys", set("signing_keys", []any{}), "signing_keys", errorSev, "missing signing_keys"},
		{"ShortSigningKey", firstOf("signing_keys", "key", "only-31-bytes-long-0123456789ab"), "signing_keys[0].key", errorSev, "too short"},
		{"SigningKeyNotAString", firstOf("signing_keys", "key", map[string]any{"env": "X"}), "signing_keys[0].key", errorSev, "not a string"},
		{"SigningKeyMissing", firstOf("signing_keys", "key", nil), "signing_keys[0].key", errorSev, "missing key"},
		{"DuplicateSigningKey", func(m map[string]any) { firstOf("signing_keys", "id", "b")(m); m["active_key_id"] = "b" }, "signing_keys[1].id", errorSev, "duplicate"},
		{"UnknownActiveKey", set("active_key_id", "c"), "active_key_id", errorSev, "unknown signing key"},
		{"BadAccessKeyHash", firstOf("access_keys", "secret_sha256", "abc123"), "access_keys[0].secret_sha256", errorSev, "bad secret hash"},
		{"AccessKeyHashNotHex", firstOf("access_keys", "secret_sha256", strings.Repeat("zz", 32)), "access_keys[0].secret_sha256", errorSev, "bad secret hash"},
		{"AccessKeyNoID", firstOf("access_keys", "id", ""), "access_keys[0].id", errorSev, "missing id"},
		{"UnknownPermission", firstOf("access_keys", "permissions", []any{PermissionRecordScreenInteraction, "Frobnicate"}), "access_keys[0].permissions[1]", warning, "unknown permission"},
		{"EmptyPermission", firstOf("access_keys", "permissions", []any{PermissionRecordScreenInteraction, ""}), "access_keys[0].permissions[1]", errorSev, "empty permission"},
		{"NoAccessKeys", set("access_keys", nil), "access_keys", errorSev, "missing access_keys"},
		{"BadDisplay", firstOf("users", "display", "localhost"), "users[0].display", errorSev, "bad X display"},
		{"SharedDisplay", firstOf("users", "display", ":11"), "users[1].display", warning, "shared display"},
		{"DuplicateUser", firstOf("users", "id", "alice"), "users[1].id", errorSev, "duplicate user"},
		{"UserNoID", firstOf("users", "id", ""), "users[0].id", errorSev, "missing id"},
		{"UserSpaces", firstOf("users", "id", " 1234567"), "users[0].id", errorSev, "bad user id"},
		{"UnknownUserKey", firstOf("users", "dsplay", ":3"), "users[0].dsplay", errorSev, "unknown key"},
		{"NoUsers", set("users", []any{}), "users", errorSev, "missing users"},
		{"UsersNotAList", set("users", map[string]any{"1234567": ":0"}), "users", errorSev, "not a list"},
		{"UserNotAnObject", set("users", []any{"1234567"}), "users[0]", errorSev, "not an object"},
		{"BadListen", set("listen", "127.0.0.1:99999"), "listen", errorSev, "bad listen address"},
		{"ListenNotAString", set("listen", 8744), "listen", errorSev, "not a string"},
		{"PlainHTTPOnTheNetwork", set("listen", "0.0.0.0:8744"), "listen", warning, "plain HTTP"},
		{"UnknownKey", set("lisen", "127.0.0.1:0"), "lisen", errorSev, "unknown key"},
		{"HTTPSWithoutCert", set("https_listen", "127.0.0.1:0"), "https_listen", errorSev, "needs a certificate"},
		{"CertWithoutKey", set("cert_file", "/nonexistent/cert.pem"), "key_file", errorSev, "missing key_file"},
		{"CertWithoutHTTPS", func(m map[string]any) { m["cert_file"], m["key_file"] = "/x/c.pem", "/x/k.pem" }, "https_listen", errorSev, "missing https_listen"},
		{"UnreadableCert", func(m map[string]any) {
			m["cert_file"], m["key_file"], m["https_listen"] = "/nonexistent/c.pem", "/nonexistent/k.pem", "127.0.0.1:0"
		}, "cert_file", errorSev, "cannot load"},
		{"BadTokenTTL", set("token_ttl", "abc"), "token_ttl", errorSev, "not a duration"},
		{"ZeroTokenTTL", set("token_ttl", "0s"), "token_ttl", errorSev, "out of range"},
		{"FractionalTokenTTL", set("token_ttl", "1.5s"), "token_ttl", errorSev, "not whole seconds"},
		{"LongTokenTTL", set("token_ttl", "48h"), "token_ttl", warning, "long-lived"},
		{"TokenTTLNumber", set("token_ttl", 3600), "token_ttl", errorSev, "not a duration"},
		{"NegativeConfirmWindow", set("confirm_window", "-1s"), "confirm_window", errorSev, "out of range"},
		{"ZeroEngineTimeout", set("engine_timeout", "0s"), "engine_timeout", errorSev, "out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := testConfigMap()
			// k2 lacks the API's permission, which is a warning of its own: leave it out.
			m["access_keys"] = m["access_keys"].([]any)[:1]
			c.mod(m)
			diags, err := New().Configure(context.Background(), mustJSON(t, m))
			if err != nil {
				t.Fatalf("Configure error = %v; bad config is reported as diagnostics", err)
			}
			if len(diags) != 1 {
				t.Fatalf("diagnostics %+v, want exactly one on %s", diags, c.field)
			}
			d := diags[0]
			if d.Field != c.field || d.Severity != c.severity || !strings.Contains(d.Summary, c.summary) {
				t.Errorf("diagnostic %+v, want field %s, severity %d, summary with %q", d, c.field, c.severity, c.summary)
			}
			if strings.Contains(d.Detail, testKeyA) || strings.Contains(d.Detail, "only-31-bytes") {
				t.Errorf("diagnostic %+v shows a signing key", d)
			}
		})
	}
}

func TestConfigureRefusals(t *testing.T) {
	for _, raw := range []string{``, `null`, `{}`} {
		diags, err := New().Configure(context.Background(), []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, d := range diags {
			if d.Severity == sdk.SeverityError {
				fields = append(fields, d.Field)
			}
		}
		slices.Sort(fields)
		if !slices.Equal(fields, []string{"access_keys", "signing_keys", "users"}) {
			t.Errorf("Configure(%q) errors on %v, want access_keys, signing_keys, users", raw, fields)
		}
	}
	for _, raw := range []string{`[]`, `"x"`, `{"listen":`} {
		diags, _ := New().Configure(context.Background(), []byte(raw))
		if len(diags) != 1 || diags[0].Severity != sdk.SeverityError || diags[0].Field != "" {
			t.Errorf("Configure(%q) = %+v, want one error on the section", raw, diags)
		}
	}
	// A refused config leaves the plugin unconfigured, or keeps the previous one.
	c := New()
	bad := testConfigMap()
	bad["users"] = []any{}
	if diags, _ := c.Configure(context.Background(), mustJSON(t, bad)); !hasError(diags) {
		t.Fatal("bad config accepted")
	}
	if c.settings() != nil {
		t.Error("a refused config was applied")
	}
	if diags, _ := c.Configure(context.Background(), mustJSON(t, testConfigMap())); hasError(diags) {
		t.Fatalf("good config refused: %+v", diags)
	}
	before := c.settings()
	_, _ = c.Configure(context.Background(), mustJSON(t, bad))
	if c.settings() != before {
		t.Error("a refused config replaced the one in force")
	}
	// A cancelled context is an error, not a diagnostic.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Configure(ctx, mustJSON(t, testConfigMap())); err == nil {
		t.Error("Configure with a cancelled ctx succeeded")
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	// Every key of the sample in the package doc decodes.
	raw := `{"listen":"127.0.0.1:8744","https_listen":"","cert_file":"","key_file":"",
		"users":[{"id":"1234567","display":":0"}],
		"access_keys":[{"id":"k","secret_sha256":"` + HashSecret("s") + `","permissions":["RecordScreenInteraction"]}],
		"signing_keys":[{"id":"s1","key":"` + testKeyA + `"}],"active_key_id":"s1",
		"token_ttl":"3600s","confirm_window":"2s","engine_timeout":"10s"}`
	var check map[string]any
	if err := json.Unmarshal([]byte(raw), &check); err != nil {
		t.Fatal(err)
	}
	st, diags := loadSettings([]byte(raw))
	if st == nil || len(diags) != 0 {
		t.Fatalf("sample refused or warned: %+v", diags)
	}
}
