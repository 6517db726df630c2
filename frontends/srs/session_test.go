package srs

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	e.login("alice", nil).want(t, http.StatusOK)
	e.do(req{method: http.MethodPost, path: "/api/v2/me", user: "alice", pass: "wrong", body: logoutBody}).
		wantError(t, http.StatusUnauthorized, "wrong user name or password")
	e.ping("alice").want(t, http.StatusOK) // still logged in
	r := e.do(req{method: http.MethodPost, path: "/api/v2/me/", user: "alice", pass: "secret", body: logoutBody}).want(t, http.StatusOK)
	if string(r.body) != "{\"statusCode\":0}\n" {
		t.Errorf("logout body %q, want {\"statusCode\":0}", r.body)
	}
	if ids := e.eng.stopIDs(); !slices.Equal(ids, []string{"rec-1"}) {
		t.Errorf("engine stops %v, want [rec-1]", ids)
	}
	if s, _ := e.eng.Get(context.Background(), "rec-1"); s.State != api.StateCompleted {
		t.Errorf("recording %s after logout, want completed", s.State)
	}
	e.ping("alice").wantError(t, http.StatusUnauthorized, "alice has no session")
	e.logout("alice", nil).wantError(t, http.StatusUnauthorized, "alice has no session")
	if _, ok := e.srs.Credentials("alice"); ok {
		t.Error("credentials kept after logout")
	}
	// A new login is a new session with a new recording.
	e.login("alice", nil).want(t, http.StatusOK)
	if starts, _ := e.eng.counts(); starts != 2 {
		t.Errorf("%d starts, want 2", starts)
	}
}

func TestLogoutWithoutSession(t *testing.T) {
	e := newEnv(t, nil)
	e.logout("bob", nil).wantError(t, http.StatusUnauthorized, "bob has no session")
	// A wrong body is reported as such, session or not.
	e.loginPOST("bob", `{"operationName":"EndSession"}`, nil).wantError(t, http.StatusBadRequest, "unknown operationName")
	if _, stops := e.eng.counts(); stops != 0 {
		t.Errorf("%d engine stops", stops)
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t, func(c map[string]any) { c["ping_timeout"] = "400ms" })
	e.ping("alice").wantError(t, http.StatusUnauthorized, "alice has no session")
	login := e.login("alice", nil).want(t, http.StatusOK).json(t)
	if login["pingTimeoutSeconds"] != 0.4 {
		t.Errorf("pingTimeoutSeconds %v, want 0.4", login["pingTimeoutSeconds"])
	}
	// Pings keep the session alive well past the timeout.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		b := e.ping("alice").want(t, http.StatusOK).json(t)
		delete(b, "recording")
		delete(login, "recording")
		if !mapsEqual(b, login) {
			t.Fatalf("ping body %v, want the session %v", b, login)
		}
	}
	if _, stops := e.eng.counts(); stops != 0 {
		t.Fatalf("%d engine stops while pinging", stops)
	}
	// The engine's state shows in the ping.
	e.eng.setState("rec-1", api.StateMasked)
	if st := e.ping("alice").want(t, http.StatusOK).json(t)["recording"].(map[string]any)["state"]; st != "masked" {
		t.Errorf("ping shows %v, want masked", st)
	}
	e.eng.setState("rec-1", api.StateRecording)
	ck := e.login("alice", nil).want(t, http.StatusOK).cookie()

	// No more pings: the session times out, its recording is stopped (and so finalised).
	start := time.Now()
	eventually(t, 2*time.Second, "engine Stop after the ping timeout", func() bool {
		return slices.Equal(e.eng.stopIDs(), []string{"rec-1"})
	})
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("stopped after %v, before the 400ms timeout", d)
	}
	e.ping("alice").wantError(t, http.StatusUnauthorized, "alice has no session")
	e.do(req{path: "/ping", cookie: ck}).wantError(t, http.StatusUnauthorized, "has ended")
	if _, ok := e.srs.Credentials("alice"); ok {
		t.Error("credentials kept after the timeout")
	}
	// The desktop logs in again: a new recording.
	b := e.login("alice", nil).want(t, http.StatusOK).json(t)
	if id := b["recording"].(map[string]any)["recordingId"]; id != "rec-2" {
		t.Errorf("recording after re-login %v, want rec-2", id)
	}
}

