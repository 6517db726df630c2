package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math/rand/v2"
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
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/rwsserver"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
	"github.com/screenrec/recorder/uploaders/rws"
)

const (
	rwsUser = "svc"
	rwsPass = "svc-password"
)

// rwsProcess runs cmd/rws-testserver as its own process on a fixed folder and port, so that
// tests can kill and restart it.
type rwsProcess struct {
	t    *testing.T
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
}

func startRWSProcess(t *testing.T, bin, dir, addr string) *rwsProcess {
	t.Helper()
	p := &rwsProcess{t: t, bin: bin, dir: dir, addr: addr}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *rwsProcess) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "-listen", p.addr, "-dir", p.dir, "-user", rwsUser+":"+rwsPass)
	out, _ := p.cmd.StdoutPipe()
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "listening on") {
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	p.t.Fatal("rws-testserver did not start")
}

func (p *rwsProcess) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func (p *rwsProcess) url() string { return "http://" + p.addr }

// get reads one of the test server's /_test endpoints.
func (p *rwsProcess) get(path string, out any) {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.url()+path, nil)
	req.SetBasicAuth(rwsUser, rwsPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rwsProcess) setFaults(f rwsserver.Faults) {
	p.t.Helper()
	b, _ := json.Marshal(f)
	req, _ := http.NewRequest("POST", p.url()+"/_test/faults", strings.NewReader(string(b)))
	req.SetBasicAuth(rwsUser, rwsPass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
}

func buildRWSServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rws-testserver")
	b := exec.Command("go", "build", "-o", bin, "../cmd/rws-testserver")
	b.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("build rws-testserver: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }

// The recorder (service and plugins, as one process group: a crash) is killed mid-upload;
// restarted on the same spool, it resumes the upload where the server says it got to.
func TestRecorderKilledMidUploadResumes(t *testing.T) {
	t.Parallel()
	mediatestSkip(t)
	srv := newDisplay(t)
	rwsd := startRWSProcess(t, buildRWSServer(t), t.TempDir(), freeAddr(t))
	// Slow chunks, so that the kill lands mid-upload.
	rwsd.setFaults(rwsserver.Faults{DelayMS: 150})
	port := freePort(t)
	spool := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "recorder.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`spool_dir: %s
display: %q
frontends:
  - name: probe
    config: {listen: "127.0.0.1:%d"}
uploaders:
  - name: rws
    config:
      server: %q
      username: %s
      password: {env: E2E_RWS_PASSWORD}
      chunk_size: 16KiB
upload: {retry_base_delay: 100ms, retry_max_delay: 1s}
`, spool, srv.Display, port, rwsd.url(), rwsUser)), 0o644)

	run := func() *exec.Cmd {
		cmd := exec.Command(recorderBin, "run", "--config", cfg)
		cmd.Env = append(srv.Env(), "E2E_RWS_PASSWORD="+rwsPass)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its plugins die with it
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				go func() {
					for sc.Scan() {
					}
				}()
				return cmd
			}
		}
		t.Fatal("recorder run never listened")
		return nil
	}
	first := run()
	s := probeRecord(t, port, srv.Display, 3*time.Second)
	size := s.Segments[0].Bytes
	var confirmed int64
	deadline := time.Now().Add(20 * time.Second)
	for confirmed < 3*16<<10 && time.Now().Before(deadline) {
		if jobs := jobsIn(t, spool); len(jobs) == 1 {
			confirmed = jobs[0].RemoteOffset
		}
		time.Sleep(50 * time.Millisecond)
	}
	if confirmed == 0 || confirmed >= size {
		t.Fatalf("no upload in progress to interrupt (confirmed %d of %d)", confirmed, size)
	}
	_ = syscall.Kill(-first.Process.Pid, syscall.SIGKILL)
	_ = first.Wait()

	rwsd.setFaults(rwsserver.Faults{})
	run()
	var ups []rwsserver.Upload
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if jobs := jobsIn(t, spool); len(jobs) == 1 && jobs[0].State == catalog.UploadUploaded {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	rwsd.get("/_test/uploads", &ups)
	var stats rwsserver.Stats
	rwsd.get("/_test/stats", &stats)
	if len(ups) != 1 || !ups[0].Complete || ups[0].SHA256 != s.Segments[0].SHA256 || ups[0].Metadata["recordingId"] != s.ID {
		t.Fatalf("server uploads after the restart: %+v", ups)
	}
	resent := stats.ChunkBytes - size
	t.Logf("interrupted at %d of %d bytes; re-sent %d bytes", confirmed, size, resent)
	if resent >= 2*16<<10 {
		t.Errorf("re-sent %d bytes, want < 2 chunks (32 KiB)", resent)
	}
}

// probeRecord records through the probe front end for d, with moving content on screen so
// that the file is large enough to upload in many chunks.
func probeRecord(t *testing.T, port int, display string, d time.Duration) engine.Session {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go xscene.Animate(ctx, display, image.Rectangle{}, 30)
	a := &agent{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), c: http.DefaultClient}
	var s engine.Session
	if code := a.do("POST", "/sessions", engine.StartRequest{Owner: "agent", Frontend: "probe", Source: engine.Source{Display: display}}, false, &s); code != 201 {
		t.Fatalf("start: %d", code)
	}
	time.Sleep(d)
	if code := a.do("POST", "/sessions/"+s.ID+"/stop", nil, false, &s); code != 200 || s.State != engine.StateCompleted {
		t.Fatalf("stop: %d %+v", code, s)
	}
	return s
}

func jobsIn(t *testing.T, spool string) []catalog.UploadJob {
	t.Helper()
	cat, err := catalog.Open(context.Background(), filepath.Join(spool, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	jobs, err := cat.UploadJobs(context.Background(), catalog.UploadFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// A randomized fault run: 20 recordings upload while the primary RWS randomly answers 503,
// corrupts chunks, drops links, loses answers or restarts, with a peer beside it. Every
// segment ends on a server, byte-identical, no server holds two complete uploads of one
// segment, and no partial upload is left on either.
func TestRandomFaultsLoseNothing(t *testing.T) {
	t.Parallel()
	mediatestSkip(t)
	srv := newDisplay(t)
	ctx := context.Background()
	primaryDir, primaryAddr := t.TempDir(), freeAddr(t)
	users := map[string]string{rwsUser: rwsPass}
	var mu sync.Mutex
	primary, err := rwsserver.Start(ctx, rwsserver.Config{Dir: primaryDir, Listen: primaryAddr, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := rwsserver.Start(ctx, rwsserver.Config{Dir: t.TempDir(), Listen: freeAddr(t), Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mu.Lock(); primary.Close(); mu.Unlock(); peer.Close() })

	spool := t.TempDir()
	e, err := engine.New(ctx, engine.Config{SpoolDir: spool, MinFreeDisk: -1, FPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	up := rws.New()
	cfg, _ := json.Marshal(map[string]any{"server": primary.URL(), "peer_server": peer.URL(), "username": rwsUser,
		"password": rwsPass, "chunk_size": "8KiB", "timeout": "2s", "cooldown": "300ms"})
	if diags, err := up.Configure(ctx, cfg); err != nil || len(diags) > 0 && diags[0].Severity == 1 {
		t.Fatalf("configure rws: %v %+v", err, diags)
	}
	upCtx, stopUploads := context.WithCancel(ctx)
	uploading := make(chan error, 1)
	go func() {
		uploading <- e.RunUploads(upCtx, up, engine.UploadConfig{Concurrency: 3, BaseDelay: 50 * time.Millisecond,
			MaxDelay: 400 * time.Millisecond, Keep: true})
	}()
	t.Cleanup(func() { stopUploads(); <-uploading })

	// Faults, at random, until the recordings are done.
	faultsDone := make(chan struct{})
	recordingsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		r := rand.New(rand.NewPCG(7, 11))
		for {
			select {
			case <-recordingsDone:
				return
			case <-time.After(time.Duration(100+r.IntN(300)) * time.Millisecond):
			}
			mu.Lock()
			switch r.IntN(6) {
			case 5: // the last chunk's answer (or any chunk's) lost after it was stored
				_ = primary.SetFaults(rwsserver.Faults{LoseNextAnswers: 1})
			case 0:
				_ = primary.SetFaults(rwsserver.Faults{Status: 503})
			case 1:
				_ = primary.SetFaults(rwsserver.Faults{CorruptNextChunks: 1 + r.IntN(2)})
			case 2:
				_ = primary.SetFaults(rwsserver.Faults{DropAfterBytes: int64(1 + r.IntN(20000))})
			case 3: // the server process dies and comes back on the same folder
				primary.Close()
				if p, err := rwsserver.Start(ctx, rwsserver.Config{Dir: primaryDir, Listen: primaryAddr, Users: users}); err == nil {
					primary = p
				}
			default:
				_ = primary.SetFaults(rwsserver.Faults{})
			}
			mu.Unlock()
		}
	}()
	var sessions []engine.Session
	animCtx, stopAnim := context.WithCancel(ctx)
	go xscene.Animate(animCtx, srv.Display, image.Rectangle{}, 30)
	for i := 0; i < 20; i++ {
		s, err := e.Start(ctx, engine.StartRequest{Owner: fmt.Sprintf("agent%d", i), Frontend: "e2e",
			Source: engine.Source{Display: srv.Display, Region: image.Rect(0, 0, 640, 360)}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(200+rand.IntN(300)) * time.Millisecond)
		if s, err = e.Stop(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	stopAnim()
	close(recordingsDone)
	<-faultsDone
	mu.Lock()
	_ = primary.SetFaults(rwsserver.Faults{})
	mu.Unlock()

	// Everything arrives once the faults stop.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !allUploaded(t, spool, len(sessions)) {
		time.Sleep(200 * time.Millisecond)
	}
	if !allUploaded(t, spool, len(sessions)) {
		t.Fatal("not every upload finished within 60 s of the faults stopping")
	}
	mu.Lock()
	servers := map[string][]rwsserver.Upload{"primary": primary.Uploads(), "peer": peer.Uploads()}
	mu.Unlock()
	retries := 0
	for _, j := range jobsIn(t, spool) {
		retries += j.Attempts - 1
	}
	onPeer := 0
	for _, u := range servers["peer"] {
		if u.Complete {
			onPeer++
		}
	}
	t.Logf("%d segments: %d retries, %d completed on the peer", len(sessions), retries, onPeer)
	if retries == 0 && onPeer == 0 {
		t.Error("no fault had any effect: the test proves nothing")
	}
	// Abandoned uploads (left by failovers, refused) were terminated. An empty one may stay:
	// created, but the answer naming it cut by a restart — tus creation cannot tell the
	// client (a server expires those).
	orphans := 0
	for name, ups := range servers {
		for _, u := range ups {
			switch {
			case u.Complete:
			case u.Offset == 0 && !u.Rejected:
				orphans++
			default:
				t.Errorf("%s keeps an upload that is not complete: %+v", name, u)
			}
		}
	}
	t.Logf("%d empty uploads whose creation answer was lost", orphans)
	for _, s := range sessions {
		for _, sg := range s.Segments {
			found := 0
			for name, ups := range servers {
				complete := 0
				for _, u := range ups {
					if u.Complete && u.Metadata["recordingId"] == s.ID && u.SHA256 == sg.SHA256 && u.Size == sg.Bytes {
						complete++
					}
				}
				if complete > 1 {
					t.Errorf("%s holds %d complete uploads of %s", name, complete, sg.Path)
				}
				found += complete
			}
			if found == 0 {
				t.Errorf("recording %s segment %s is on no server", s.ID, sg.Path)
			}
		}
	}
}

// allUploaded reports whether n jobs exist and all are uploaded.
func allUploaded(t *testing.T, spool string, n int) bool {
	t.Helper()
	jobs := jobsIn(t, spool)
	for _, j := range jobs {
		if j.State != catalog.UploadUploaded {
			return false
		}
	}
	return len(jobs) == n
}

// newDisplay starts a painted private display.
func newDisplay(t *testing.T) *xvfb.Server {
	t.Helper()
	srv := xvfb.StartForTest(t, xvfb.TwoMonitors)
	paint(t, srv)
	return srv
}

func mediatestSkip(t *testing.T) { mediatest.SkipIfUnavailable(t) }

// A file the RWS refuses as a whole (460 when its last chunk arrives) is never marked
// uploaded and its local file stays, even with a server that afterwards reports the upload
// whole (HEAD); once the server accepts it, the job ends uploaded, the file goes, and the
// server holds it once, with the refused uploads terminated.
func TestWholeFileRefusalKeepsLocalFile(t *testing.T) {
	t.Parallel()
	mediatestSkip(t)
	srv := newDisplay(t)
	ctx := context.Background()
	rwsd, err := rwsserver.Start(ctx, rwsserver.Config{Dir: t.TempDir(), Users: map[string]string{rwsUser: rwsPass}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rwsd.Close() })
	if err := rwsd.SetFaults(rwsserver.Faults{RefuseNextFiles: 1000, HideRejections: true}); err != nil {
		t.Fatal(err)
	}
	spool := t.TempDir()
	e, err := engine.New(ctx, engine.Config{SpoolDir: spool, MinFreeDisk: -1, FPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	up := rws.New()
	cfg, _ := json.Marshal(map[string]any{"server": rwsd.URL(), "username": rwsUser, "password": rwsPass, "chunk_size": "16KiB"})
	if diags, err := up.Configure(ctx, cfg); err != nil || len(diags) > 0 && diags[0].Severity == 1 {
		t.Fatalf("configure rws: %v %+v", err, diags)
	}
	s, err := e.Start(ctx, engine.StartRequest{Owner: "agent", Frontend: "e2e",
		Source: engine.Source{Display: srv.Display, Region: image.Rect(0, 0, 320, 240)}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if s, err = e.Stop(ctx, s.ID); err != nil || len(s.Segments) != 1 {
		t.Fatalf("stop: %+v %v", s, err)
	}
	segPath := s.Segments[0].Path
	upCtx, stopUploads := context.WithCancel(ctx)
	uploading := make(chan error, 1)
	go func() {
		uploading <- e.RunUploads(upCtx, up, engine.UploadConfig{BaseDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond})
	}()
	t.Cleanup(func() { stopUploads(); <-uploading })

	var job catalog.UploadJob
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if jobs := jobsIn(t, spool); len(jobs) == 1 {
			job = jobs[0]
			if job.Attempts >= 3 && job.State == catalog.UploadQueued || job.State == catalog.UploadUploaded || job.State == catalog.UploadFailed {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if job.State != catalog.UploadQueued || job.Attempts < 3 || job.LastErrorKind != "checksum" {
		t.Fatalf("job after refusals = state %s, %d attempts, kind %q, error %q; want queued again after 3+ attempts of kind checksum",
			job.State, job.Attempts, job.LastErrorKind, job.LastError)
	}
	if _, err := os.Stat(segPath); err != nil {
		t.Fatalf("the refused segment's local file: %v", err)
	}

	if err := rwsd.SetFaults(rwsserver.Faults{}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !allUploaded(t, spool, 1) {
		time.Sleep(50 * time.Millisecond)
	}
	if !allUploaded(t, spool, 1) {
		t.Fatalf("not uploaded once the server accepts: %+v", jobsIn(t, spool))
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(segPath); os.IsNotExist(err) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(segPath); !os.IsNotExist(err) {
		t.Errorf("the uploaded segment's local file is still there: %v", err)
	}
	ups := rwsd.Uploads()
	if len(ups) != 1 || !ups[0].Complete || ups[0].SHA256 != s.Segments[0].SHA256 {
		t.Errorf("server holds %+v, want the segment once, complete (refused uploads terminated)", ups)
	}
}
