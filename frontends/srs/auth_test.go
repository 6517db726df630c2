package srs

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/testcert"
)

func TestBasicAuth(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct {
		name string
		r    req
		msg  string
	}{
		{"no credentials", req{path: "/api/v2/me"}, "no credentials"},
		{"wrong password", req{path: "/api/v2/me", user: "alice", pass: "wrong"}, "wrong user name or password"},
		{"unknown user", req{path: "/api/v2/me", user: "mallory", pass: "secret"}, "wrong user name or password"},
		{"empty user", req{path: "/api/v2/me", user: "", hdr: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(":secret"))}}, "no user name"},
		{"bearer", req{path: "/api/v2/me", hdr: map[string]string{"Authorization": "Bearer abc"}}, "want Basic"},
		{"not base64", req{path: "/ping", hdr: map[string]string{"Authorization": "Basic !!!"}}, "want Basic"},
		{"ping without credentials", req{path: "/ping"}, "no credentials"},
		{"post without credentials", req{method: http.MethodPost, path: "/api/v2/me", body: logoutBody}, "no credentials"},
		{"unknown cookie", req{path: "/ping", cookie: &http.Cookie{Name: CookieName, Value: "forged"}}, "has ended"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.do(c.r).wantError(t, http.StatusUnauthorized, c.msg)
		})
	}
	if starts, _ := e.eng.counts(); starts != 0 {
		t.Errorf("refused logins started %d recordings", starts)
	}
	t.Run("ok", func(t *testing.T) {
		e.login("alice", nil).want(t, http.StatusOK)
		// A password with ':' and a space (Basic splits at the first ':').
		e.login("carol", nil).want(t, http.StatusOK)
	})
	t.Run("basic wins over cookie", func(t *testing.T) {
		ck := e.login("alice", nil).cookie()
		r := e.do(req{path: "/ping", user: "bob", pass: "hunter2", cookie: ck})
		r.wantError(t, http.StatusUnauthorized, "bob has no session")
		e.do(req{path: "/ping", user: "alice", pass: "wrong", cookie: ck}).wantError(t, http.StatusUnauthorized, "wrong user name or password")
	})
}

