package srs

import (
	"net/http"
	"testing"
)

var corsHeaders = []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
	"Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age",
	"Access-Control-Expose-Headers", "Access-Control-Allow-Private-Network"}

func wantNoCORS(t *testing.T, r *resp) {
	t.Helper()
	for _, h := range corsHeaders {
		if v := r.hdr.Get(h); v != "" {
			t.Errorf("%s: %q, want none", h, v)
		}
	}
}

func wantHeader(t *testing.T, r *resp, name, want string) {
	t.Helper()
	if got := r.hdr.Get(name); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func TestPreflight(t *testing.T) {
	e := newEnv(t, nil)
	allowed := []string{originDesktop, originLocal, "https://a.agents.example.com",
		"https://x.y.agents.example.com", "https://DESKTOP.example.com", "https://desktop.example.com:443"}
	for _, path := range []string{"/api/v2/me", "/ping", "/api/v2/me/"} {
		for _, origin := range allowed {
			t.Run("allowed "+path+" "+origin, func(t *testing.T) {
				r := e.do(req{method: http.MethodOptions, path: path, hdr: map[string]string{
					"Origin": origin, "Access-Control-Request-Method": "POST",
					"Access-Control-Request-Headers": "authorization,content-type,x-csrf-token"}})
				r.want(t, http.StatusOK)
				wantHeader(t, r, "Access-Control-Allow-Origin", origin)
				wantHeader(t, r, "Vary", "Origin")
				wantHeader(t, r, "Access-Control-Allow-Credentials", "true")
				wantHeader(t, r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				wantHeader(t, r, "Access-Control-Allow-Headers", "Authorization, Content-Type, X-Support-CSRFP, X-CSRF-Token")
				wantHeader(t, r, "Access-Control-Max-Age", "120")
				wantHeader(t, r, "Access-Control-Allow-Private-Network", "")
				wantHeader(t, r, "WWW-Authenticate", "")
				if len(r.body) != 0 {
					t.Errorf("pre-flight body %q, want none", r.body)
				}
			})
		}
	}
	refused := []string{"https://evil.example.com", "http://desktop.example.com", "https://desktop.example.com:8443",
		"https://agents.example.com", "http://a.agents.example.com", "https://a.agents.example.com:8443",
		"https://evilagents.example.com", "https://agents.example.com.evil.com", "null", "*", "not an origin"}
	for _, path := range []string{"/api/v2/me", "/ping"} {
		for _, origin := range refused {
			t.Run("refused "+path+" "+origin, func(t *testing.T) {
				r := e.do(req{method: http.MethodOptions, path: path, hdr: map[string]string{
					"Origin": origin, "Access-Control-Request-Method": "GET",
					"Access-Control-Request-Private-Network": "true"}})
				r.wantError(t, http.StatusForbidden, "not allowed")
				wantNoCORS(t, r)
			})
		}
	}
	t.Run("private network access", func(t *testing.T) {
		for _, v := range []string{"true", "TRUE"} {
			r := e.do(req{method: http.MethodOptions, path: "/ping", hdr: map[string]string{
				"Origin": originDesktop, "Access-Control-Request-Method": "GET",
				"Access-Control-Request-Private-Network": v}})
			r.want(t, http.StatusOK)
			wantHeader(t, r, "Access-Control-Allow-Private-Network", "true")
			wantHeader(t, r, "Access-Control-Allow-Origin", originDesktop)
		}
	})
	t.Run("without Origin", func(t *testing.T) {
		r := e.do(req{method: http.MethodOptions, path: "/api/v2/me"})
		r.want(t, http.StatusOK)
		wantHeader(t, r, "Allow", "GET, POST, OPTIONS")
		wantNoCORS(t, r)
		r = e.do(req{method: http.MethodOptions, path: "/ping"})
		r.want(t, http.StatusOK)
		wantHeader(t, r, "Allow", "GET, OPTIONS")
	})
	if starts, _ := e.eng.counts(); starts != 0 {
		t.Errorf("pre-flights started %d recordings", starts)
	}
}

func TestNoOriginsConfigured(t *testing.T) {
	e := newEnv(t, func(c map[string]any) { delete(c, "origins") })
	r := e.do(req{method: http.MethodOptions, path: "/api/v2/me", hdr: map[string]string{"Origin": originDesktop}})
	r.wantError(t, http.StatusForbidden, "not allowed")
	wantNoCORS(t, r)
	// A native desktop (no Origin) works.
	e.login("alice", nil).want(t, http.StatusOK)
}

func TestCORSActualResponses(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("allowed origin", func(t *testing.T) {
		check := func(r *resp) {
			t.Helper()
			wantHeader(t, r, "Access-Control-Allow-Origin", originDesktop)
			wantHeader(t, r, "Access-Control-Allow-Credentials", "true")
			wantHeader(t, r, "Access-Control-Expose-Headers", "X-CSRF-Token, X-CSRF-Header")
			wantHeader(t, r, "Vary", "Origin")
			wantHeader(t, r, "Access-Control-Allow-Methods", "")
		}
		o := map[string]string{"Origin": originDesktop}
		check(e.login("alice", o).want(t, http.StatusOK))
		r := e.do(req{path: "/ping", user: "alice", pass: "secret", hdr: o})
		check(r.want(t, http.StatusOK))
		r = e.do(req{path: "/ping", user: "alice", pass: "wrong", hdr: o}) // errors too
		r.wantError(t, http.StatusUnauthorized, "")
		check(r)
		r = e.do(req{method: http.MethodPost, path: "/api/v2/me", user: "alice", pass: "secret", body: "{", hdr: o})
		r.wantError(t, http.StatusBadRequest, "malformed JSON")
		check(r)
		check(e.logout("alice", o).want(t, http.StatusOK))
	})
	t.Run("refused origin", func(t *testing.T) {
		o := map[string]string{"Origin": "https://evil.example.com"}
		starts, stops := e.eng.counts()
		// Every request is refused before anything happens: a GET login would start a
		// recording, a ping would keep a session alive.
		for _, r := range []*resp{
			e.login("bob", o),
			e.do(req{path: "/api/v2/me/", user: "bob", pass: "hunter2", hdr: o}),
			e.do(req{path: "/api/v2/me", cookie: &http.Cookie{Name: CookieName, Value: "x"}, hdr: o}),
			e.do(req{path: "/ping", user: "bob", pass: "hunter2", hdr: o}),
			e.loginPOST("bob", logoutBody, o),
			e.loginPOST("bob", `[{"name":"server","value":"https://rws.example.com"}]`, o),
		} {
			r.wantError(t, http.StatusForbidden, "origin https://evil.example.com is not allowed")
			wantNoCORS(t, r)
			wantHeader(t, r, "Vary", "Origin")
		}
		e.ping("bob").wantError(t, http.StatusUnauthorized, "no session") // never logged in
		e.login("bob", nil).want(t, http.StatusOK)
		e.loginPOST("bob", logoutBody, o).wantError(t, http.StatusForbidden, "not allowed")
		e.do(req{path: "/ping", user: "bob", pass: "hunter2", hdr: o}).wantError(t, http.StatusForbidden, "not allowed")
		e.ping("bob").want(t, http.StatusOK) // still logged in
		s2, st2 := e.eng.counts()
		if s2 != starts+1 || st2 != stops {
			t.Errorf("engine starts %d→%d, stops %d→%d; want one start (the native login), no stop", starts, s2, stops, st2)
		}
	})
	t.Run("no origin", func(t *testing.T) {
		r := e.login("carol", nil).want(t, http.StatusOK)
		wantNoCORS(t, r)
		wantHeader(t, r, "Vary", "Origin")
		wantHeader(t, r, "Cache-Control", "no-store")
	})
}

func TestOriginPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern string
		origin  string
		want    bool
	}{
		{"https://desktop.example.com", "https://desktop.example.com", true},
		{"https://desktop.example.com", "https://Desktop.Example.COM", true},
		{"https://desktop.example.com", "https://desktop.example.com:443", true},
		{"https://desktop.example.com:443", "https://desktop.example.com", true},
		{"https://desktop.example.com", "http://desktop.example.com", false},
		{"https://desktop.example.com", "https://desktop.example.com:8443", false},
		{"https://desktop.example.com", "https://other.desktop.example.com", false},
		{"http://localhost:3000", "http://localhost:3000", true},
		{"http://localhost:3000", "http://localhost:3001", false},
		{"http://localhost:3000", "http://localhost", false},
		{"http://[::1]:3000", "http://[::1]:3000", true},
		{"http://[0:0::1]:3000", "http://[::1]:3000", true},
		{"http://127.0.0.1:3000", "http://127.0.0.1:3000", true},
		{"https://*.example.com", "https://a.example.com", true},
		{"https://*.example.com", "https://a.b.example.com", true},
		{"https://*.example.com", "https://example.com", false},
		{"https://*.example.com", "https://aexample.com", false},
		{"https://*.example.com", "https://a.example.com.evil.com", false},
		{"https://*.example.com", "http://a.example.com", false},
		{"https://*.example.com", "https://a.example.com:8443", false},
		{"https://*.example.com:8443", "https://a.example.com:8443", true},
		{"app://desktop", "app://desktop", true},
		{"https://desktop.example.com", "null", false},
		{"https://desktop.example.com", "https://desktop.example.com/", false},
		{"https://desktop.example.com", "", false},
	} {
		p, err := parseOrigin(c.pattern, true)
		if err != nil {
			t.Errorf("parseOrigin(%q): %v", c.pattern, err)
			continue
		}
		if got := allowedOrigin([]originPattern{p}, c.origin); got != c.want {
			t.Errorf("pattern %s, origin %q: allowed %v, want %v", c.pattern, c.origin, got, c.want)
		}
	}
	for _, bad := range []string{"*", " * ", "null", "", "https://*", "https://*.com", "*.example.com",
		"https://a.*.example.com", "https://ex*ample.com", "https://desktop.example.com/",
		"https://desktop.example.com/path", "https://user@desktop.example.com", "desktop.example.com",
		"https://desktop.example.com:0", "https://desktop.example.com:99999", "https://desktop.example.com:x",
		"https://[::1", "https://[nothost]:80", "https://desktop.example.com?q", "1http://a.com"} {
		if p, err := parseOrigin(bad, true); err == nil {
			t.Errorf("parseOrigin(%q) = %v, want an error", bad, p)
		}
	}
	if p, _ := parseOrigin("HTTPS://*.Example.COM:443", true); p.String() != "https://*.example.com" {
		t.Errorf("normalised pattern = %s", p)
	}
}
