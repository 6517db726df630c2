package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/screenrec/recorder/plugins/sdk"
)

// contract checks the API against openapi.yaml (contract_kin_test.go).
type contract interface {
	checkDocument(t *testing.T)
	checkResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte)
}

var (
	contractOnce sync.Once
	theContract  contract
)

func getContract(t testing.TB) contract {
	t.Helper()
	contractOnce.Do(func() { theContract = newContract(t) })
	if theContract == nil {
		t.Fatal("openapi.yaml did not load")
	}
	return theContract
}

func init() { pollInterval = 5 * time.Millisecond }

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Test credentials.
const (
	testSecret   = "k1-secret-3b9f0d6a9c2e4f7a8b1c5d0e2f4a6b8c"
	noPermSecret = "k2-secret-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	testKeyA     = "signing-key-A-0123456789abcdef0123456789abcdef"
	testKeyB     = "signing-key-B-fedcba9876543210fedcba9876543210"
)

// testConfigMap is a good config: users 1234567, alice, bob, carol and u0…u9; access keys
// k1 (RecordScreenInteraction) and k2 (no such permission); signing keys a (active) and b;
// short windows.
func testConfigMap() map[string]any {
	users := []any{
		map[string]any{"id": "1234567", "display": ":10"},
		map[string]any{"id": "alice", "display": ":11"},
		map[string]any{"id": "bob", "display": ":12"},
		map[string]any{"id": "carol"},
	}
	for i := range 10 {
		users = append(users, map[string]any{"id": fmt.Sprintf("u%d", i), "display": fmt.Sprintf(":%d", 20+i)})
	}
	return map[string]any{
		"listen": "127.0.0.1:0",
		"users":  users,
		"access_keys": []any{
			map[string]any{"id": "k1", "secret_sha256": HashSecret(testSecret), "permissions": []any{PermissionRecordScreenInteraction}},
			map[string]any{"id": "k2", "secret_sha256": HashSecret(noPermSecret), "permissions": []any{"ViewRecordings"}},
		},
		"signing_keys": []any{
			map[string]any{"id": "a", "key": testKeyA},
			map[string]any{"id": "b", "key": testKeyB},
		},
		"active_key_id":  "a",
		"confirm_window": "300ms",
		"engine_timeout": "1s",
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// env is a served front end with a fake engine.
type env struct {
	t      *testing.T
	c      *Cloud
	eng    *fakeEngine
	base   string
	eps    []sdk.Endpoint
	token  string // a k1 token
	client *http.Client
}

// newEnv configures (testConfigMap changed by mods) and serves a front end on loopback.
func newEnv(t *testing.T, mods ...func(m map[string]any)) *env {
	t.Helper()
	m := testConfigMap()
	for _, mod := range mods {
		mod(m)
	}
	c := New()
	diags, err := c.Configure(context.Background(), mustJSON(t, m))
	if err != nil || hasError(diags) {
		t.Fatalf("Configure = %+v, %v", diags, err)
	}
	eng := newFakeEngine()
	eps, err := c.Serve(context.Background(), eng)
	if err != nil {
		t.Fatalf("Serve = %v", err)
	}
	e := &env{t: t, c: c, eng: eng, base: eps[0].URL, eps: eps, client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() {
		// Connections the client dialed but never used would hold Shutdown for 5 s.
		e.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop = %v", err)
		}
		eng.Close()
	})
	e.token = e.getToken("k1", testSecret)
	return e
}

func hasError(diags []sdk.Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			return true
		}
	}
	return false
}

// resp is an answer, checked against openapi.yaml.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(key string) string { s, _ := r.body[key].(string); return s }

// contact returns the contactId (a JSON number).
func (r resp) contact() int64 {
	n, ok := r.body["contactId"].(json.Number)
	if !ok {
		return 0
	}
	v, _ := n.Int64()
	return v
}

// do sends a request and checks the answer against the contract when the path is documented.
func (e *env) do(method, pathAndQuery, token string, body io.Reader, hdr ...string) resp {
	e.t.Helper()
	return doReq(e.t, e.client, method, e.base+pathAndQuery, token, body, hdr...)
}

func doReq(t testing.TB, client *http.Client, method, u, token string, body io.Reader, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, u, err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&r.body); err != nil {
		t.Errorf("%s %s → %d: body %q is not a JSON object: %v", method, u, res.StatusCode, raw, err)
	}
	if documented(req.Method, req.URL.Path) {
		getContract(t).checkResponse(t, req, res.StatusCode, res.Header, raw)
	}
	if res.StatusCode >= 400 {
		if want := reason(res.StatusCode); r.str("httpStatus") != want || r.str("description") == "" {
			t.Errorf("%s %s → %d %s: want httpStatus %q and a description", method, u, res.StatusCode, raw, want)
		}
	}
	return r
}

func documented(method, path string) bool {
	if method != http.MethodPost {
		return false
	}
	switch path {
	case PathToken, PathStart, PathStartNoVersion, PathStop, PathStopNoVersion:
		return true
	}
	return false
}

func (e *env) getToken(id, secret string) string {
	e.t.Helper()
	r := e.do("POST", PathToken, "", bytes.NewReader(mustJSON(e.t, map[string]string{"accessKeyId": id, "accessKeySecret": secret})),
		"Content-Type", "application/json")
	if r.status != http.StatusOK {
		e.t.Fatalf("token for %s: %d %s", id, r.status, r.raw)
	}
	return r.str("access_token")
}

// start and stop call the /v1 paths with userId.
func (e *env) start(user string, secs int) resp {
	e.t.Helper()
	return e.do("POST", fmt.Sprintf("%s?userId=%s&recordingDuration=%d", PathStart, url.QueryEscape(user), secs), e.token, nil)
}

func (e *env) stop(user string, contact int64) resp {
	e.t.Helper()
	return e.do("POST", fmt.Sprintf("%s?userId=%s&contactId=%d", PathStop, url.QueryEscape(user), contact), e.token, nil)
}

// want fails unless r has status.
func want(t testing.TB, r resp, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s → %d %s, want %d", what, r.status, r.raw, status)
	}
}

// signToken makes a token as the front end would, with changes.
func signToken(t testing.TB, method jwt.SigningMethod, kid any, key []byte, mod func(c jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"sub": "k1", "perms": []string{PermissionRecordScreenInteraction}, "iss": Issuer,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mod != nil {
		mod(claims)
	}
	tok := jwt.NewWithClaims(method, claims)
	if kid != nil {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eventually polls cond until it holds or 3 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 3s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
