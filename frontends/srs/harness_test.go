package srs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"golang.org/x/crypto/bcrypt"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

// fakeEngine is the SDK test kit's fake engine (which sdktest.EngineBehaviour holds to the
// real one), with the short names these tests use.
type fakeEngine struct{ *sdktest.FakeEngine }

func newFakeEngine() *fakeEngine { return &fakeEngine{sdktest.NewFakeEngine()} }

// add creates a session as if an earlier Start had.
func (f *fakeEngine) add(req api.StartRequest, state api.State) api.Session { return f.Add(req, state) }

func (f *fakeEngine) setState(id string, st api.State) { f.SetState(id, st) }

func (f *fakeEngine) counts() (starts, stops int) { return f.Counts() }

func (f *fakeEngine) startReqs() []api.StartRequest { return f.Requests() }

func (f *fakeEngine) stopIDs() []string { return f.StopIDs() }

func (f *fakeEngine) lent(owner string) (api.UploadAuth, bool) { return f.Lent(owner) }

// startReqsIDs returns the ids of every session, oldest first.
func (f *fakeEngine) startReqsIDs() []string {
	list, _ := f.List(context.Background(), api.ListFilter{})
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids
}

// Test users of the users file (bcrypt at the minimum cost, so tests stay fast).
var testUsers = map[string]string{"alice": "secret", "bob": "hunter2", "carol": "pa:ss word"}

