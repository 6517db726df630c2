package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/admin"
	"github.com/screenrec/recorder/internal/xvfb"
	"github.com/screenrec/recorder/pkg/config"

	"github.com/screenrec/recorder/engine/catalog/catalogtest"
)

// The document lists exactly the engine's upload failure kinds.
func TestAdminOpenAPIListsEveryFailureKind(t *testing.T) {
	schema := getContract(t).Doc().Components.Schemas["Upload"]
	if schema == nil || schema.Value.Properties["last_error_kind"] == nil {
		t.Fatal("openapi.yaml: no Upload.last_error_kind")
	}
	var documented, kinds []string
	for _, v := range schema.Value.Properties["last_error_kind"].Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	for _, k := range api.FailureKinds() {
		kinds = append(kinds, string(k))
	}
	slices.Sort(documented)
	slices.Sort(kinds)
	if !slices.Equal(documented, kinds) {
		t.Errorf("Upload.last_error_kind enum %v, api.FailureKinds %v", documented, kinds)
	}
}

// The document is valid OpenAPI 3.0.3 and describes exactly the routes the server has.
func TestAdminOpenAPIDocumentMatchesTheRoutes(t *testing.T) {
	doc := getContract(t).Doc()
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	srv, err := admin.New(admin.Config{Listen: "127.0.0.1:0", Token: testToken},
		admin.Deps{Engine: (*engine.Engine)(nil), Fleet: routesOnly{}, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var served, documented []string
	for _, r := range srv.Handler().(*echo.Echo).Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		// The console's page and its files are HTML, CSS and JavaScript, not API operations.
		if r.Path == "/" || r.Path == "/console" || r.Path == admin.PathConsole+"*" {
			continue
		}
		p := r.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				p = strings.Replace(p, seg, "{"+seg[1:]+"}", 1)
			}
		}
		served = append(served, r.Method+" "+p)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("routes and openapi.yaml differ:\nserved     %v\ndocumented %v", served, documented)
	}
}

// routesOnly is a fleet that is never asked anything: the server's routes are all that is
// read of it. (The fleet view's answers are tested against a real controller, in
// fleet/controller.)
type routesOnly struct{ admin.Fleet }

func TestAdminNewChecksItsConfig(t *testing.T) {
	if admin.MinTokenLength != config.MinAdminTokenLength {
		t.Errorf("admin.MinTokenLength %d != config.MinAdminTokenLength %d", admin.MinTokenLength, config.MinAdminTokenLength)
	}
	eng := (*engine.Engine)(nil)
	good := admin.Config{Listen: "127.0.0.1:0", Token: testToken}
	for _, c := range []struct {
		cfg   admin.Config
		deps  admin.Deps
		field string
	}{
		{admin.Config{Listen: "nowhere", Token: testToken}, admin.Deps{Engine: eng, SpoolDir: "/s"}, "listen"},
		{admin.Config{Listen: "127.0.0.1:0", Token: "short"}, admin.Deps{Engine: eng, SpoolDir: "/s"}, "token"},
		{admin.Config{Listen: "127.0.0.1:0"}, admin.Deps{Engine: eng, SpoolDir: "/s"}, "token"},
		{good, admin.Deps{SpoolDir: "/s"}, "engine"},
		{good, admin.Deps{Engine: eng}, "spool_dir"},
	} {
		_, err := admin.New(c.cfg, c.deps)
		if !errors.Is(err, admin.ErrConfig) || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("New(%+v, %+v) = %v, want ErrConfig naming %s", c.cfg, c.deps, err, c.field)
		}
		if err != nil && strings.Contains(err.Error(), "short") {
			t.Errorf("the error quotes the token: %v", err)
		}
	}
}

