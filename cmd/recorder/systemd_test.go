package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/catalog/catalogtest"
)

// sdMessage is one datagram `recorder run` sent to the notify socket, with when it came.
type sdMessage struct {
	at     time.Time
	fields []string // "READY=1", "STATUS=…", …
}

func (m sdMessage) has(field string) bool {
	for _, f := range m.fields {
		if f == field {
			return true
		}
	}
	return false
}

// lockedBuffer is stderr read while the process still writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// notifyRun is `recorder run` started as systemd starts a Type=notify unit with a watchdog:
// NOTIFY_SOCKET names a datagram socket the test reads, WATCHDOG_USEC is set.
type notifyRun struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	spool  string
	msgs   chan sdMessage

	adminURL string // the admin API's, on a port chosen before the start

	mu     sync.Mutex
	stdout []string // lines printed so far
}

func startNotifyRun(t *testing.T, d *desk, watchdog time.Duration) *notifyRun {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	adminPort := freePort(t)
	r := &notifyRun{adminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort), spool: filepath.Join(dir, "spool"), msgs: make(chan sdMessage, 256), stderr: &lockedBuffer{}}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(r.msgs)
				return
			}
			r.msgs <- sdMessage{at: time.Now(), fields: strings.Split(strings.TrimSpace(string(buf[:n])), "\n")}
		}
	}()
	cfg := writeConfig(t, fmt.Sprintf(`spool_dir: %s
display: %q
frontends:
  - name: probe
    config: {listen: "127.0.0.1:0"}
uploaders:
  - name: noop
admin:
  enabled: true
  listen: "127.0.0.1:%d"
  token: {env: RECORDER_ADMIN_TOKEN}
`, r.spool, d.srv.Display, adminPort))
	r.cmd = exec.Command(recorderBin, "run", "--config", cfg)
	r.cmd.Env = append(d.srv.Env(), "NOTIFY_SOCKET="+sock,
		fmt.Sprintf("WATCHDOG_USEC=%d", watchdog.Microseconds()), "RECORDER_ADMIN_TOKEN=systemd-test-token-0123456789")
	stdout, _ := r.cmd.StdoutPipe()
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := sc.Text()
			r.mu.Lock()
			r.stdout = append(r.stdout, l)
			r.mu.Unlock()
		}
	}()
	return r
}

// next waits for the next message with field, returning those before it too; it fails the
// test after timeout, printing what it saw.
func (r *notifyRun) next(t *testing.T, field string, timeout time.Duration) (sdMessage, []sdMessage) {
	t.Helper()
	var before []sdMessage
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-r.msgs:
			if !ok {
				t.Fatalf("notify socket closed before %s; saw %v", field, before)
			}
			if m.has(field) {
				return m, before
			}
			before = append(before, m)
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no %s within %v; messages %v\nstdout %q\nstderr %s", field, timeout, before, r.stdout, r.stderr.String())
		}
	}
}

// Under systemd (NOTIFY_SOCKET, WATCHDOG_USEC), `recorder run` says READY=1 only once its
// front end and admin API serve, pets the watchdog every half of WATCHDOG_USEC, and says
// STOPPING=1 on SIGTERM before it ends cleanly.
func TestRunNotifiesSystemd(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	const watchdog = 2 * time.Second
	r := startNotifyRun(t, d, watchdog)

	ready, before := r.next(t, "READY=1", 60*time.Second)
	if len(before) > 0 {
		t.Errorf("messages before READY=1: %v", before)
	}
	// Ready means serving: the first request, with no retry, is answered.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(r.adminURL + "/healthz")
	if err != nil {
		t.Fatalf("admin API right after READY=1 (%v): %v\nstderr %s", ready.fields, err, r.stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin /healthz right after READY=1: %s", resp.Status)
	}

	// Pets at about half the timeout; three of them, each well within the timeout.
	last := ready.at
	for i := 0; i < 3; i++ {
		m, _ := r.next(t, "WATCHDOG=1", 4*watchdog)
		if gap := m.at.Sub(last); gap > watchdog {
			t.Errorf("WATCHDOG=1 #%d came %v after the previous message; the timeout is %v", i+1, gap, watchdog)
		}
		last = m.at
	}

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.next(t, "STOPPING=1", 30*time.Second)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("recorder run after SIGTERM: %v\n%s", err, r.stderr.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("recorder run did not stop within 45 s of SIGTERM\n%s", r.stderr.String())
	}
}

// With a damaged catalog the engine is unhealthy: the watchdog pets stop, so that systemd
// restarts the service.
func TestRunWatchdogStopsWhenCatalogDamaged(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	const watchdog = 2 * time.Second
	r := startNotifyRun(t, d, watchdog)
	r.next(t, "READY=1", 60*time.Second)
	r.next(t, "WATCHDOG=1", 4*watchdog) // healthy so far

	catalogtest.Damage(t, filepath.Join(r.spool, "catalog.db"))
	damaged := time.Now()
	// A check already running may still pet once; after that none for two timeouts.
	var pets []time.Duration
	window := time.After(2 * watchdog)
	for waiting := true; waiting; {
		select {
		case m := <-r.msgs:
			if m.has("WATCHDOG=1") {
				pets = append(pets, m.at.Sub(damaged))
			}
		case <-window:
			waiting = false
		}
	}
	if len(pets) > 1 {
		t.Errorf("WATCHDOG=1 went on after the catalog was damaged: pets at %v after it\nstderr %s", pets, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "engine unhealthy") {
		t.Errorf("stderr does not say why the watchdog is not petted:\n%s", r.stderr.String())
	}
}

// stuckEngine answers the health checks as told: block makes CheckCatalog wait for release
// (ignoring its context, as a deadlocked engine would).
type stuckEngine struct {
	block            chan struct{}
	catalog, display error
}

func (e *stuckEngine) CheckCatalog(ctx context.Context) error {
	if e.block != nil {
		<-e.block
	}
	return e.catalog
}
func (e *stuckEngine) CheckDisplay(context.Context, string) error { return e.display }
func (e *stuckEngine) CheckSpace(context.Context) error           { return nil }

// The watchdog withholds its pet when a check does not answer in time or the catalog fails,
// and not for a display that does not answer (a restart cannot fix that).
func TestWatchdogCheckWhatWithholdsThePet(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	cases := []struct {
		name          string
		eng           *stuckEngine
		wantUnhealthy bool
	}{
		{"healthy", &stuckEngine{}, false},
		{"hung catalog", &stuckEngine{block: release}, true},
		{"damaged catalog", &stuckEngine{catalog: errors.New("catalog: malformed")}, true},
		{"display gone", &stuckEngine{display: errors.New("display :9: refused")}, false},
	}
	for _, c := range cases {
		start := time.Now()
		err := watchdogCheck(context.Background(), c.eng, []string{":9"}, 200*time.Millisecond)
		if got := errors.Is(err, errUnhealthy); got != c.wantUnhealthy {
			t.Errorf("%s: %v (unhealthy %v), want unhealthy %v", c.name, err, got, c.wantUnhealthy)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: the check took %v, past its 200 ms deadline", c.name, took)
		}
	}
}
