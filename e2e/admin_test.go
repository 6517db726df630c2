package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/frontends/admin"
	"github.com/screenrec/recorder/internal/openapitest"
	"github.com/screenrec/recorder/internal/xvfb"

	"github.com/screenrec/recorder/internal/logtest"
)

// adminToken is the admin API's token in these tests, given as {env: E2E_ADMIN_TOKEN}.
const adminToken = "e2e-admin-token-0123456789abcdef"

// service is `recorder run` as a real process (with its plugin processes in its process
// group), its stdout lines collected.
type service struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	added chan struct{}
	done  chan struct{} // closed once the process has exited; then waitErr is its Wait
	err   *bytes.Buffer

	waitErr error
}

// runService starts `recorder run --config cfg` on display and waits until a stdout line
// contains ready.
func runService(t *testing.T, cfg, display, ready string, env ...string) *service {
	t.Helper()
	cmd := exec.Command(recorderBin, "run", "--config", cfg)
	cmd.Env = append(append(os.Environ(), "DISPLAY="+display), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its plugins die with it
	s := &service{cmd: cmd, added: make(chan struct{}, 1), done: make(chan struct{}), err: &bytes.Buffer{}}
	cmd.Stderr = s.err
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
			select {
			case s.added <- struct{}{}:
			default:
			}
		}
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
	})
	deadline := time.After(60 * time.Second)
	for !s.printed(ready) {
		select {
		case <-s.added:
		case <-s.done:
			t.Fatalf("recorder run exited (%v) before printing %q\nstdout: %v\nstderr: %s", s.waitErr, ready, s.output(), s.err)
		case <-deadline:
			t.Fatalf("recorder run did not print %q within 60 s\nstdout: %v\nstderr: %s", ready, s.output(), s.err)
		}
	}
	return s
}

func (s *service) printed(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func (s *service) output() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// stop sends SIGTERM and waits for a clean exit.
func (s *service) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		if s.waitErr != nil {
			t.Fatalf("recorder run after SIGTERM: %v\nstderr: %s", s.waitErr, s.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("recorder run did not stop within 30 s of SIGTERM")
	}
}

// adminClient calls the admin API, checking every exchange against its OpenAPI document.
type adminClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newAdminClient(t *testing.T, addr string) *adminClient {
	contract, err := openapitest.New(admin.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: contract.Transport(t, nil), Timeout: 60 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return &adminClient{t: t, base: "http://" + addr, c: c}
}

// call sends a request (token "": none, which breaks the contract on purpose) and decodes
// the JSON answer into out (nil: not decoded); it returns the status and the raw body.
func (a *adminClient) call(method, path, token string, out any) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else if strings.HasPrefix(path, "/api/v1/") || path == "/metrics" {
		req = openapitest.OffContract(req)
	}
	res, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s → %d: %s: %v", method, path, res.StatusCode, raw, err)
		}
	}
	return res.StatusCode, string(raw)
}

