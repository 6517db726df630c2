package srs

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/testcert"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	users := writeUsersFile(t, t.TempDir())
	good, _ := json.Marshal(map[string]any{"listen": "127.0.0.1:0", "users_file": users,
		"origins": []string{originDesktop}, "ping_timeout": "60s"})
	bad, _ := json.Marshal(map[string]any{"listen": "127.0.0.1:0", "users_file": users, "origins": []string{"*"}})
	sdktest.Frontend(t, func() sdk.Frontend { return New() }, good, bad)
}

func TestInfo(t *testing.T) {
	info, err := New().Info(context.Background())
	if err != nil || info != (sdk.Info{Name: "srs", Kind: sdk.KindFrontend, Version: "1.0.0"}) {
		t.Errorf("Info = %+v, %v", info, err)
	}
}

// configure runs Configure with cfg (a map, marshalled) and returns the diagnostics.
func configure(t *testing.T, s *SRS, cfg any) []sdk.Diagnostic {
	t.Helper()
	raw, ok := cfg.(string)
	if !ok {
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	diags, err := s.Configure(context.Background(), []byte(raw))
	if err != nil {
		t.Fatalf("Configure error %v", err)
	}
	return diags
}

func TestConfigDefaults(t *testing.T) {
	users := writeUsersFile(t, t.TempDir())
	st, diags := loadSettings([]byte(`{"users_file":` + quote(users) + `}`))
	if st == nil || len(diags) != 0 {
		t.Fatalf("minimal config: %+v", diags)
	}
	want := Config{Listen: "127.0.0.1:8743", PingTimeout: 60 * time.Second, RecordingWhen: RecordSession,
		Verifier: "static", UsersFile: users, RWSTimeout: 5 * time.Second, ThrottleFailures: 5,
		ThrottleLockout: 30 * time.Second}
	if got := st.cfg; !configEqual(got, want) {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	if st.cfg.CertFile != "" || st.cfg.HTTPSListen != "" {
		t.Error("HTTPS on by default")
	}

	// cert and key without https_listen: HTTPS on 127.0.0.1:8443.
	cert, key, _ := testcert.Write(t, t.TempDir())
	st, diags = loadSettings([]byte(`{"users_file":` + quote(users) + `,"cert_file":` + quote(cert) + `,"key_file":` + quote(key) + `}`))
	if st == nil || st.cfg.HTTPSListen != DefaultHTTPSListen {
		t.Errorf("cert without https_listen: %+v %+v", st, diags)
	}

	// The forms environment overrides produce: lists as comma-separated strings, integers
	// as strings; null is the default.
	st, diags = loadSettings([]byte(`{"users_file":` + quote(users) + `,"origins":"https://a.example.com, https://*.b.example.com",` +
		`"throttle_failures":"3","listen":null,"agents":[{"user":"x","place":"P","devices":[{"dn":"1","switch":"S"}]}]}`))
	if st == nil || len(st.origins) != 2 || st.cfg.ThrottleFailures != 3 || st.cfg.Listen != DefaultListen || st.agent("x").Devices[0].DN != "1" {
		t.Errorf("lenient forms: %+v %+v", st, diags)
	}
}

func configEqual(a, b Config) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestConfigDiagnostics(t *testing.T) {
	dir := t.TempDir()
	users := writeUsersFile(t, dir)
	clear := filepath.Join(dir, "clear")
	if err := os.WriteFile(clear, []byte("alice:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key, _ := testcert.Write(t, dir)
	base := func(kv ...any) map[string]any {
		m := map[string]any{"users_file": users}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name  string
		cfg   any
		field string
	}{
		{"not an object", `["listen"]`, ""},
		{"unknown key", base("max_body", 1024), "max_body"},
		{"typo", base("ping_timout", "60s"), "ping_timout"},
		{"listen", base("listen", "127.0.0.1"), "listen"},
		{"listen type", base("listen", 8743), "listen"},
		{"https without cert", base("https_listen", "127.0.0.1:8443"), "https_listen"},
		{"https_listen bad", base("https_listen", "127.0.0.1:99999", "cert_file", cert, "key_file", key), "https_listen"},
		{"https same as http", base("https_listen", "127.0.0.1:8743", "cert_file", cert, "key_file", key), "https_listen"},
		{"cert without key", base("cert_file", cert), "key_file"},
		{"key without cert", base("key_file", key), "cert_file"},
		{"cert missing", base("cert_file", filepath.Join(dir, "nope.pem"), "key_file", key), "cert_file"},
		{"cert is the key", base("cert_file", key, "key_file", key), "cert_file"},
		{"bare star", base("origins", []string{"*"}), "origins[0]"},
		{"star second", base("origins", []string{originDesktop, "*"}), "origins[1]"},
		{"wildcard tld", base("origins", []string{"https://*.com"}), "origins[0]"},
		{"origin path", base("origins", []string{"https://a.example.com/app"}), "origins[0]"},
		{"origin null", base("origins", []string{"null"}), "origins[0]"},
		{"origin not string", base("origins", []any{originDesktop, 3}), "origins[1]"},
		{"origins object", base("origins", map[string]any{}), "origins"},
		{"ping_timeout short", base("ping_timeout", "10ms"), "ping_timeout"},
		{"ping_timeout number", base("ping_timeout", 60), "ping_timeout"},
		{"ping_timeout unit", base("ping_timeout", "60"), "ping_timeout"},
		{"recording_when", base("recording_when", "always"), "recording_when"},
		{"verifier unknown", base("verifier", "ldap"), "verifier"},
		{"no verifier", map[string]any{}, "verifier"},
		{"static without users", map[string]any{"verifier": "static"}, "users_file"},
		{"users file clear text", base("users_file", clear), "users_file"},
		{"users file missing", base("users_file", filepath.Join(dir, "missing")), "users_file"},
		{"server ftp", base("server", "ftp://rws.example.com"), "server"},
		{"server relative", base("server", "rws.example.com"), "server"},
		{"peer_server relative", base("server", rws1, "peer_server", "/rws"), "peer_server"},
		{"peer without server", base("peer_server", rws2), "server"},
		{"rws_timeout", base("rws_timeout", "1h"), "rws_timeout"},
		{"display", base("display", "zero"), "display"},
		{"agents object", base("agents", map[string]any{"user": "a"}), "agents"},
		{"agent display", base("agents", []any{map[string]any{"user": "a", "display": "ten"}}), "agents[0].display"},
		{"agent without user", base("agents", []any{map[string]any{"display": ":1"}}), "agents[0].user"},
		{"agent duplicate", base("agents", []any{map[string]any{"user": "a"}, map[string]any{"user": "a"}}), "agents[1].user"},
		{"agent unknown key", base("agents", []any{map[string]any{"user": "a", "seat": 1}}), "agents[0].seat"},
		{"agent device dn", base("agents", []any{map[string]any{"user": "a", "place": "P", "devices": []any{map[string]any{"switch": "S"}}}}), "agents[0].devices[0].dn"},
		{"agent device unknown key", base("agents", []any{map[string]any{"user": "a", "place": "P", "devices": []any{map[string]any{"dn": "1", "switch": "S", "x": 1}}}}), "agents[0].devices[0].x"},
		{"agent devices without place", base("agents", []any{map[string]any{"user": "a", "devices": []any{map[string]any{"dn": "1", "switch": "S"}}}}), "agents[0].place"},
		{"agent not an object", base("agents", []any{"a"}), "agents[0]"},
		{"throttle_failures negative", base("throttle_failures", -1), "throttle_failures"},
		{"throttle_failures text", base("throttle_failures", "five"), "throttle_failures"},
		{"throttle_lockout", base("throttle_lockout", "soon"), "throttle_lockout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			diags := configure(t, s, c.cfg)
			var found bool
			for _, d := range diags {
				if d.Severity == sdk.SeverityError && d.Field == c.field && d.Summary != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("diagnostics %+v, want an error on %q", diags, c.field)
			}
			if _, err := s.Serve(context.Background(), &sdk.MockEngine{}); err == nil {
				t.Error("Serve after a refused config succeeded")
			}
		})
	}
	t.Run("every problem is reported", func(t *testing.T) {
		diags := configure(t, New(), base("listen", "x", "origins", []string{"*"}, "ping_timeout", "1ns"))
		var fields []string
		for _, d := range diags {
			fields = append(fields, d.Field)
		}
		slices.Sort(fields)
		if !slices.Equal(fields, []string{"listen", "origins[0]", "ping_timeout"}) {
			t.Errorf("fields %v", fields)
		}
	})
}

func TestConfigWarnings(t *testing.T) {
	users := writeUsersFile(t, t.TempDir())
	diags := configure(t, New(), map[string]any{"verifier": "rws", "users_file": users})
	var fields []string
	for _, d := range diags {
		if d.Severity != sdk.SeverityWarning {
			t.Errorf("unexpected %+v", d)
		}
		fields = append(fields, d.Field)
	}
	slices.Sort(fields)
	if !slices.Equal(fields, []string{"server", "users_file"}) {
		t.Errorf("warnings on %v, want server and users_file", fields)
	}
}

func TestConfigureKeepsPrevious(t *testing.T) {
	users := writeUsersFile(t, t.TempDir())
	s := New()
	if diags := configure(t, s, map[string]any{"listen": "127.0.0.1:0", "users_file": users, "origins": []string{originDesktop}}); len(diags) != 0 {
		t.Fatal(diags)
	}
	configure(t, s, map[string]any{"listen": "127.0.0.1:0", "users_file": users, "origins": []string{"*"}})
	if got := s.settings.Load().cfg.Origins; !slices.Equal(got, []string{originDesktop}) {
		t.Errorf("origins %v after a refused config, want the previous", got)
	}
	eps, err := s.Serve(context.Background(), newFakeEngine())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	if len(eps) != 1 || eps[0].Name != "http" || !strings.HasPrefix(eps[0].URL, "http://127.0.0.1:") {
		t.Errorf("endpoints %+v", eps)
	}
	// While serving, a new config applies at once (origins) and says when listen changes.
	diags := configure(t, s, map[string]any{"listen": "127.0.0.1:1", "users_file": users, "origins": []string{originLocal}})
	if len(diags) != 1 || diags[0].Severity != sdk.SeverityWarning || diags[0].Field != "listen" {
		t.Errorf("diagnostics %+v, want a warning on listen", diags)
	}
	if !allowedOrigin(s.settings.Load().origins, originLocal) {
		t.Error("new origins not applied")
	}
}

func TestConfigSchema(t *testing.T) {
	sc, err := New().ConfigSchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range sc.Fields {
		names = append(names, f.Name)
		if f.Description == "" {
			t.Errorf("field %s has no description", f.Name)
		}
	}
	want := []string{"listen", "https_listen", "cert_file", "key_file", "origins", "ping_timeout",
		"recording_when", "verifier", "users_file", "server", "peer_server", "rws_timeout", "display",
		"agents", "throttle_failures", "throttle_lockout"}
	if !slices.Equal(names, want) {
		t.Errorf("schema fields %v, want %v", names, want)
	}
	for _, f := range sc.Fields {
		if f.Type == "duration" {
			if _, err := time.ParseDuration(f.Default); err != nil {
				t.Errorf("%s default %q: %v", f.Name, f.Default, err)
			}
		}
	}
}

// TestOpenAPIDocument loads openapi.yaml, validates it and checks it describes exactly the
// endpoints served, with the statuses they answer.
func TestOpenAPIDocument(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %s", doc.OpenAPI)
	}
	file, err := os.ReadFile("openapi.yaml")
	if err != nil || string(file) != string(OpenAPI) {
		t.Error("OpenAPI is not openapi.yaml")
	}
	want := map[string]map[string][]string{
		"/api/v2/me": {
			"OPTIONS": {"200", "403", "503"},
			"GET":     {"200", "401", "403", "429", "500", "503"},
			"POST":    {"200", "400", "401", "403", "413", "415", "429", "500", "503"},
		},
		"/ping": {
			"OPTIONS": {"200", "403", "503"},
			"GET":     {"200", "401", "403", "429", "500", "503"},
		},
	}
	if got := doc.Paths.Len(); got != len(want) {
		t.Errorf("%d paths, want %d", got, len(want))
	}
	for path, ops := range want {
		item := doc.Paths.Value(path)
		if item == nil {
			t.Errorf("no path %s", path)
			continue
		}
		if len(item.Operations()) != len(ops) {
			t.Errorf("%s has %d operations, want %d", path, len(item.Operations()), len(ops))
		}
		for method, statuses := range ops {
			op := item.GetOperation(method)
			if op == nil {
				t.Errorf("no %s %s", method, path)
				continue
			}
			var got []string
			for code, r := range op.Responses.Map() {
				got = append(got, code)
				if code != "200" && r.Value.Content.Get("application/json") == nil {
					t.Errorf("%s %s %s has no JSON error body", method, path, code)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, statuses) {
				t.Errorf("%s %s documents %v, want %v", method, path, got, statuses)
			}
			if method == "OPTIONS" && (op.Security == nil || len(*op.Security) != 0) {
				t.Errorf("%s %s needs credentials in the document", method, path)
			}
		}
	}
	for _, name := range []string{"basicAuth", "cookieAuth"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("no security scheme %s", name)
		}
	}
	if h := doc.Components.Headers["WWWAuthenticate"]; h == nil || !h.Value.Required {
		t.Error("WWW-Authenticate is not a required header")
	}
}

// TestResponseValidationHasTeeth checks that the response validation every HTTP test relies
// on refuses responses that break openapi.yaml.
func TestResponseValidationHasTeeth(t *testing.T) {
	rt := testRouter(t)
	get := func(method, path string) *http.Request {
		r, _ := http.NewRequest(method, "http://127.0.0.1:1"+path, nil)
		return r
	}
	jsonHdr := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	session := `{"statusCode":0,"agent":"a","place":"","devices":[],"server":"","peerServer":"","recording":null,"pingTimeoutSeconds":60}`
	for _, c := range []struct {
		name   string
		r      *http.Request
		status int
		hdr    http.Header
		body   string
		ok     bool
	}{
		{"session", get("GET", "/ping"), 200, jsonHdr(), session, true},
		{"session without agent", get("GET", "/ping"), 200, jsonHdr(), strings.Replace(session, `"agent":"a",`, "", 1), false},
		{"session with extra field", get("GET", "/ping"), 200, jsonHdr(), strings.Replace(session, `{`, `{"x":1,`, 1), false},
		{"recording", get("GET", "/ping"), 200, jsonHdr(), strings.Replace(session, `null`, `{"state":"recording","recordingId":"r","since":"2026-01-01T00:00:00Z"}`, 1), true},
		{"bad recording state", get("GET", "/ping"), 200, jsonHdr(), strings.Replace(session, `null`, `{"state":"paused","recordingId":"r","since":"2026-01-01T00:00:00Z"}`, 1), false},
		{"empty recording", get("GET", "/ping"), 200, jsonHdr(), strings.Replace(session, `null`, `{}`, 1), false},
		{"recording not an object", get("GET", "/ping"), 200, jsonHdr(), strings.Replace(session, `null`, `"none"`, 1), false},
		{"401", get("GET", "/ping"), 401, jsonHdr("WWW-Authenticate", `Basic realm="SRS"`), `{"statusCode":401,"message":"m"}`, true},
		{"401 to a page", get("GET", "/ping"), 401, jsonHdr("WWW-Authenticate", `SRS realm="SRS"`), `{"statusCode":401,"message":"m"}`, true},
		{"401 without challenge", get("GET", "/ping"), 401, jsonHdr(), `{"statusCode":401,"message":"m"}`, false},
		{"401 other realm", get("GET", "/ping"), 401, jsonHdr("WWW-Authenticate", `Basic realm="x"`), `{"statusCode":401,"message":"m"}`, false},
		{"error with extra field", get("GET", "/ping"), 500, jsonHdr(), `{"statusCode":500,"message":"m","error":"e"}`, false},
		{"undocumented status", get("GET", "/ping"), 418, jsonHdr(), `{"statusCode":418,"message":"m"}`, false},
		{"ACAO star", get("GET", "/ping"), 200, jsonHdr("Access-Control-Allow-Origin", "*"), session, false},
		{"429 without Retry-After", get("GET", "/api/v2/me"), 429, jsonHdr(), `{"statusCode":429,"message":"m"}`, false},
		{"logout ok", get("POST", "/api/v2/me"), 200, jsonHdr(), `{"statusCode":0}`, true},
		{"logout with a message", get("POST", "/api/v2/me"), 200, jsonHdr(), `{"statusCode":0,"message":"bye"}`, false},
		{"max age", get("OPTIONS", "/ping"), 200, http.Header{"Access-Control-Max-Age": {"600"}}, ``, false},
	} {
		err := validateResponse(c.r, c.status, c.hdr, []byte(c.body), rt)
		if (err == nil) != c.ok {
			t.Errorf("%s: validation error %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
