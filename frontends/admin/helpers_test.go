package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/frontends/admin"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/openapitest"
	"github.com/screenrec/recorder/internal/xvfb"
	"github.com/screenrec/recorder/plugins/host"
)

// The real engine and the real plugin host are what the API is written against.
var (
	_ admin.Engine  = (*engine.Engine)(nil)
	_ admin.Plugins = (*host.Host)(nil)
)

// testToken is the admin token of every fixture.
const testToken = "test-admin-token-0123456789abcdef"

var (
	contractOnce sync.Once
	contract     *openapitest.Contract
	contractErr  error
)

// getContract loads openapi.yaml once.
func getContract(t testing.TB) *openapitest.Contract {
	t.Helper()
	contractOnce.Do(func() { contract, contractErr = openapitest.New(admin.OpenAPI) })
	if contractErr != nil {
		t.Fatalf("openapi.yaml: %v", contractErr)
	}
	return contract
}

// plugins stands in for the plugin host's readiness (the host's own Ready is tested with
// real plugin processes in plugins/host, and through `recorder run` in e2e).
type plugins struct {
	mu  sync.Mutex
	err error
}

func (p *plugins) Ready() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *plugins) set(err error) {
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
}

// fixture is a real engine on a private display with the admin API served on loopback.
type fixture struct {
	t       *testing.T
	display string
	spool   string
	eng     *engine.Engine
	srv     *admin.Server
	base    string
	plugins *plugins
	client  *http.Client // checks every exchange against openapi.yaml
}

// newFixture starts a display, an engine and the API; mod may change the API's config and
// deps before New.
func newFixture(t *testing.T, mod ...func(*admin.Config, *admin.Deps)) *fixture {
	t.Helper()
	mediatest.SkipIfUnavailable(t)
	x := xvfb.StartForTest(t, xvfb.TwoMonitors)
	spool := t.TempDir()
	eng, err := engine.New(context.Background(), engine.Config{SpoolDir: spool, MinFreeDisk: -1, SegmentDuration: 0},
		engine.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	f := &fixture{t: t, display: x.Display, spool: spool, eng: eng, plugins: &plugins{}}
	f.serve(mod...)
	return f
}

// serve (re)starts the API over the fixture's engine.
func (f *fixture) serve(mod ...func(*admin.Config, *admin.Deps)) {
	t := f.t
	t.Helper()
	cfg := admin.Config{Listen: "127.0.0.1:0", Token: testToken, Logger: testLogger(t)}
	deps := admin.Deps{Engine: f.eng, Plugins: f.plugins, SpoolDir: f.spool, Displays: []string{f.display}}
	for _, m := range mod {
		m(&cfg, &deps)
	}
	srv, err := admin.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.srv, f.base = srv, "http://"+srv.Addr()
	f.client = &http.Client{Transport: getContract(t).Transport(t, nil), Timeout: 60 * time.Second}
	client := f.client
	t.Cleanup(func() {
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// testLogger sends log lines to the test's log, at warn and above.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// start starts a recording of owner's screen on the fixture's display.
func (f *fixture) start(owner string) engine.Session {
	f.t.Helper()
	s, err := f.eng.Start(context.Background(), engine.StartRequest{Owner: owner, Frontend: "test",
		Source: engine.Source{Display: f.display}})
	if err != nil {
		f.t.Fatalf("start %s: %v", owner, err)
	}
	return s
}

// res is an answer.
type res struct {
	status int
	header http.Header
	raw    []byte
}

// decode decodes the JSON body into v, failing the test if it is not that.
func (r res) decode(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("body %s: %v", r.raw, err)
	}
}

// errBody decodes an error answer.
func (r res) errBody(t testing.TB) admin.Error {
	t.Helper()
	var e admin.Error
	r.decode(t, &e)
	return e
}

// kind of request: on the contract (checked both ways), off it on purpose (only the answer
// is checked) or to a path the document lacks (nothing checked).
type kind int

const (
	onContract kind = iota
	offContract
	unrouted
)

// call sends a request with token ("" for none) and a body ("" for none).
func (f *fixture) call(k kind, method, path, token, body string) res {
	f.t.Helper()
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	return f.callAuth(k, method, path, auth, body)
}

// callAuth sends a request with this Authorization header ("" for none).
func (f *fixture) callAuth(k kind, method, path, auth, body string) res {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.base+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	switch k {
	case offContract:
		req = openapitest.OffContract(req)
	case unrouted:
		req = openapitest.Unrouted(req)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	r := res{status: resp.StatusCode, header: resp.Header, raw: raw}
	if r.status >= 400 && path != admin.PathReady {
		if e := r.errBody(f.t); e.Code == "" || e.Message == "" {
			f.t.Errorf("%s %s → %d: error body %s lacks a code or message", method, path, r.status, raw)
		}
	}
	return r
}

// get and post are calls on the contract with the fixture's token.
func (f *fixture) get(path string) res {
	f.t.Helper()
	return f.call(onContract, "GET", path, testToken, "")
}

func (f *fixture) post(path, body string) res {
	f.t.Helper()
	return f.call(onContract, "POST", path, testToken, body)
}

// want checks an answer's status.
func want(t testing.TB, r res, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.status, r.raw, status)
	}
}
