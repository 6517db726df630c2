package rws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
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

	"github.com/screenrec/recorder/internal/rwsserver"
	"github.com/screenrec/recorder/plugins/sdk"
)

// serverBin is the rws-testserver binary TestMain builds.
var serverBin string

func TestMain(m *testing.M) {
	// tusd (the in-process RWS servers of the fault run) logs every request to the log
	// package; RWS_REQUEST_LOG=1 keeps it.
	if os.Getenv("RWS_REQUEST_LOG") == "" {
		log.SetOutput(io.Discard)
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rws-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "rws-testserver")
	goBin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building rws-testserver: no go tool:", err)
		return 1
	}
	build := exec.Command(goBin, "build", "-o", serverBin, "github.com/screenrec/recorder/cmd/rws-testserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building rws-testserver: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// Logins of the test servers.
const (
	svcUser   = "svc"
	svcPass   = "svc-password"
	agentUser = "agent007"
	agentPass = "agent-password"
)

// server is an rws-testserver process.
type server struct {
	t      *testing.T
	dir    string
	listen string // host:port, kept across restarts so locations stay valid
	users  []string
	url    string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stderr bytes.Buffer
	admin  [2]string // a login for the /_test/ endpoints
}

// startServer runs rws-testserver on listen ("" for any free port) with the given
// name:password logins (default: the service account and the agent).
func startServer(t *testing.T, listen string, users ...string) *server {
	t.Helper()
	if len(users) == 0 {
		users = []string{svcUser + ":" + svcPass, agentUser + ":" + agentPass}
	}
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	name, pw, _ := strings.Cut(users[0], ":")
	s := &server{t: t, dir: t.TempDir(), listen: listen, users: users, admin: [2]string{name, pw}}
	s.start()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			s.mu.Lock()
			t.Logf("rws-testserver stderr:\n%s", s.stderr.String())
			s.mu.Unlock()
		}
	})
	return s
}

// lockedWriter serialises writes into the server's stderr buffer.
type lockedWriter struct{ s *server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.stderr.Write(p)
}

func (s *server) start() {
	s.t.Helper()
	args := []string{"-listen", s.listen, "-dir", s.dir}
	for _, u := range s.users {
		args = append(args, "-user", u)
	}
	cmd := exec.Command(serverBin, args...)
	cmd.Stderr = lockedWriter{s}
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "rws-testserver listening on ")
		if !ok {
			_ = cmd.Process.Kill()
			s.t.Fatalf("rws-testserver said %q", line)
		}
		s.mu.Lock()
		s.cmd, s.url = cmd, url
		s.listen = strings.TrimPrefix(url, "http://")
		s.mu.Unlock()
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		s.t.Fatalf("rws-testserver did not start:\n%s", s.stderr.String())
	}
}

// kill ends the server with SIGKILL (a crash) and waits for it; it may be called twice.
func (s *server) kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// restart starts the server again on the same folder and address.
func (s *server) restart() { s.start() }

func (s *server) do(method, path string, body any, out any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.SetBasicAuth(s.admin[0], s.admin[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		s.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
}

func (s *server) setFaults(f rwsserver.Faults) {
	s.t.Helper()
	var got rwsserver.Faults
	s.do(http.MethodPost, "/_test/faults", f, &got)
}

func (s *server) uploads() []rwsserver.Upload {
	s.t.Helper()
	var ups []rwsserver.Upload
	s.do(http.MethodGet, "/_test/uploads", nil, &ups)
	return ups
}

func (s *server) stats() rwsserver.Stats {
	s.t.Helper()
	var st rwsserver.Stats
	s.do(http.MethodGet, "/_test/stats", nil, &st)
	return st
}

// freeAddr returns a loopback address nothing listens on (for now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// segment writes a segment of n bytes and returns its path and hex sha256.
func segment(t *testing.T, n int) (string, []byte, string) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/1021)
	}
	p := filepath.Join(t.TempDir(), "rec-1-001.mp4")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, b, hex.EncodeToString(sum[:])
}

// request is an upload request as the engine makes it, every metadata key filled.
func request(path string, size int, sum string) sdk.UploadRequest {
	return sdk.UploadRequest{
		JobID: 7, RecordingID: "rec-1", SegmentIndex: 1, SegmentPath: path, Size: int64(size), SHA256: sum, Target: "rws",
		Metadata: map[string]string{
			"filename": "rec-1-001.mp4", "filetype": "video/mp4", "recordingId": "rec-1", "segment": "1", "final": "true",
			"agent": agentUser, "userId": "u-42", "contactId": "1234", "interactionId": "ix-9", "place": "place-3",
			"startTime": "2026-01-02T03:04:05Z", "stopTime": "2026-01-02T03:05:05Z", "durationMs": "60000",
			"monitors": "2", "width": "3840", "height": "1080", "codec": "h264", "encoder": "libx264",
			"sha256": sum, "masked": "1500", "state": "failed", "reason": "the X server went away",
		},
	}
}

// configJSON is a config section for the servers, with the service account.
func configJSON(server, peer string, extra map[string]any) []byte {
	m := map[string]any{"server": server, "username": svcUser, "password": svcPass, "chunk_size": "64KiB", "timeout": "5s"}
	if peer != "" {
		m["peer_server"] = peer
	}
	for k, v := range extra {
		m[k] = v
	}
	raw, _ := json.Marshal(m)
	return raw
}

// configured returns an uploader configured with raw.
func configured(t *testing.T, raw []byte) *Uploader {
	t.Helper()
	u := New()
	diags, err := u.Configure(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			t.Fatalf("Configure refused %s: %+v", raw, diags)
		}
	}
	return u
}

// progressLog records progress calls.
type progressLog struct {
	mu    sync.Mutex
	calls []sdk.Progress
	hook  func(sdk.Progress)
}

func (p *progressLog) record(pr sdk.Progress) {
	p.mu.Lock()
	p.calls = append(p.calls, pr)
	hook := p.hook
	p.mu.Unlock()
	if hook != nil {
		hook(pr)
	}
}

func (p *progressLog) all() []sdk.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sdk.Progress(nil), p.calls...)
}

func (p *progressLog) last() sdk.Progress {
	all := p.all()
	if len(all) == 0 {
		return sdk.Progress{}
	}
	return all[len(all)-1]
}

func uploadCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// job keeps an upload's Resume across attempts as the engine does: every Progress's
// location and offset, and its State when not empty.
type job struct {
	mu     sync.Mutex
	resume sdk.Resume
	calls  []sdk.Progress
	hook   func(sdk.Progress)
}

func (j *job) progress(p sdk.Progress) {
	j.mu.Lock()
	j.resume.Location, j.resume.Offset = p.Location, p.Offset
	if p.State != "" {
		j.resume.State = p.State
	}
	j.calls = append(j.calls, p)
	hook := j.hook
	j.mu.Unlock()
	if hook != nil {
		hook(p)
	}
}

// attempt runs one Upload of req with the job's Resume.
func (j *job) attempt(t *testing.T, u *Uploader, req sdk.UploadRequest) (sdk.UploadResult, error) {
	t.Helper()
	j.mu.Lock()
	req.Resume = j.resume
	j.mu.Unlock()
	return u.Upload(uploadCtx(t), req, j.progress)
}

func (j *job) state(t *testing.T) remoteState {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	var st remoteState
	if j.resume.State != "" {
		if err := json.Unmarshal([]byte(j.resume.State), &st); err != nil {
			t.Fatalf("state %q: %v", j.resume.State, err)
		}
	}
	return st
}
