package srs

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fakeRWS is an RWS on loopback answering GET /api/v2/me: 200 for the passwords it knows,
// 401 (or status, when set) otherwise.
type fakeRWS struct {
	*httptest.Server
	mu        sync.Mutex
	passwords map[string]string
	status    int           // when set, every answer
	delay     time.Duration // before answering
	hits      []string      // "user:password path"
}

func newFakeRWS(t *testing.T, passwords map[string]string) *fakeRWS {
	f := &fakeRWS{passwords: passwords}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		f.mu.Lock()
		f.hits = append(f.hits, user+":"+pass+" "+r.Method+" "+r.URL.Path)
		status, delay, want := f.status, f.delay, f.passwords[user]
		f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case status != 0:
			if status == http.StatusFound {
				w.Header().Set("Location", "http://127.0.0.1:1/api/v2/me")
			}
			w.WriteHeader(status)
		case r.URL.Path != "/api/v2/me" || r.Method != http.MethodGet:
			w.WriteHeader(http.StatusNotFound)
		case want != "" && want == pass:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"statusCode":0,"user":{"userName":"` + user + `"}}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRWS) set(status int, delay time.Duration) {
	f.mu.Lock()
	f.status, f.delay = status, delay
	f.mu.Unlock()
}

func (f *fakeRWS) hitList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hits...)
}

// closedURL is an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

func rwsEnv(t *testing.T, server, peer string) *env {
	return newEnv(t, func(c map[string]any) {
		delete(c, "users_file")
		c["verifier"], c["server"], c["peer_server"], c["rws_timeout"] = "rws", server, peer, "300ms"
	})
}

