package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/internal/mediatest"
)

// agent is an agent desktop talking to the SRS API (Basic auth on login, the cookie after).
type agent struct {
	t     testing.TB
	base  string
	user  string
	pass  string
	c     *http.Client
	token string
}

func newAgent(t testing.TB, base, user, pass string) *agent {
	jar, _ := cookiejar.New(nil)
	return &agent{t: t, base: base, user: user, pass: pass, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends a request and decodes the JSON body into out; it returns the status.
func (a *agent) do(method, path string, body any, basic bool, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if basic {
		req.SetBasicAuth(a.user, a.pass)
		req.Header.Set("X-Support-CSRFP", "true")
	}
	if a.token != "" {
		req.Header.Set("X-CSRF-Token", a.token)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if tok := resp.Header.Get("X-CSRF-Token"); tok != "" {
		a.token = tok
	}
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// me is the SRS session object.
type me struct {
	StatusCode int    `json:"statusCode"`
	Agent      string `json:"agent"`
	Place      string `json:"place"`
	Server     string `json:"server"`
	Recording  struct {
		State       string `json:"state"`
		RecordingID string `json:"recordingId"`
	} `json:"recording"`
}

func fileSize(t testing.TB, s *stack, id string) int64 {
	t.Helper()
	sess, err := s.eng.Get(context.Background(), id)
	if err != nil || len(sess.Segments) == 0 {
		t.Fatalf("session %s: %+v %v", id, sess, err)
	}
	fi, err := os.Stat(sess.Segments[0].Path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func uploadJobs(t testing.TB, s *stack, id string) []catalog.UploadJob {
	t.Helper()
	cat, err := catalog.Open(context.Background(), filepath.Join(s.spool, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	jobs, err := cat.UploadJobs(context.Background(), catalog.UploadFilter{RecordingID: id})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// Login → the recording file grows → pings keep the session alive past its timeout → logout
// → the recording is completed and queued for upload; all through the SRS plugin process.
// The timeout is eight ping intervals, so that a stalled test host (seen in CI: over a second
// with nothing scheduled) does not end the session between two pings.
func TestSRSSessionFlowThroughPlugin(t *testing.T) {
	t.Parallel()
	const timeout, interval = 4 * time.Second, 500 * time.Millisecond
	s := newStack(t, map[string]any{"ping_timeout": timeout.String()})
	a := newAgent(t, s.srs, "jdoe", "s3cret")
	var m me
	if code := a.do("GET", "/api/v2/me", nil, true, &m); code != http.StatusOK || m.Agent != "jdoe" || m.Recording.State != "recording" || a.token == "" {
		t.Fatalf("login: %d %+v token %q", code, m, a.token)
	}
	id := m.Recording.RecordingID
	first := fileSize(t, s, id)
	var start time.Time // the first ping's: from then on, the pings alone keep the session alive
	prev := time.Now()  // the last answer's
	for i := 0; i == 0 || time.Since(start) < timeout+interval; i++ {
		time.Sleep(interval)
		sent := time.Now()
		if i == 0 {
			start = sent
		}
		if code := a.do("GET", "/ping", nil, false, nil); code != http.StatusOK {
			t.Fatalf("ping %d: %d (sent %v after the last answer, answered %v later)", i, code,
				sent.Sub(prev).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond))
		}
		prev = time.Now()
	}
	if grown := fileSize(t, s, id); grown <= first {
		t.Errorf("recording did not grow: %d then %d bytes", first, grown)
	}
	var out struct{ StatusCode int }
	if code := a.do("POST", "/api/v2/me", map[string]string{"operationName": "EndContactCenterSession"}, false, &out); code != http.StatusOK || out.StatusCode != 0 {
		t.Fatalf("logout: %d %+v", code, out)
	}
	sess, err := s.eng.Get(context.Background(), id)
	if err != nil || sess.State != engine.StateCompleted || sess.Duration < timeout {
		t.Fatalf("after logout: %+v %v", sess, err)
	}
	if p, err := mediatest.ProbeFile(context.Background(), sess.Segments[0].Path); err != nil || p.Format.Duration < timeout.Seconds() {
		t.Errorf("recording file: %v %v", p, err)
	}
	if jobs := uploadJobs(t, s, id); len(jobs) != 1 || jobs[0].State != catalog.UploadQueued {
		t.Errorf("upload jobs = %+v", jobs)
	}
	if code := a.do("GET", "/ping", nil, false, nil); code != http.StatusUnauthorized {
		t.Errorf("ping after logout: %d, want 401", code)
	}
}

// Without pings, the session times out: its recording is finalised and queued, and the next
// ping is 401.
func TestSRSTimeoutThroughPlugin(t *testing.T) {
	t.Parallel()
	s := newStack(t, map[string]any{"ping_timeout": "1s"})
	a := newAgent(t, s.srs, "jdoe", "s3cret")
	var m me
	if code := a.do("GET", "/api/v2/me", nil, true, &m); code != http.StatusOK || m.Recording.RecordingID == "" {
		t.Fatalf("login: %d %+v", code, m)
	}
	deadline := time.Now().Add(5 * time.Second)
	var sess engine.Session
	for time.Now().Before(deadline) {
		sess, _ = s.eng.Get(context.Background(), m.Recording.RecordingID)
		if sess.State == engine.StateCompleted {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sess.State != engine.StateCompleted || sess.Duration < 700*time.Millisecond || sess.Duration > 2*time.Second {
		t.Fatalf("after the timeout: state %s, duration %s", sess.State, sess.Duration)
	}
	if jobs := uploadJobs(t, s, sess.ID); len(jobs) != 1 {
		t.Errorf("upload jobs = %+v", jobs)
	}
	if code := a.do("GET", "/ping", nil, false, nil); code != http.StatusUnauthorized {
		t.Errorf("ping after the timeout: %d, want 401", code)
	}
}