func TestCookie(t *testing.T) {
	t.Run("http", func(t *testing.T) {
		e := newEnv(t, nil)
		r := e.login("alice", map[string]string{HeaderSupportCSRF: "true"}).want(t, http.StatusOK)
		ck := r.cookie()
		if ck == nil {
			t.Fatalf("no %s cookie in %v", CookieName, r.hdr.Values("Set-Cookie"))
		}
		raw := r.hdr.Get("Set-Cookie")
		for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(raw, want) {
				t.Errorf("Set-Cookie %q lacks %s", raw, want)
			}
		}
		if strings.Contains(raw, "Secure") || strings.Contains(raw, "SameSite=None") {
			t.Errorf("Set-Cookie %q over HTTP is Secure/None", raw)
		}
		if b, err := base64.RawURLEncoding.DecodeString(ck.Value); err != nil || len(b) < 16 {
			t.Errorf("session id %q is not ≥128 random bits: %v", ck.Value, err)
		}
		if ck.Value == r.hdr.Get(HeaderCSRFToken) {
			t.Error("the session id is the CSRF token")
		}
		// The cookie alone authenticates every call of the session.
		cookieOnly := req{path: "/ping", cookie: &http.Cookie{Name: CookieName, Value: ck.Value}}
		body := e.do(cookieOnly).want(t, http.StatusOK).json(t)
		if body["agent"] != "alice" {
			t.Errorf("ping by cookie: agent %v", body["agent"])
		}
		login := req{path: "/api/v2/me", cookie: cookieOnly.cookie}
		if got := e.do(login).want(t, http.StatusOK).cookie(); got == nil || got.Value != ck.Value {
			t.Errorf("GET login by cookie gave cookie %v, want the same session", got)
		}
		logout := req{method: http.MethodPost, path: "/api/v2/me", body: logoutBody, cookie: cookieOnly.cookie,
			hdr: map[string]string{HeaderCSRFToken: r.hdr.Get(HeaderCSRFToken)}}
		out := e.do(logout).want(t, http.StatusOK)
		exp := out.cookie()
		if exp == nil || exp.Value != "" || exp.MaxAge >= 0 {
			t.Errorf("logout Set-Cookie %q, want the cookie expired", out.hdr.Get("Set-Cookie"))
		}
		// The cookie is dead: 401, and told to expire again.
		dead := e.do(cookieOnly)
		dead.wantError(t, http.StatusUnauthorized, "has ended")
		if c := dead.cookie(); c == nil || c.MaxAge >= 0 {
			t.Errorf("401 for a dead cookie: Set-Cookie %q, want it expired", dead.hdr.Get("Set-Cookie"))
		}
		e.do(login).wantError(t, http.StatusUnauthorized, "has ended")
	})
	t.Run("https", func(t *testing.T) {
		certFile, keyFile, pool := testcert.Write(t, t.TempDir())
		e := newEnvWith(t, newFakeEngine(), func(c map[string]any) {
			c["cert_file"], c["key_file"], c["https_listen"] = certFile, keyFile, "127.0.0.1:0"
		}, pool)
		if len(e.eps) != 2 || e.eps[0].Name != "http" || e.eps[1].Name != "https" || !strings.HasPrefix(e.httpsURL, "https://127.0.0.1:") {
			t.Fatalf("endpoints %+v, want http and https", e.eps)
		}
		r := e.do(req{path: "/api/v2/me", user: "alice", pass: "secret", https: true}).want(t, http.StatusOK)
		raw := r.hdr.Get("Set-Cookie")
		for _, want := range []string{"HttpOnly", "Secure", "SameSite=None", "Path=/"} {
			if !strings.Contains(raw, want) {
				t.Errorf("Set-Cookie %q over HTTPS lacks %s", raw, want)
			}
		}
		ck := r.cookie()
		e.do(req{path: "/ping", cookie: ck, https: true}).want(t, http.StatusOK)
		// The same session over HTTP (the browser would not send a Secure cookie there, but
		// a native client may).
		e.do(req{path: "/ping", cookie: ck}).want(t, http.StatusOK)
		out := e.do(req{method: http.MethodPost, path: "/api/v2/me", body: logoutBody, cookie: ck, https: true}).want(t, http.StatusOK)
		if raw := out.hdr.Get("Set-Cookie"); !strings.Contains(raw, "Secure") || !strings.Contains(raw, "SameSite=None") || !strings.Contains(raw, "Max-Age=0") {
			t.Errorf("logout over HTTPS: Set-Cookie %q", raw)
		}
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, nil)
	var compared atomic.Int32
	orig := constantTimeEqual
	constantTimeEqual = func(a, b string) bool { compared.Add(1); return orig(a, b) }
	t.Cleanup(func() { constantTimeEqual = orig })

	csrfp := map[string]string{HeaderSupportCSRF: "True"}
	r := e.login("alice", csrfp).want(t, http.StatusOK)
	token := r.hdr.Get(HeaderCSRFToken)
	if b, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(b) < 16 {
		t.Fatalf("X-CSRF-Token %q is not ≥128 random bits: %v", token, err)
	}
	wantHeader(t, r, HeaderCSRFHeader, "X-CSRF-Token")

	// Another login of the session returns the same token (a reloaded page recovers it).
	r2 := e.login("alice", map[string]string{HeaderSupportCSRF: " tRuE "}).want(t, http.StatusOK)
	wantHeader(t, r2, HeaderCSRFToken, token)
	// Without asking, a login answers no token.
	wantHeader(t, e.login("alice", nil).want(t, http.StatusOK), HeaderCSRFToken, "")

	refused := `{"statusCode":403,"message":"Missing or invalid Csrf token"}` + "\n"
	wrong := token[:len(token)-1] + string(rune('A'+(token[len(token)-1]+1)%26))
	relogin := `[{"name":"server","value":"https://rws.dc1.example.com"},{"name":"place","value":"Place_202"}]`
	for _, c := range []struct {
		name string
		hdr  map[string]string
		body string
	}{
		{"logout without token", nil, logoutBody},
		{"logout with a wrong token", map[string]string{HeaderCSRFToken: wrong}, logoutBody},
		{"logout with the token's prefix", map[string]string{HeaderCSRFToken: token[:10]}, logoutBody},
		{"re-login without token", nil, relogin},
		{"re-login with a wrong token", map[string]string{HeaderCSRFToken: "x" + token}, relogin},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := compared.Load()
			r := e.loginPOST("alice", c.body, c.hdr)
			r.wantError(t, http.StatusForbidden, "Missing or invalid Csrf token")
			if string(r.body) != refused {
				t.Errorf("body %q, want %q", r.body, refused)
			}
			if c.hdr != nil && compared.Load() == before {
				t.Error("the token was not compared with constantTimeEqual")
			}
		})
	}
	if !orig(token, token) || orig(token, wrong) || orig(token, "") {
		t.Error("constantTimeEqual is wrong")
	}
	// The session is untouched by the refused requests.
	if b := e.ping("alice").want(t, http.StatusOK).json(t); b["place"] != "Place_101" {
		t.Errorf("place %v after refused re-logins, want Place_101", b["place"])
	}
	if _, stops := e.eng.counts(); stops != 0 {
		t.Errorf("refused logouts stopped %d recordings", stops)
	}

	ok := map[string]string{HeaderCSRFToken: token}
	e.loginPOST("alice", relogin, ok).want(t, http.StatusOK)
	e.logout("alice", ok).want(t, http.StatusOK)

	// A new session gets a new token; the old one is dead.
	r = e.login("alice", csrfp).want(t, http.StatusOK)
	if nt := r.hdr.Get(HeaderCSRFToken); nt == "" || nt == token {
		t.Errorf("new session's token %q, want a new one", nt)
	}
	e.logout("alice", ok).wantError(t, http.StatusForbidden, "Missing or invalid Csrf token")

	t.Run("session without CSRFP needs no token", func(t *testing.T) {
		r := e.login("bob", nil).want(t, http.StatusOK)
		wantHeader(t, r, HeaderCSRFToken, "")
		wantHeader(t, r, HeaderCSRFHeader, "")
		e.loginPOST("bob", relogin, nil).want(t, http.StatusOK)
		e.logout("bob", nil).want(t, http.StatusOK)
	})
	t.Run("token belongs to its session", func(t *testing.T) {
		tb := e.login("bob", csrfp).want(t, http.StatusOK).hdr.Get(HeaderCSRFToken)
		ta := e.login("alice", csrfp).want(t, http.StatusOK).hdr.Get(HeaderCSRFToken)
		e.logout("bob", map[string]string{HeaderCSRFToken: ta}).wantError(t, http.StatusForbidden, "Csrf")
		e.logout("bob", map[string]string{HeaderCSRFToken: tb}).want(t, http.StatusOK)
	})
	t.Run("POST login asks for CSRFP", func(t *testing.T) {
		r := e.loginPOST("carol", `[{"name":"server","value":"https://rws.dc1.example.com"}]`, csrfp).want(t, http.StatusOK)
		tok := r.hdr.Get(HeaderCSRFToken)
		if tok == "" {
			t.Fatal("no token")
		}
		e.logout("carol", nil).wantError(t, http.StatusForbidden, "Csrf")
		e.logout("carol", map[string]string{HeaderCSRFToken: tok}).want(t, http.StatusOK)
	})
}