func mapsEqual(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestCredentialsHandOff(t *testing.T) {
	s := New()
	if _, ok := s.Credentials("alice"); ok {
		t.Error("credentials before Serve")
	}
	e := newEnv(t, nil)
	e.login("alice", nil).want(t, http.StatusOK)
	c, ok := e.srs.Credentials("alice")
	if !ok || c != (sdk.Credentials{Username: "alice", Password: "secret"}) {
		t.Errorf("Credentials(alice) = %+v, %v", c, ok)
	}
	if _, ok := e.srs.Credentials("bob"); ok {
		t.Error("credentials of bob, who has no session")
	}
	if b, _ := json.Marshal(c); strings.Contains(string(b), "secret") {
		t.Errorf("credentials marshal the password: %s", b)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	e.do(req{path: "/nope", unrouted: true}).wantError(t, http.StatusNotFound, "no such endpoint: /nope")
	e.do(req{path: "/api/v2/me/devices", user: "alice", pass: "secret", unrouted: true}).wantError(t, http.StatusNotFound, "no such endpoint")
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodPut, "/ping", "GET"},
		{http.MethodPost, "/ping", "GET"},
		{http.MethodDelete, "/api/v2/me", "POST"},
	} {
		r := e.do(req{method: c.method, path: c.path, user: "alice", pass: "secret", unrouted: true})
		r.wantError(t, http.StatusMethodNotAllowed, "method "+c.method+" is not allowed on "+c.path)
		if !strings.Contains(r.hdr.Get("Allow"), c.allow) {
			t.Errorf("%s %s: Allow %q", c.method, c.path, r.hdr.Get("Allow"))
		}
	}
	if starts, _ := e.eng.counts(); starts != 0 {
		t.Errorf("%d starts", starts)
	}
}

func TestStop(t *testing.T) {
	eng := newFakeEngine()
	e := newEnvWith(t, eng, func(c map[string]any) { c["ping_timeout"] = "1s" }, nil)
	e.login("alice", nil).want(t, http.StatusOK)
	addr := strings.TrimPrefix(e.url, "http://")

	// A login in flight (its engine Start blocked) when Stop begins.
	gate, entered := make(chan struct{}), make(chan api.StartRequest, 1)
	eng.Set(func(f *sdktest.FakeEngine) { f.StartGate, f.StartIn = gate, entered })
	inflight := make(chan *resp, 1)
	go func() { inflight <- e.login("bob", nil) }()
	<-entered

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- e.srs.Stop(ctx)
	}()
	// While it finishes, new requests are answered 503 (JSON, CORS headers for allowed
	// origins), the pre-flights too.
	var r *resp
	eventually(t, 2*time.Second, "503 during Stop", func() bool {
		r = e.do(req{path: "/ping", user: "alice", pass: "secret", hdr: map[string]string{"Origin": originDesktop}})
		return r.status == http.StatusServiceUnavailable
	})
	r.wantError(t, http.StatusServiceUnavailable, "shutting down")
	wantHeader(t, r, "Access-Control-Allow-Origin", originDesktop)
	e.login("carol", nil).wantError(t, http.StatusServiceUnavailable, "shutting down")
	e.logout("alice", nil).wantError(t, http.StatusServiceUnavailable, "shutting down")
	e.do(req{method: http.MethodOptions, path: "/api/v2/me", hdr: map[string]string{"Origin": originDesktop}}).
		wantError(t, http.StatusServiceUnavailable, "shutting down")
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v with a request in flight", err)
	default:
	}

	// The request in flight finishes normally; then Stop returns and the listener is gone.
	close(gate)
	if r := <-inflight; r.status != http.StatusOK {
		t.Errorf("in-flight login: %d %s, want 200", r.status, r.body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop = %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still listening after Stop")
	}
	if err := e.srs.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	// Recordings go on (the host and engine finalise them), and no timer stops them.
	time.Sleep(1200 * time.Millisecond)
	if starts, stops := eng.counts(); starts != 2 || stops != 0 {
		t.Errorf("engine: %d starts, %d stops after Stop; want 2 (alice, bob), none", starts, stops)
	}
	if _, err := e.srs.Serve(context.Background(), eng); !errors.Is(err, sdk.ErrStopped) {
		t.Errorf("Serve after Stop = %v, want sdk.ErrStopped", err)
	}
}

