package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/mux"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "recorder.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// SIGTERM to `recorder run`: front ends stop, the running recording is finalised (its file
// ends with its index, not cut), and no plugin process is left, not even a zombie.
func TestRunFinalisesOnSIGTERM(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`spool_dir: %s
display: %q
frontends:
  - name: probe
    config: {listen: "127.0.0.1:%d"}
uploaders:
  - name: noop
`, t.TempDir(), d.srv.Display, port))
	cmd := exec.Command(recorderBin, "run", "--config", cfg)
	cmd.Env = d.srv.Env()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	want := fmt.Sprintf("front end probe: api listening on http://127.0.0.1:%d", port)
	for l := range lines {
		if l == want {
			break
		}
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	body, _ := json.Marshal(engine.StartRequest{Owner: "agent", Frontend: "probe", Source: engine.Source{Display: d.srv.Display}})
	resp, err := http.Post(base+"/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("start: %v\n%s", err, stderr.String())
	}
	var s engine.Session
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if s.State != engine.StateRecording || len(s.Segments) != 1 {
		t.Fatalf("started %+v", s)
	}
	resp, err = http.Get(base + "/pid")
	if err != nil {
		t.Fatal(err)
	}
	var pid struct{ Pid int }
	json.NewDecoder(resp.Body).Decode(&pid)
	resp.Body.Close()
	time.Sleep(1500 * time.Millisecond)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("recorder run after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("recorder run did not stop within 30 s of SIGTERM")
	}
	res, err := mux.Inspect(s.Segments[0].Path)
	if err != nil || !res.Complete || res.Duration < time.Second {
		t.Errorf("recording after SIGTERM: %+v %v (want finalised, ≥ 1 s)", res, err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid.Pid)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plugin process %d is still there (or a zombie)", pid.Pid)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	cases := []struct{ body, want string }{
		{"frontends:\n  - name: probe\n    config: {listen: nowhere}\n", "frontends[0] (probe): config.listen: bad listen address"},
		{"frontends:\n  - name: nosuch\n", "frontends[0] (nosuch)"},
		{"engine:\n  fpss: 10\n", "fpss"},
	}
	for _, c := range cases {
		cfg := writeConfig(t, "spool_dir: "+t.TempDir()+"\n"+c.body)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, recorderBin, "run", "--config", cfg)
		cmd.Env = d.srv.Env()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%q: exit %v, want 2", c.body, err)
		}
		msg := stderr.String()
		if !strings.Contains(msg, c.want) || !onlyLine(lastLine(msg)) {
			t.Errorf("%q: stderr %q lacks %q", c.body, msg, c.want)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