// Every /api/v1 operation and /metrics refuse a request without the token, with a malformed
// Authorization header or with a wrong token; the probes and the document need none.
func TestAdminEveryEndpointWithAndWithoutTheToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(_ *admin.Config, d *admin.Deps) {
		d.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			fmt.Fprint(w, "# HELP recorder_up Whether the recorder is up.\n# TYPE recorder_up gauge\nrecorder_up 1\n")
		})
	})
	s := f.start("agent-1")
	protected := []struct {
		method, path, body string
		status             int // with the token
	}{
		{"GET", "/api/v1/sessions", "", 200},
		{"GET", "/api/v1/recordings", "", 200},
		{"GET", "/api/v1/recordings?state=recording&owner=agent-1", "", 200},
		{"GET", "/api/v1/recordings/" + s.ID, "", 200},
		{"GET", "/api/v1/uploads", "", 200},
		{"POST", "/api/v1/mask", `{"owner":"agent-1","on":false}`, 200},
		{"GET", "/metrics", "", 200},
		{"POST", "/api/v1/sessions/" + s.ID + "/stop", "", 200}, // last: it ends the session
	}
	for _, p := range protected {
		what := p.method + " " + p.path
		for _, bad := range []struct{ name, header, challenge string }{
			{"no token", "", `Bearer realm="recorder-admin"`},
			{"wrong token", "Bearer " + testToken + "x", `Bearer realm="recorder-admin", error="invalid_token"`},
			{"not bearer", "Basic YWRtaW46YWRtaW4=", `Bearer realm="recorder-admin", error="invalid_request"`},
			{"empty bearer", "Bearer ", `Bearer realm="recorder-admin", error="invalid_request"`},
		} {
			r := f.callAuth(offContract, p.method, p.path, bad.header, p.body)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != bad.challenge ||
				r.errBody(t).Code != admin.CodeUnauthorized {
				t.Errorf("%s, %s: %d %q %s; want 401 with %q", what, bad.name, r.status, r.header.Get("WWW-Authenticate"), r.raw, bad.challenge)
			}
		}
		r := f.call(onContract, p.method, p.path, testToken, p.body)
		if r.status != p.status {
			t.Errorf("%s with the token: %d %s, want %d", what, r.status, r.raw, p.status)
		}
	}
	// The probes and the document are open.
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/openapi.yaml"} {
		if r := f.call(onContract, "GET", path, "", ""); r.status != 200 {
			t.Errorf("GET %s without a token: %d %s", path, r.status, r.raw)
		}
	}
	if r := f.call(onContract, "GET", "/api/v1/openapi.yaml", "", ""); string(r.raw) != string(admin.OpenAPI) ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") {
		t.Errorf("the served document differs from admin.OpenAPI (Content-Type %q)", r.header.Get("Content-Type"))
	}
	if r := f.call(unrouted, "GET", "/api/v1/nothing", testToken, ""); r.status != http.StatusNotFound {
		t.Errorf("GET /api/v1/nothing: %d %s, want 404", r.status, r.raw)
	}
	if r := f.call(unrouted, "DELETE", "/api/v1/sessions", testToken, ""); r.status != http.StatusMethodNotAllowed ||
		r.errBody(t).Code != admin.CodeMethodNotAllowed {
		t.Errorf("DELETE /api/v1/sessions: %d %s, want 405", r.status, r.raw)
	}
	if r := f.call(unrouted, "GET", "/nothing", "", ""); r.status != http.StatusNotFound {
		t.Errorf("GET /nothing: %d %s, want 404", r.status, r.raw)
	}
}