func TestThrottle(t *testing.T) {
	e := newEnv(t, func(c map[string]any) {
		c["throttle_failures"], c["throttle_lockout"] = 3, "400ms"
	})
	bad := req{path: "/api/v2/me", user: "alice", pass: "wrong"}
	good := req{path: "/api/v2/me", user: "alice", pass: "secret"}
	for i := 0; i < 3; i++ {
		e.do(bad).wantError(t, http.StatusUnauthorized, "wrong user name or password")
	}
	start := time.Now()
	r := e.do(good) // locked out, even with the right password
	r.wantError(t, http.StatusTooManyRequests, "too many failed logins of alice")
	if n, err := strconv.Atoi(r.hdr.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want whole seconds ≥ 1", r.hdr.Get("Retry-After"))
	}
	e.do(req{path: "/ping", user: "alice", pass: "secret"}).wantError(t, http.StatusTooManyRequests, "too many")
	e.do(req{method: http.MethodPost, path: "/api/v2/me", user: "alice", pass: "secret", body: logoutBody}).wantError(t, http.StatusTooManyRequests, "too many")
	// Other users are not affected.
	e.login("bob", nil).want(t, http.StatusOK)
	if starts, _ := e.eng.counts(); starts != 1 {
		t.Errorf("%d recordings started, want bob's only", starts)
	}
	time.Sleep(time.Until(start.Add(450 * time.Millisecond)))
	e.do(good).want(t, http.StatusOK)
	e.logout("alice", nil).want(t, http.StatusOK)
	// A verified login resets the count.
	e.do(bad).want(t, http.StatusUnauthorized)
	e.do(bad).want(t, http.StatusUnauthorized)
	e.do(good).want(t, http.StatusOK)
	e.logout("alice", nil).want(t, http.StatusOK)
	e.do(bad).want(t, http.StatusUnauthorized)
	e.do(bad).want(t, http.StatusUnauthorized)
	e.do(good).want(t, http.StatusOK)
	// Wrong passwords on ping count too; they lock out guesses, not the session.
	for i := 0; i < 3; i++ {
		e.do(req{path: "/ping", user: "alice", pass: "nope"}).want(t, http.StatusUnauthorized)
	}
	e.do(req{path: "/ping", user: "alice", pass: "nope"}).wantError(t, http.StatusTooManyRequests, "too many")
	e.ping("alice").want(t, http.StatusOK)
}

