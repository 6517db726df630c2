package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
)

// startService runs `recorder run` with cfg until the test ends, once its probe API listens.
func startService(t *testing.T, d *desk, cfg string, port int) {
	t.Helper()
	cmd := exec.Command(recorderBin, "run", "--config", cfg)
	cmd.Env = d.srv.Env()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	want := fmt.Sprintf("listening on http://127.0.0.1:%d", port)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			go func() { // keep draining
				for sc.Scan() {
				}
			}()
			return
		}
	}
	t.Fatal("recorder run never listened")
}

// recordOnce starts and stops a recording through the probe front end.
func recordOnce(t *testing.T, d *desk, port int) engine.Session {
	t.Helper()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	body, _ := json.Marshal(engine.StartRequest{Owner: "agent", Frontend: "probe", Source: engine.Source{Display: d.srv.Display}})
	resp, err := http.Post(base+"/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var s engine.Session
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	time.Sleep(700 * time.Millisecond)
	resp, err = http.Post(base+"/sessions/"+s.ID+"/stop", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if s.State != engine.StateCompleted {
		t.Fatalf("recording: %+v", s)
	}
	return s
}

func uploadsOf(t *testing.T, cfg string) []uploadRow {
	t.Helper()
	out, err := exec.Command(recorderBin, "uploads", "--json", "--config", cfg).Output()
	if err != nil {
		t.Fatalf("recorder uploads: %v", err)
	}
	var rows []uploadRow
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return rows
}

func waitUploads(t *testing.T, cfg string, state string) []uploadRow {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		rows := uploadsOf(t, cfg)
		if len(rows) == 1 && rows[0].State == state {
			return rows
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("upload never %s: %+v", state, uploadsOf(t, cfg))
	return nil
}

func TestRunUploadsRecordingsAndRetry(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	for _, fail := range []bool{false, true} {
		port := freePort(t)
		cfg := writeConfig(t, fmt.Sprintf(`spool_dir: %s
frontends:
  - name: probe
    config: {listen: "127.0.0.1:%d"}
uploaders:
  - name: noop
    config: {fail: %v}
upload: {retry_base_delay: 100ms, retry_max_delay: 1s}
`, t.TempDir(), port, fail))
		startService(t, d, cfg, port)
		s := recordOnce(t, d, port)
		if !fail {
			rows := waitUploads(t, cfg, "uploaded")
			if rows[0].Recording != s.ID || rows[0].Offset != rows[0].Bytes || !strings.HasPrefix(rows[0].Location, "noop://") {
				t.Errorf("uploaded job: %+v", rows[0])
			}
			if _, err := os.Stat(s.Segments[0].Path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the uploaded recording is still in the spool")
			}
			continue
		}
		rows := waitUploads(t, cfg, "failed")
		if !strings.Contains(rows[0].LastError, "configured to fail") {
			t.Errorf("failed job: %+v", rows[0])
		}
		out, err := exec.Command(recorderBin, "uploads", "retry", fmt.Sprint(rows[0].ID), "--config", cfg).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "queued again") {
			t.Fatalf("uploads retry: %v %s", err, out)
		}
		// The service picks it up again (and noop fails it again, for good).
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if r := uploadsOf(t, cfg); r[0].Attempts == 2 && r[0].State == "failed" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r := uploadsOf(t, cfg); r[0].Attempts != 2 {
			t.Errorf("after retry: %+v", r[0])
		}
		if out, err := exec.Command(recorderBin, "uploads", "retry", "99999", "--config", cfg).CombinedOutput(); err == nil {
			t.Errorf("retry of an unknown job succeeded: %s", out)
		}
	}
}