func TestRWSVerifier(t *testing.T) {
	pw := map[string]string{"alice": "secret"}
	t.Run("valid", func(t *testing.T) {
		primary, peer := newFakeRWS(t, pw), newFakeRWS(t, pw)
		e := rwsEnv(t, primary.URL, peer.URL)
		b := e.login("alice", nil).want(t, http.StatusOK).json(t)
		if b["server"] != primary.URL || b["peerServer"] != peer.URL {
			t.Errorf("session servers %v, %v", b["server"], b["peerServer"])
		}
		if h := primary.hitList(); len(h) != 1 || h[0] != "alice:secret GET /api/v2/me" {
			t.Errorf("primary RWS saw %v", h)
		}
		if h := peer.hitList(); len(h) != 0 {
			t.Errorf("peer RWS asked though the primary answered: %v", h)
		}
		// Pings with the same password are not re-verified.
		e.ping("alice").want(t, http.StatusOK)
		if h := primary.hitList(); len(h) != 1 {
			t.Errorf("ping re-verified: %v", h)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		primary, peer := newFakeRWS(t, pw), newFakeRWS(t, pw)
		e := rwsEnv(t, primary.URL, peer.URL)
		e.do(req{path: "/api/v2/me", user: "alice", pass: "wrong"}).wantError(t, http.StatusUnauthorized, "wrong user name or password")
		primary.set(http.StatusForbidden, 0)
		e.login("alice", nil).wantError(t, http.StatusUnauthorized, "wrong user name or password")
		if h := peer.hitList(); len(h) != 0 {
			t.Errorf("peer asked after the primary refused the credentials: %v", h)
		}
		if starts, _ := e.eng.counts(); starts != 0 {
			t.Errorf("%d starts", starts)
		}
	})
	t.Run("primary down", func(t *testing.T) {
		peer := newFakeRWS(t, pw)
		e := rwsEnv(t, closedURL(t), peer.URL)
		e.login("alice", nil).want(t, http.StatusOK)
		if h := peer.hitList(); len(h) != 1 {
			t.Errorf("peer saw %v", h)
		}
	})
	t.Run("primary 503", func(t *testing.T) {
		primary, peer := newFakeRWS(t, pw), newFakeRWS(t, pw)
		primary.set(http.StatusServiceUnavailable, 0)
		e := rwsEnv(t, primary.URL, peer.URL)
		e.login("alice", nil).want(t, http.StatusOK)
		if len(primary.hitList()) != 1 || len(peer.hitList()) != 1 {
			t.Errorf("primary %v, peer %v", primary.hitList(), peer.hitList())
		}
	})
	t.Run("primary times out", func(t *testing.T) {
		primary, peer := newFakeRWS(t, pw), newFakeRWS(t, pw)
		primary.set(0, 2*time.Second)
		e := rwsEnv(t, primary.URL, peer.URL)
		start := time.Now()
		e.login("alice", nil).want(t, http.StatusOK)
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("login took %v with rws_timeout 300ms", d)
		}
	})
	t.Run("both down", func(t *testing.T) {
		primary, peer := newFakeRWS(t, pw), closedURL(t)
		primary.set(http.StatusBadGateway, 0)
		e := rwsEnv(t, primary.URL, peer)
		r := e.login("alice", nil)
		r.wantError(t, http.StatusInternalServerError, "rws: ")
		msg := string(r.body)
		if !strings.Contains(msg, primary.URL+": answered 502") || !strings.Contains(msg, peer) {
			t.Errorf("message %s does not name both servers and why", msg)
		}
		// A redirect is not followed (the credentials would go along).
		primary.set(http.StatusFound, 0)
		e.login("alice", nil).wantError(t, http.StatusInternalServerError, "answered 302")
		e.ping("alice").wantError(t, http.StatusUnauthorized, "no session")
	})
	t.Run("no server configured", func(t *testing.T) {
		e := rwsEnv(t, "", "")
		e.login("alice", nil).wantError(t, http.StatusInternalServerError, "no RWS server")
		// A POST login names the server.
		rws := newFakeRWS(t, pw)
		e.loginPOST("alice", `[{"name":"server","value":"`+rws.URL+`"}]`, nil).want(t, http.StatusOK)
	})
	t.Run("login body's servers and DR switch", func(t *testing.T) {
		configured, dc1, dc2 := newFakeRWS(t, pw), newFakeRWS(t, pw), newFakeRWS(t, map[string]string{"alice": "secret"})
		e := rwsEnv(t, configured.URL, "")
		e.loginPOST("alice", `[{"name":"server","value":"`+dc1.URL+`"},{"name":"peer_server","value":"`+dc2.URL+`"}]`, nil).want(t, http.StatusOK)
		if len(configured.hitList()) != 0 || len(dc1.hitList()) != 1 {
			t.Errorf("configured %v, dc1 %v: want the login's server asked", configured.hitList(), dc1.hitList())
		}
		// DC1 fails; the desktop logs in again naming DC2 as the server.
		dc1.set(http.StatusServiceUnavailable, 0)
		r := e.loginPOST("alice", `[{"name":"server","value":"`+dc2.URL+`"}]`, nil).want(t, http.StatusOK)
		if b := r.json(t); b["server"] != dc2.URL || b["recording"].(map[string]any)["recordingId"] != "rec-1" {
			t.Errorf("after DR: %v", b)
		}
		// From now on the session's credentials are checked at DC2: the agent's password
		// changed there.
		dc2.mu.Lock()
		dc2.passwords["alice"] = "secret2"
		dc2.mu.Unlock()
		before := len(dc1.hitList())
		e.do(req{path: "/ping", user: "alice", pass: "secret2"}).want(t, http.StatusOK)
		if len(dc1.hitList()) != before || !strings.HasPrefix(dc2.hitList()[len(dc2.hitList())-1], "alice:secret2 ") {
			t.Errorf("dc1 %v, dc2 %v: want the new password checked at dc2", dc1.hitList(), dc2.hitList())
		}
		if c, _ := e.srs.Credentials("alice"); c.Password != "secret2" {
			t.Errorf("credentials not updated: %q", c.Password)
		}
		as, _ := e.srs.Session("alice")
		if as.Server != dc2.URL {
			t.Errorf("Session(alice).Server = %s, want %s", as.Server, dc2.URL)
		}
	})
}

func TestStaticUsersFile(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := dir + "/users"
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hash := string(h)
	for _, c := range []struct{ content, err string }{
		{"alice:secret\n", "not a bcrypt hash"},
		{"alice:" + hash + "\nalice:" + hash + "\n", "appears twice"},
		{"alice\n", "want user:bcrypt-hash"},
		{":" + hash + "\n", "want user:bcrypt-hash"},
		{"# nobody\n\n", "no users"},
		{"alice:$2a$04$short\n", "not a bcrypt hash"},
	} {
		if _, err := loadUsersFile(write(c.content)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("users file %q: %v, want %q", c.content, err, c.err)
		}
	}
	v, err := loadUsersFile(write("# comment\n\n  bob : " + hash + "  \n"))
	if err != nil || len(v.hashes) != 1 || v.hashes["bob"] == nil {
		t.Fatalf("loadUsersFile = %v, %v", v, err)
	}
	if _, err := loadUsersFile(dir + "/missing"); err == nil {
		t.Error("a missing users file loaded")
	}
}