// Sessions, recordings, one recording, stop (200, then 409, unknown 404), with the filters
// and bad ids.
func TestAdminSessionsRecordingsAndStop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.start("agent-a"), f.start("agent-b")

	var live admin.Sessions
	r := f.get("/api/v1/sessions")
	want(t, r, 200, "sessions")
	r.decode(t, &live)
	if ids := sessionIDs(live.Sessions); !slices.Equal(ids, []string{a.ID, b.ID}) {
		t.Errorf("sessions = %v, want %s and %s", ids, a.ID, b.ID)
	}
	for _, s := range live.Sessions {
		if s.State != "recording" || s.Source.Display != f.display || s.Source.Monitors != "all" || s.ContactID == 0 ||
			s.InteractionID == "" || s.CreatedAt.IsZero() || s.StartedAt.IsZero() || len(s.Segments) != 1 {
			t.Errorf("live session %+v", s)
		}
	}

	var one admin.Session
	r = f.get("/api/v1/recordings/" + a.ID)
	want(t, r, 200, "recording a")
	r.decode(t, &one)
	if one.ID != a.ID || one.Owner != "agent-a" || one.Frontend != "test" || one.ContactID != a.ContactID {
		t.Errorf("recording a = %+v", one)
	}

	time.Sleep(600 * time.Millisecond)
	r = f.post("/api/v1/sessions/"+a.ID+"/stop", "")
	want(t, r, 200, "stop a")
	r.decode(t, &one)
	if one.State != "completed" || one.EndedAt.IsZero() || one.DurationMS < 500 || len(one.Segments) != 1 ||
		!one.Segments[0].Closed || one.Segments[0].Bytes == 0 || len(one.Segments[0].SHA256) != 64 {
		t.Errorf("stopped a = %+v", one)
	}
	r = f.post("/api/v1/sessions/"+a.ID+"/stop", "")
	if want(t, r, 409, "stop a again"); r.errBody(t).Code != admin.CodeConflict {
		t.Errorf("stop a again: %s, want code conflict", r.raw)
	}

	r = f.get("/api/v1/sessions")
	r.decode(t, &live)
	if ids := sessionIDs(live.Sessions); !slices.Equal(ids, []string{b.ID}) {
		t.Errorf("sessions after a's stop = %v, want only %s", ids, b.ID)
	}

	var recs admin.Recordings
	for _, c := range []struct {
		query string
		ids   []string
	}{
		{"", []string{a.ID, b.ID}},
		{"?owner=agent-a", []string{a.ID}},
		{"?owner=nobody", []string{}},
		{"?state=completed", []string{a.ID}},
		{"?state=recording&state=masked", []string{b.ID}},
		{"?state=completed&owner=agent-b", []string{}},
	} {
		r = f.get("/api/v1/recordings" + c.query)
		want(t, r, 200, "recordings"+c.query)
		recs = admin.Recordings{}
		r.decode(t, &recs)
		if ids := sessionIDs(recs.Recordings); !slices.Equal(ids, c.ids) {
			t.Errorf("recordings%s = %v, want %v", c.query, ids, c.ids)
		}
	}
	// Comma-separated states are the same as repeated ones (not in the document's terms).
	r = f.call(offContract, "GET", "/api/v1/recordings?state=completed,recording", testToken, "")
	recs = admin.Recordings{}
	if r.decode(t, &recs); len(recs.Recordings) != 2 {
		t.Errorf("state=completed,recording: %s", r.raw)
	}
	r = f.call(offContract, "GET", "/api/v1/recordings?state=done", testToken, "")
	want(t, r, 400, "bad state")
	if msg := r.errBody(t).Message; !strings.Contains(msg, `"done"`) || !strings.Contains(msg, "idle, starting, recording, masked, stopping, finalizing, completed or failed") {
		t.Errorf("bad state message %q does not name the value and the valid states", msg)
	}

	// Unknown and malformed ids are 404, for reads and stops.
	for _, id := range []string{"rec-000000000000000000000000", "no%20such", "..", strings.Repeat("x", 200), "a%2Fb"} {
		for _, r := range []res{
			f.call(onContract, "GET", "/api/v1/recordings/"+id, testToken, ""),
			f.call(onContract, "POST", "/api/v1/sessions/"+id+"/stop", testToken, ""),
		} {
			if r.status != 404 || r.errBody(t).Code != admin.CodeNotFound {
				t.Errorf("id %q: %d %s, want 404", id, r.status, r.raw)
			}
		}
	}
}

func sessionIDs(list []admin.Session) []string {
	ids := []string{}
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

// A stop that outlasts the server's stop timeout is 202 with the session still finalising;
// another stop meanwhile, or after, is 409.
func TestAdminStopAnswers202WhenFinalisingOutlastsTheTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *admin.Config, _ *admin.Deps) { c.StopTimeout = time.Nanosecond })
	s := f.start("agent-slow")
	r := f.post("/api/v1/sessions/"+s.ID+"/stop", "")
	want(t, r, 202, "stop with a 1 ns timeout")
	var got admin.Session
	r.decode(t, &got)
	if got.State != "stopping" && got.State != "finalizing" {
		t.Errorf("202 with state %s", got.State)
	}
	r = f.post("/api/v1/sessions/"+s.ID+"/stop", "")
	want(t, r, 409, "second stop")
	if c := r.errBody(t).Code; c != admin.CodeBusy && c != admin.CodeConflict {
		t.Errorf("second stop: code %q", c)
	}
	// The timeout does not turn an unknown session into an accepted stop.
	if r := f.post("/api/v1/sessions/rec-000000000000000000000000/stop", ""); r.status != 404 {
		t.Errorf("stop of an unknown session with a 1 ns timeout: %d %s, want 404", r.status, r.raw)
	}
	deadline := time.Now().Add(15 * time.Second)
	for got.State != "completed" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		f.get("/api/v1/recordings/"+s.ID).decode(t, &got)
	}
	if got.State != "completed" {
		t.Fatalf("the stopped session never completed: %+v", got)
	}
}