func TestStopTimesOut(t *testing.T) {
	eng := newFakeEngine()
	e := newEnvWith(t, eng, nil, nil)
	gate, entered := make(chan struct{}), make(chan api.StartRequest, 1)
	defer close(gate)
	eng.Set(func(f *sdktest.FakeEngine) { f.StartGate, f.StartIn = gate, entered })
	done := make(chan struct{})
	go func() {
		defer close(done)
		hr, _ := http.NewRequest(http.MethodGet, e.url+"/api/v2/me", nil)
		hr.SetBasicAuth("alice", "secret")
		if res, err := http.DefaultClient.Do(hr); err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srs.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with a request stuck = %v, want a deadline error", err)
	}
	if err := e.srs.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

func TestOrphanedRecordings(t *testing.T) {
	eng := newFakeEngine()
	alice := eng.add(api.StartRequest{Owner: "alice", Frontend: "srs"}, api.StateRecording)
	bob := eng.add(api.StartRequest{Owner: "bob", Frontend: "srs"}, api.StateRecording)
	other := eng.add(api.StartRequest{Owner: "dave", Frontend: "cloud"}, api.StateRecording)
	e := newEnvWith(t, eng, func(c map[string]any) { c["ping_timeout"] = "400ms" }, nil)
	// Alice's desktop logs in again: her running recording is adopted.
	rec := e.login("alice", nil).want(t, http.StatusOK).json(t)["recording"].(map[string]any)
	if rec["recordingId"] != alice.ID {
		t.Errorf("alice's recording %v, want %s adopted", rec["recordingId"], alice.ID)
	}
	// Bob's desktop is gone: his recording is stopped after the ping timeout.
	for end := time.Now().Add(700 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		e.ping("alice").want(t, http.StatusOK)
	}
	if ids := eng.stopIDs(); !slices.Equal(ids, []string{bob.ID}) {
		t.Errorf("engine stops %v, want [%s] (not %s, adopted, nor %s, another front end's)", ids, bob.ID, alice.ID, other.ID)
	}
}

func TestStopLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	rws := newFakeRWS(t, map[string]string{"alice": "secret"})
	users := writeUsersFile(t, t.TempDir())
	for _, verifier := range []string{"static", "rws"} {
		s := New()
		cfg := map[string]any{"listen": "127.0.0.1:0", "users_file": users, "verifier": verifier,
			"server": rws.URL, "ping_timeout": "1s"}
		if diags := configure(t, s, cfg); len(diags) > 0 && diags[0].Severity == sdk.SeverityError {
			t.Fatal(diags)
		}
		eps, err := s.Serve(context.Background(), newFakeEngine())
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{}
		client := &http.Client{Transport: tr}
		for _, path := range []string{"/api/v2/me", "/ping"} {
			hr, _ := http.NewRequest(http.MethodGet, eps[0].URL+path, nil)
			hr.SetBasicAuth("alice", "secret")
			res, err := client.Do(hr)
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %v %v", verifier, path, res, err)
			}
			res.Body.Close()
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		tr.CloseIdleConnections()
	}
	rws.Close()
	eventually(t, 2*time.Second, "goroutines to end after Stop", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

// TestPingAfterDeadlineBeforeTimer: a ping that arrives after the timeout but before the
// timer has run (a busy machine) finds the session ended, and ends it itself.
func TestPingAfterDeadlineBeforeTimer(t *testing.T) {
	e := newEnv(t, func(c map[string]any) { c["ping_timeout"] = "10s" })
	e.login("alice", nil).want(t, http.StatusOK)
	e.srs.mu.Lock()
	srv := e.srs.srv
	e.srs.mu.Unlock()
	sl := srv.store.acquire("alice")
	sl.sess.deadline = time.Now().Add(-time.Millisecond)
	srv.store.release(sl)
	e.ping("alice").wantError(t, http.StatusUnauthorized, "alice has no session")
	if ids := e.eng.stopIDs(); !slices.Equal(ids, []string{"rec-1"}) {
		t.Errorf("engine stops %v, want [rec-1]", ids)
	}
}