// writeUsersFile writes a users file of testUsers into dir.
func writeUsersFile(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test users\n\n")
	for u, p := range testUsers {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	path := filepath.Join(dir, "users")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The origins every test server allows.
const (
	originDesktop  = "https://desktop.example.com"
	originWildcard = "https://*.agents.example.com"
	originLocal    = "http://localhost:3000"
	rws1           = "https://rws.dc1.example.com"
	rws2           = "https://rws.dc2.example.com"
)

// baseConfig is the config of a test server: static verifier with testUsers, short timeouts.
func baseConfig(t testing.TB) map[string]any {
	return map[string]any{
		"listen":       "127.0.0.1:0",
		"users_file":   writeUsersFile(t, t.TempDir()),
		"origins":      []string{originDesktop, originWildcard, originLocal},
		"ping_timeout": "5s",
		"server":       rws1,
		"peer_server":  rws2,
		"display":      ":0",
		"agents": []map[string]any{{"user": "alice", "display": ":10", "place": "Place_101",
			"devices": []map[string]string{{"dn": "7001", "switch": "SIP_Switch"}}}},
		"throttle_failures": 5,
		"throttle_lockout":  "30s",
	}
}

// env is a served front end with a fake engine and a client that validates every response
// against openapi.yaml.
type env struct {
	t        *testing.T
	srs      *SRS
	eng      *fakeEngine
	url      string // http://127.0.0.1:port
	httpsURL string // https://127.0.0.1:port when HTTPS is configured
	eps      []sdk.Endpoint
	client   *http.Client
}

// newEnv serves a front end configured by baseConfig changed by edit (nil: none).
func newEnv(t *testing.T, edit func(cfg map[string]any)) *env {
	t.Helper()
	return newEnvWith(t, newFakeEngine(), edit, nil)
}

func newEnvWith(t *testing.T, eng *fakeEngine, edit func(cfg map[string]any), pool *x509.CertPool) *env {
	t.Helper()
	cfg := baseConfig(t)
	if edit != nil {
		edit(cfg)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	diags, err := s.Configure(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			t.Fatalf("Configure: %+v", diags)
		}
	}
	eps, err := s.Serve(context.Background(), eng)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	e := &env{t: t, srs: s, eng: eng, eps: eps}
	for _, ep := range eps {
		switch ep.Name {
		case "http":
			e.url = ep.URL
		case "https":
			e.httpsURL = ep.URL
		}
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: false}
	t.Cleanup(tr.CloseIdleConnections)
	e.client = &http.Client{Transport: &validating{t: t, router: testRouter(t), base: tr},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

// req is one request of a test.
type req struct {
	method string
	path   string
	body   string
	ct     string            // Content-Type; "-" for none; default application/json with a body
	hdr    map[string]string // more headers
	user   string            // Basic credentials when set
	pass   string
	cookie *http.Cookie
	https  bool
	// unrouted marks a request openapi.yaml does not describe (unknown path, wrong method).
	unrouted bool
}

// resp is a response, its body read.
type resp struct {
	status int
	hdr    http.Header
	body   []byte
	origin string // the request's Origin header
}

// json decodes the body into a map.
func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// cookie returns the session cookie the response sets.
func (r *resp) cookie() *http.Cookie {
	for _, c := range (&http.Response{Header: r.hdr}).Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	return nil
}

func (e *env) do(r req) *resp {
	e.t.Helper()
	base := e.url
	if r.https {
		base = e.httpsURL
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	ctx := context.Background()
	if r.unrouted {
		ctx = context.WithValue(ctx, unroutedKey{}, true)
	}
	hr, err := http.NewRequestWithContext(ctx, method, base+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	switch {
	case r.ct == "-":
	case r.ct != "":
		hr.Header.Set("Content-Type", r.ct)
	case r.body != "":
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, r.pass)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	res, err := e.client.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &resp{status: res.StatusCode, hdr: res.Header, body: b, origin: hr.Header.Get("Origin")}
}

// Shorthands.

func (e *env) login(user string, hdr map[string]string) *resp {
	e.t.Helper()
	return e.do(req{path: "/api/v2/me", user: user, pass: testUsers[user], hdr: hdr})
}

func (e *env) loginPOST(user, body string, hdr map[string]string) *resp {
	e.t.Helper()
	return e.do(req{method: http.MethodPost, path: "/api/v2/me", user: user, pass: testUsers[user], body: body, hdr: hdr})
}

func (e *env) ping(user string) *resp {
	e.t.Helper()
	return e.do(req{path: "/ping", user: user, pass: testUsers[user]})
}

const logoutBody = `{"operationName":"EndContactCenterSession"}`

func (e *env) logout(user string, hdr map[string]string) *resp {
	e.t.Helper()
	return e.loginPOST(user, logoutBody, hdr)
}

// want fails the test unless r has the status.
func (r *resp) want(t testing.TB, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// wantError checks an error response: the status, the JSON body {"statusCode", "message"}
// with the same status and a message containing msg.
func (r *resp) wantError(t testing.TB, status int, msg string) {
	t.Helper()
	r.want(t, status)
	var b struct {
		StatusCode int     `json:"statusCode"`
		Message    *string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Message == nil {
		t.Fatalf("error body %q is not {statusCode, message}: %v", r.body, err)
	}
	if b.StatusCode != status {
		t.Errorf("statusCode %d in the body of a %d", b.StatusCode, status)
	}
	if !strings.Contains(*b.Message, msg) {
		t.Errorf("message %q does not contain %q", *b.Message, msg)
	}
	if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if status == http.StatusUnauthorized {
		// Pages get a challenge browsers do not prompt for; native clients get Basic.
		want := `Basic realm="SRS"`
		if r.origin != "" {
			want = `SRS realm="SRS"`
		}
		if got := r.hdr.Values("WWW-Authenticate"); len(got) != 1 || got[0] != want {
			t.Errorf("WWW-Authenticate = %q, want %s", got, want)
		}
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The OpenAPI validation of every response.

type unroutedKey struct{}

var (
	docOnce sync.Once
	docErr  error
	docRt   routers.Router
)

// testRouter loads openapi.yaml (once) and returns a router over it, servers dropped so that
// any host and port match.
func testRouter(t testing.TB) routers.Router {
	t.Helper()
	docOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(OpenAPI)
		if err != nil {
			docErr = err
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			docErr = err
			return
		}
		doc.Servers = nil
		docRt, docErr = legacy.NewRouter(doc)
	})
	if docErr != nil {
		t.Fatalf("openapi.yaml: %v", docErr)
	}
	return docRt
}

// validating is a RoundTripper that checks every response against openapi.yaml.
type validating struct {
	t      testing.TB
	router routers.Router
	base   http.RoundTripper
}

func (v *validating) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := v.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err := validateResponse(r, res.StatusCode, res.Header, body, v.router); err != nil {
		if r.Context().Value(unroutedKey{}) == nil || !strings.Contains(err.Error(), "no route") {
			v.t.Errorf("%s %s → %d does not match openapi.yaml: %v\nheaders: %v\nbody: %s",
				r.Method, r.URL.Path, res.StatusCode, err, res.Header, body)
		}
	} else if r.Context().Value(unroutedKey{}) != nil {
		v.t.Errorf("%s %s is described by openapi.yaml but the test calls it unrouted", r.Method, r.URL.Path)
	}
	return res, nil
}

func validateResponse(r *http.Request, status int, hdr http.Header, body []byte, router routers.Router) error {
	r2 := r.Clone(r.Context())
	if p := r2.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		r2.URL.Path = strings.TrimSuffix(p, "/") // the /api/v2/me/ alias
	}
	route, params, err := router.FindRoute(r2)
	if err != nil {
		return fmt.Errorf("no route: %w", err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r2, PathParams: params, Route: route},
		Status:                 status,
		Header:                 hdr,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}