// The upload queue: a completed recording's segment is queued; filters by state and
// recording; bad states are 400.
func TestAdminUploadsListsTheQueue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.start("agent-up")
	time.Sleep(300 * time.Millisecond)
	stopped, err := f.eng.Stop(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ups admin.Uploads
	r := f.get("/api/v1/uploads")
	want(t, r, 200, "uploads")
	r.decode(t, &ups)
	if len(ups.Uploads) != 1 {
		t.Fatalf("uploads = %s, want one job", r.raw)
	}
	u := ups.Uploads[0]
	seg := stopped.Segments[0]
	if u.RecordingID != s.ID || u.SegmentIndex != seg.Index || u.SegmentPath != seg.Path || u.Bytes != seg.Bytes ||
		u.State != "queued" || u.Attempts != 0 || u.Offset != 0 || u.Target != engine.DefaultUploadTarget || u.NextTryAt.IsZero() {
		t.Errorf("upload = %+v, want queued for %+v", u, seg)
	}
	for _, c := range []struct {
		query string
		n     int
	}{
		{"?state=queued", 1}, {"?state=failed&state=uploaded", 0}, {"?recording_id=" + s.ID, 1}, {"?recording_id=rec-x", 0},
	} {
		ups = admin.Uploads{}
		f.get("/api/v1/uploads"+c.query).decode(t, &ups)
		if len(ups.Uploads) != c.n {
			t.Errorf("uploads%s: %d jobs, want %d", c.query, len(ups.Uploads), c.n)
		}
	}
	r = f.call(offContract, "GET", "/api/v1/uploads?state=sent", testToken, "")
	if want(t, r, 400, "bad upload state"); !strings.Contains(r.errBody(t).Message, "queued, running, uploaded or failed") {
		t.Errorf("bad upload state: %s", r.raw)
	}
}

// Mask masks an owner's running session and answers it; bad bodies are 400, big ones 413.
func TestAdminMask(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.start("agent-m")
	var got admin.Sessions
	r := f.post("/api/v1/mask", `{"owner":"agent-m","on":true}`)
	want(t, r, 200, "mask")
	r.decode(t, &got)
	if len(got.Sessions) != 1 || got.Sessions[0].ID != s.ID || got.Sessions[0].State != "masked" {
		t.Errorf("mask answered %s", r.raw)
	}
	r = f.post("/api/v1/mask", `{"owner":"agent-m","on":false}`)
	want(t, r, 200, "unmask")
	got = admin.Sessions{}
	if r.decode(t, &got); len(got.Sessions) != 1 || got.Sessions[0].State != "recording" || len(got.Sessions[0].Masks) != 1 {
		t.Errorf("unmask answered %s", r.raw)
	}
	// By display: the same session, masked and unmasked again.
	for _, on := range []string{"true", "false"} {
		r = f.post("/api/v1/mask", `{"display":"`+f.display+`","on":`+on+`}`)
		got = admin.Sessions{}
		if r.decode(t, &got); r.status != 200 || len(got.Sessions) != 1 || got.Sessions[0].ID != s.ID ||
			(got.Sessions[0].State == "masked") != (on == "true") {
			t.Errorf("mask display on=%s answered %d %s", on, r.status, r.raw)
		}
	}
	r = f.post("/api/v1/mask", `{"owner":"nobody","on":true}`)
	want(t, r, 200, "mask an owner with no session")
	got = admin.Sessions{}
	if r.decode(t, &got); got.Sessions == nil || len(got.Sessions) != 0 {
		t.Errorf("mask of nobody answered %s, want an empty list", r.raw)
	}
	for _, c := range []struct{ body, want string }{
		{`not json`, "invalid character"},
		{`{"owner":"agent-m","on":true,"colour":"red"}`, `unknown field "colour"`},
		{`{"owner":"agent-m"}`, `"on" is required`},
		{`{"on":true}`, "neither owner nor display"},
		{`{"owner":" ","display":"","on":true}`, "neither owner nor display"},
		{`{"owner":"agent-m","on":"yes"}`, "cannot unmarshal"},
		{`{"owner":"agent-m","on":true} {"on":false}`, "more data after the JSON object"},
		{`[]`, "cannot unmarshal array"},
		{``, "EOF"},
	} {
		r := f.call(offContract, "POST", "/api/v1/mask", testToken, c.body)
		if r.status != 400 || !strings.Contains(r.errBody(t).Message, c.want) {
			t.Errorf("mask %q: %d %s, want 400 saying %q", c.body, r.status, r.raw, c.want)
		}
	}
	big := `{"owner":"` + strings.Repeat("x", admin.MaxBodyBytes) + `","on":true}`
	if r := f.call(offContract, "POST", "/api/v1/mask", testToken, big); r.status != 413 || r.errBody(t).Code != admin.CodeTooLarge {
		t.Errorf("mask with a %d-byte body: %d %s, want 413", len(big), r.status, r.raw)
	}
	if st, _ := f.eng.Get(context.Background(), s.ID); st.State != engine.StateRecording {
		t.Errorf("after the bad bodies the session is %s, want recording (unmasked)", st.State)
	}
}