// TestThrottleSparesLiveSession: wrong passwords from another process lock the user name out
// of new logins, but the agent's live session (by its credentials or by its cookie) keeps
// going, and so does its recording.
func TestThrottleSparesLiveSession(t *testing.T) {
	e := newEnv(t, func(c map[string]any) {
		c["throttle_failures"], c["throttle_lockout"] = 3, "1m"
	})
	ck := e.login("alice", nil).want(t, http.StatusOK).cookie()
	guess := req{path: "/api/v2/me", user: "alice", pass: "guess"}
	for i := 0; i < 3; i++ {
		e.do(guess).wantError(t, http.StatusUnauthorized, "wrong user name or password")
	}
	for i := 0; i < 3; i++ {
		e.do(guess).wantError(t, http.StatusTooManyRequests, "too many failed logins of alice")
		e.ping("alice").want(t, http.StatusOK)
		e.do(req{path: "/ping", cookie: ck}).want(t, http.StatusOK)
		e.do(req{path: "/ping", cookie: ck, hdr: map[string]string{"Origin": originDesktop}}).want(t, http.StatusOK)
	}
	// Guesses stay throttled on every path, the session's own requests do not.
	e.do(req{path: "/ping", user: "alice", pass: "guess"}).wantError(t, http.StatusTooManyRequests, "too many")
	e.do(req{method: http.MethodPost, path: "/api/v2/me", user: "alice", pass: "guess", body: logoutBody}).wantError(t, http.StatusTooManyRequests, "too many")
	e.login("alice", nil).want(t, http.StatusOK) // the live session, again (idempotent)
	if starts, stops := e.eng.counts(); starts != 1 || stops != 0 {
		t.Fatalf("engine starts %d, stops %d; want the session's recording going on", starts, stops)
	}
	e.logout("alice", nil).want(t, http.StatusOK)
	// Once the session has ended, a login is a new login: still locked out.
	e.login("alice", nil).wantError(t, http.StatusTooManyRequests, "too many failed logins of alice")
	if starts, _ := e.eng.counts(); starts != 1 {
		t.Errorf("%d recordings started, want 1", starts)
	}
}

func TestThrottleOff(t *testing.T) {
	e := newEnv(t, func(c map[string]any) { c["throttle_failures"] = 0 })
	for i := 0; i < 8; i++ {
		e.do(req{path: "/api/v2/me", user: "alice", pass: "wrong"}).want(t, http.StatusUnauthorized)
	}
	e.login("alice", nil).want(t, http.StatusOK)
}

// TestChallengeByOrigin: every kind of 401 challenges a page (a request with Origin) with a
// scheme browsers do not prompt for, and a native client with Basic.
func TestChallengeByOrigin(t *testing.T) {
	e := newEnv(t, nil)
	ck := e.login("bob", nil).want(t, http.StatusOK).cookie()
	e.logout("bob", nil).want(t, http.StatusOK)
	for _, origin := range []string{"", originDesktop} {
		hdr := map[string]string{}
		if origin != "" {
			hdr["Origin"] = origin
		}
		for name, r := range map[string]req{
			"no credentials":      {path: "/ping", hdr: hdr},
			"wrong password":      {path: "/api/v2/me", user: "alice", pass: "wrong", hdr: hdr},
			"no session":          {path: "/ping", user: "alice", pass: "secret", hdr: hdr},
			"ended session":       {path: "/ping", cookie: ck, hdr: hdr},
			"logout, no session":  {method: http.MethodPost, path: "/api/v2/me", user: "alice", pass: "secret", body: logoutBody, hdr: hdr},
			"not Basic":           {path: "/ping", hdr: mergeHeaders(hdr, map[string]string{"Authorization": "Bearer x"})},
			"POST no credentials": {method: http.MethodPost, path: "/api/v2/me", body: logoutBody, hdr: hdr},
		} {
			t.Run(name+" origin="+origin, func(t *testing.T) {
				e.do(r).wantError(t, http.StatusUnauthorized, "")
			})
		}
	}
}

func mergeHeaders(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}