// writeServiceConfig writes a recorder config: the probe front end on probePort, the noop
// uploader, and extra (the admin section).
func writeServiceConfig(t *testing.T, display string, probePort int, extra string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "recorder.yaml")
	body := fmt.Sprintf(`spool_dir: %s
display: %q
engine: {segment_duration: 0}
frontends:
  - name: probe
    config: {listen: "127.0.0.1:%d"}
uploaders:
  - name: noop
upload: {keep_uploaded: true}
%s`, t.TempDir(), display, probePort, extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// `recorder run` with the admin API: health and readiness without a token (readiness follows
// a plugin process's death and restart), a session started through the probe front end
// listed and stopped through the admin API, the upload queue; after SIGTERM nothing listens.
func TestAdminAPIOfARunningRecorder(t *testing.T) {
	t.Parallel()
	mediatestSkip(t)
	srv := newDisplay(t)
	probePort, adminAddr := freePort(t), freeAddr(t)
	cfg := writeServiceConfig(t, srv.Display, probePort,
		fmt.Sprintf("admin: {enabled: true, listen: %q, token: {env: E2E_ADMIN_TOKEN}}\n", adminAddr))
	svc := runService(t, cfg, srv.Display, "admin API listening on http://"+adminAddr, "E2E_ADMIN_TOKEN="+adminToken)
	adm := newAdminClient(t, adminAddr)

	if code, body := adm.call("GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	var ready admin.Readiness
	if code, body := adm.call("GET", "/readyz", "", &ready); code != 200 || ready.Status != "ready" || len(ready.Checks) != 5 {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, _ := adm.call("GET", "/api/v1/sessions", "", nil); code != 401 {
		t.Errorf("sessions without the token: %d, want 401", code)
	}
	// Telemetry is on by default: Prometheus metrics behind the token.
	if code, _ := adm.call("GET", "/metrics", "", nil); code != 401 {
		t.Errorf("metrics without the token: %d, want 401", code)
	}
	if code, body := adm.call("GET", "/metrics", adminToken, nil); code != 200 || !strings.Contains(body, "recorder_sessions_active") {
		t.Errorf("metrics: %d, want 200 with recorder_sessions_active:\n%.300s", code, body)
	}

	probe := &agent{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", probePort), c: http.DefaultClient}
	var s engine.Session
	if code := probe.do("POST", "/sessions", engine.StartRequest{Owner: "agent-7", Frontend: "probe",
		Source: engine.Source{Display: srv.Display}}, false, &s); code != 201 {
		t.Fatalf("start through the probe: %d", code)
	}
	var live admin.Sessions
	if code, body := adm.call("GET", "/api/v1/sessions", adminToken, &live); code != 200 || len(live.Sessions) != 1 ||
		live.Sessions[0].ID != s.ID || live.Sessions[0].Owner != "agent-7" || live.Sessions[0].Frontend != "probe" {
		t.Fatalf("sessions: %d %s, want %s", code, body, s.ID)
	}

	// The probe's plugin process dies: /readyz says so, naming it, until the host has
	// restarted it.
	var pid struct{ Pid int }
	probe.do("GET", "/pid", nil, false, &pid)
	if pid.Pid == 0 || pid.Pid == svc.cmd.Process.Pid {
		t.Fatalf("probe pid %d", pid.Pid)
	}
	if err := syscall.Kill(pid.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sawDown, back := false, false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !back; time.Sleep(5 * time.Millisecond) {
		ready = admin.Readiness{}
		switch code, body := adm.call("GET", "/readyz", "", &ready); code {
		case 503:
			if !strings.Contains(body, "probe") || ready.Status != "not_ready" {
				t.Errorf("readyz while the probe is down: %s", body)
			}
			sawDown = true
		case 200:
			back = sawDown
		default:
			t.Fatalf("readyz: %d %s", code, body)
		}
	}
	if !sawDown || !back {
		t.Fatalf("readyz around the probe's death: saw 503 %v, then 200 %v", sawDown, back)
	}

	time.Sleep(500 * time.Millisecond)
	var stopped admin.Session
	if code, body := adm.call("POST", "/api/v1/sessions/"+s.ID+"/stop", adminToken, &stopped); code != 200 ||
		stopped.State != "completed" || stopped.DurationMS < 500 || len(stopped.Segments) != 1 {
		t.Fatalf("stop through the admin API: %d %s", code, body)
	}
	if code, body := adm.call("POST", "/api/v1/sessions/"+s.ID+"/stop", adminToken, nil); code != 409 {
		t.Errorf("second stop: %d %s, want 409", code, body)
	}
	if code, _ := adm.call("POST", "/api/v1/sessions/rec-nope/stop", adminToken, nil); code != 404 {
		t.Errorf("stop of an unknown session: %d, want 404", code)
	}
	if code, body := adm.call("GET", "/api/v1/sessions", adminToken, &live); code != 200 || len(live.Sessions) != 0 {
		t.Errorf("sessions after the stop: %d %s, want none", code, body)
	}
	var recs admin.Recordings
	if code, body := adm.call("GET", "/api/v1/recordings?state=completed&owner=agent-7", adminToken, &recs); code != 200 ||
		len(recs.Recordings) != 1 || recs.Recordings[0].ID != s.ID {
		t.Errorf("completed recordings of agent-7: %d %s", code, body)
	}
	// The noop uploader takes the segment: the queue shows it uploaded.
	var ups admin.Uploads
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ups = admin.Uploads{}
		adm.call("GET", "/api/v1/uploads?recording_id="+s.ID, adminToken, &ups)
		if len(ups.Uploads) == 1 && ups.Uploads[0].State == "uploaded" {
			break
		}
	}
	if len(ups.Uploads) != 1 || ups.Uploads[0].State != "uploaded" || ups.Uploads[0].Offset != stopped.Segments[0].Bytes {
		t.Errorf("uploads of %s: %+v, want one uploaded", s.ID, ups.Uploads)
	}

	svc.stop(t)
	if c, err := net.DialTimeout("tcp", adminAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the recorder stopped", adminAddr)
	}
}

// With the admin API disabled (the default), `recorder run` opens nothing on its port.
func TestAdminDisabledNothingListens(t *testing.T) {
	t.Parallel()
	mediatestSkip(t)
	srv := newDisplay(t)
	probePort, adminAddr := freePort(t), freeAddr(t)
	cfg := writeServiceConfig(t, srv.Display, probePort,
		fmt.Sprintf("admin: {enabled: false, listen: %q, token: {env: E2E_ADMIN_TOKEN}}\n", adminAddr))
	svc := runService(t, cfg, srv.Display, fmt.Sprintf("listening on http://127.0.0.1:%d", probePort), "E2E_ADMIN_TOKEN="+adminToken)
	// The uploads are running too by now: the service is fully up.
	time.Sleep(300 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", adminAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("something listens on the disabled admin API's address %s", adminAddr)
	}
	if svc.printed("admin API") {
		t.Errorf("recorder run mentions an admin API it should not serve: %v", svc.output())
	}
	svc.stop(t)
}

// `recorder run`'s /readyz checks the display of the config and the catalog file: with the
// display's X server gone it is 503 naming the display; with the catalog file removed, 503
// naming the catalog.
func TestAdminReadyzOfARunningRecorderChecksDisplayAndCatalog(t *testing.T) {
	t.Parallel()
	mediatestSkip(t)
	xvfb.SkipIfUnavailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := xvfb.Start(ctx, xvfb.Options{Monitors: xvfb.TwoMonitors})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	probePort, adminAddr := freePort(t), freeAddr(t)
	cfg := writeServiceConfig(t, srv.Display, probePort,
		fmt.Sprintf("admin: {enabled: true, listen: %q, token: {env: E2E_ADMIN_TOKEN}}\n", adminAddr))
	// $DISPLAY names another display: the config's is the one checked.
	runService(t, cfg, ":4242", "admin API listening on http://"+adminAddr, "E2E_ADMIN_TOKEN="+adminToken)
	adm := newAdminClient(t, adminAddr)
	failed := func(name string) admin.Check {
		t.Helper()
		var ready admin.Readiness
		code, body := adm.call("GET", "/readyz", "", &ready)
		for _, c := range ready.Checks {
			if c.Name == name {
				if code != 503 || c.OK {
					t.Fatalf("readyz: %d %s, want 503 with %s failed", code, body, name)
				}
				return c
			}
		}
		t.Fatalf("readyz: %d %s: no %s check", code, body, name)
		return admin.Check{}
	}
	var ready admin.Readiness
	if code, body := adm.call("GET", "/readyz", "", &ready); code != 200 {
		t.Fatalf("readyz: %d %s", code, body)
	}

	_ = srv.Close() // the display is gone
	if c := failed(admin.CheckDisplay); c.Display != srv.Display || !strings.Contains(c.Error, srv.Display) {
		t.Errorf("display check %+v, want it to name %s", c, srv.Display)
	}

	spool := configSpool(t, cfg)
	if err := os.Remove(filepath.Join(spool, "catalog.db")); err != nil {
		t.Fatal(err)
	}
	if c := failed(admin.CheckCatalog); !strings.Contains(c.Error, filepath.Join(spool, "catalog.db")) {
		t.Errorf("catalog check %+v, want it to name the file", c)
	}
}

// configSpool reads the spool_dir of a config writeServiceConfig wrote.
func configSpool(t *testing.T, cfg string) string {
	t.Helper()
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "spool_dir: "); ok {
			return v
		}
	}
	t.Fatalf("no spool_dir in %s", raw)
	return ""
}

// With log.format json, every line `recorder run` prints, on stdout and stderr, is a JSON
// object; a session's start, stop and completion, and a failed session, each get a line
// saying whose it is; a plugin's relayed line has one time key and one name key.
func TestRunLogsJSONWithSessionLifecycle(t *testing.T) {
	t.Parallel()
	mediatestSkip(t)
	srv := newDisplay(t)
	probePort, adminAddr := freePort(t), freeAddr(t)
	cfg := writeServiceConfig(t, srv.Display, probePort,
		fmt.Sprintf("admin: {enabled: true, listen: %q, token: {env: E2E_ADMIN_TOKEN}}\nlog: {format: json, level: info}\n", adminAddr))
	svc := runService(t, cfg, srv.Display, "admin API listening on http://"+adminAddr, "E2E_ADMIN_TOKEN="+adminToken)
	probe := &agent{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", probePort), c: http.DefaultClient}
	var s engine.Session
	if code := probe.do("POST", "/sessions", engine.StartRequest{Owner: "agent-9", Frontend: "probe",
		Source: engine.Source{Display: srv.Display}}, false, &s); code != 201 {
		t.Fatalf("start through the probe: %d", code)
	}
	adm := newAdminClient(t, adminAddr)
	if code, body := adm.call("POST", "/api/v1/sessions/"+s.ID+"/stop", adminToken, nil); code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	probe.do("POST", "/sessions", engine.StartRequest{Owner: "agent-10", Frontend: "probe",
		Source: engine.Source{Display: ":4343"}}, false, nil) // no such display: the session fails
	// One left recording: the shutdown finalises it, and its lines say who it was too.
	var left engine.Session
	if code := probe.do("POST", "/sessions", engine.StartRequest{Owner: "agent-11", Frontend: "probe",
		Source: engine.Source{Display: srv.Display}}, false, &left); code != 201 {
		t.Fatalf("start through the probe: %d", code)
	}
	svc.stop(t)

	type line = map[string]any
	var lines []line
	for _, src := range [][]string{svc.output(), strings.Split(strings.TrimSpace(svc.err.String()), "\n")} {
		for _, l := range src {
			var m line
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Errorf("not a JSON line: %q", l)
				continue
			}
			lines = append(lines, m)
			if m["msg"] == "probe: serving" {
				keys, err := logtest.Keys(l)
				if err != nil {
					t.Fatal(err)
				}
				times, names := 0, 0
				for _, k := range keys {
					switch k {
					case "time", "timestamp", "@timestamp":
						times++
					case "plugin", "frontend", "name", "@module":
						names++
					}
				}
				if times != 1 || names != 1 || m["plugin"] != "probe" {
					t.Errorf("plugin line with %d time keys and %d name keys, want 1 and 1: %s", times, names, l)
				}
			}
		}
	}
	find := func(msg, session string) line {
		t.Helper()
		for _, m := range lines {
			if m["msg"] == msg && m["session"] == session {
				return m
			}
		}
		t.Errorf("no %q line for %s", msg, session)
		return line{}
	}
	for _, sess := range []struct {
		s     engine.Session
		owner string
	}{{s, "agent-9"}, {left, "agent-11"}} {
		for _, msg := range []string{"session started", "session stopping", "session completed"} {
			m := find(msg, sess.s.ID)
			if m["owner"] != sess.owner || m["frontend"] != "probe" || m["contact_id"] != float64(sess.s.ContactID) ||
				m["interaction_id"] != sess.s.InteractionID || m["display"] != srv.Display {
				t.Errorf("%s line %v, want the session's owner, front end, ids and display", msg, m)
			}
		}
	}
	var fail line
	for _, m := range lines {
		if m["msg"] == "session failed" && m["owner"] == "agent-10" {
			fail = m
		}
	}
	if fail["level"] != "ERROR" || fail["frontend"] != "probe" || fail["session"] == "" ||
		!strings.Contains(fmt.Sprint(fail["error"]), ":4343") {
		t.Errorf("failed line %v, want one for agent-10 with the error naming the display", fail)
	}
}