// readyz asks /readyz, wants wantStatus with exactly the failed checks in failed (check
// name, or "display <name>" → a substring of its error), and checks /healthz stays 200. It
// returns the answer.
func (f *fixture) readyz(wantStatus int, failed map[string]string) admin.Readiness {
	t := f.t
	t.Helper()
	r := f.call(onContract, "GET", "/readyz", "", "")
	var got admin.Readiness
	r.decode(t, &got)
	if r.status != wantStatus {
		t.Fatalf("readyz: %d %s, want %d", r.status, r.raw, wantStatus)
	}
	names := map[string]bool{}
	for _, c := range got.Checks {
		key := c.Name
		if c.Name == admin.CheckDisplay {
			key += " " + c.Display
		}
		names[c.Name] = true
		sub, bad := failed[key]
		if c.OK == bad || (bad && !strings.Contains(c.Error, sub)) {
			t.Errorf("check %+v, want failed=%v mentioning %q", c, bad, sub)
		}
	}
	for _, n := range []string{admin.CheckEngine, admin.CheckCatalog, admin.CheckDisplay, admin.CheckPlugins, admin.CheckSpool} {
		if !names[n] {
			t.Errorf("readyz has no %s check: %s", n, r.raw)
		}
	}
	if st := map[int]string{200: "ready", 503: "not_ready"}[wantStatus]; got.Status != st {
		t.Errorf("status %q, want %q", got.Status, st)
	}
	if r := f.call(onContract, "GET", "/healthz", "", ""); r.status != 200 {
		t.Errorf("healthz: %d", r.status)
	}
	return got
}

// /readyz: 200 when the engine answers, the plugins are up and the spool takes a file; 503
// naming the check otherwise; /healthz stays 200.
func TestAdminReadyz(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ready := f.readyz
	ready(200, nil)

	f.plugins.set(errors.New("plugin down: frontend (probe): process 4242 exited; restarting"))
	ready(503, map[string]string{"plugins": "frontend (probe)"})
	f.plugins.set(nil)
	ready(200, nil)

	// The tests run as root, whom permissions do not stop: a file where the spool folder
	// should be makes it unwritable for anyone.
	notDir := filepath.Join(t.TempDir(), "spool")
	if err := os.WriteFile(notDir, []byte("a file, not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.serve(func(_ *admin.Config, d *admin.Deps) { d.SpoolDir = notDir })
	ready(503, map[string]string{"spool": "not a directory"})
	f.serve(func(_ *admin.Config, d *admin.Deps) { d.SpoolDir = filepath.Join(f.spool, "gone") })
	ready(503, map[string]string{"spool": "no such file or directory"})

	// A disk below the engine's free-space floor: starts are refused, so the service is not
	// ready to record.
	full, err := engine.New(context.Background(), engine.Config{SpoolDir: t.TempDir(), MinFreeDisk: 1 << 60})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close(context.Background()) //nolint:errcheck // nothing recorded
	f.serve(func(_ *admin.Config, d *admin.Deps) { d.Engine = full })
	ready(503, map[string]string{"spool": "floor"})

	f.serve()
	ready(200, nil)
	if entries, _ := os.ReadDir(f.spool); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".readyz") }) {
		t.Errorf("readyz left its probe file in the spool: %v", entries)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.eng.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ready(503, map[string]string{"engine": "engine closed", "catalog": "engine closed"})
	// Mask says so itself: 503.
	if r := f.post("/api/v1/mask", `{"owner":"x","on":true}`); r.status != 503 || r.errBody(t).Code != admin.CodeUnavailable {
		t.Errorf("mask on a closed engine: %d %s, want 503", r.status, r.raw)
	}
}

// /metrics is 404 (behind the token) when there is no metrics handler.
func TestAdminMetricsOffIs404(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if r := f.call(offContract, "GET", "/metrics", "", ""); r.status != 401 {
		t.Errorf("metrics without a token: %d", r.status)
	}
	r := f.get("/metrics")
	if r.status != 404 || !strings.Contains(r.errBody(t).Message, "metrics are off") {
		t.Errorf("metrics off: %d %s, want 404", r.status, r.raw)
	}
}

// Serve serves until its context ends, then nothing listens; a server starts once.
func TestAdminServeStopsWithItsContext(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv, err := admin.New(admin.Config{Listen: addr, Token: testToken, Logger: testLogger(t)},
		admin.Deps{Engine: (*engine.Engine)(nil), SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Addr() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz while serving: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := srv.Start(context.Background()); !errors.Is(err, admin.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Serve returned", addr)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Serve = %v", err)
	}
	if err := srv.Start(context.Background()); !errors.Is(err, admin.ErrStarted) {
		t.Errorf("Start after Shutdown = %v, want ErrStarted", err)
	}
}

// A handler that panics (here: an engine that is nil) answers 500 with the JSON error body
// instead of dropping the connection.
func TestAdminPanicIs500(t *testing.T) {
	t.Parallel()
	srv, err := admin.New(admin.Config{Listen: "127.0.0.1:0", Token: testToken, Logger: slog.New(slog.DiscardHandler)},
		admin.Deps{Engine: (*engine.Engine)(nil), SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	f := &fixture{t: t, srv: srv, base: "http://" + srv.Addr(), client: &http.Client{Transport: getContract(t).Transport(t, nil)}}
	r := f.get("/api/v1/sessions")
	if r.status != 500 || r.errBody(t).Code != admin.CodeInternal {
		t.Errorf("panicking handler: %d %s, want 500", r.status, r.raw)
	}
}

// /readyz checks each display the service records: one that is gone (its X server killed)
// makes it 503, naming the display, while the others stay ok.
func TestAdminReadyzChecksEachDisplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second, err := xvfb.Start(ctx, xvfb.Options{Monitors: xvfb.TwoMonitors})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	f.serve(func(_ *admin.Config, d *admin.Deps) { d.Displays = []string{f.display, second.Display} })
	got := f.readyz(200, nil)
	var shown []string
	for _, c := range got.Checks {
		if c.Name == admin.CheckDisplay {
			shown = append(shown, c.Display)
		}
	}
	if !slices.Equal(shown, []string{f.display, second.Display}) {
		t.Errorf("display checks for %v, want %v", shown, []string{f.display, second.Display})
	}

	_ = second.Close() // the display is gone
	f.readyz(503, map[string]string{"display " + second.Display: second.Display})
}

// /readyz checks the catalog file itself: removed, or damaged on disk under a running engine
// (whose own connection still answers from its cache), it is 503 naming the catalog; put
// back, 200.
func TestAdminReadyzChecksTheCatalog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.readyz(200, nil)

	path := filepath.Join(f.spool, "catalog.db")
	orig := catalogtest.Checkpoint(t, path)
	restore := func() {
		t.Helper()
		if err := os.WriteFile(path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(restore) // before the engine closes, whatever happens

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	f.readyz(503, map[string]string{admin.CheckCatalog: path})
	restore()
	f.readyz(200, nil)

	// The pages after the first (the header) overwritten: the engine still reads its cache.
	catalogtest.Damage(t, path)
	if err := f.eng.Ping(context.Background()); err != nil {
		t.Logf("the engine's own read noticed: %v", err)
	}
	f.readyz(503, map[string]string{admin.CheckCatalog: path})
	restore()
	f.readyz(200, nil)
}
