package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// listeningPorts returns the TCP ports process pid listens on: the listening sockets of
// /proc/PID/net/tcp{,6} (which list the whole network namespace) that are among its fds.
func listeningPorts(t *testing.T, pid int) []int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot list the fds of %d: %v", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, f := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			t.Skipf("no /proc net table: %v", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" || !inodes[fs[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(fs[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
				ports = append(ports, int(p))
			}
		}
	}
	sort.Ints(ports)
	return ports
}

// otlpCollector counts the OTLP/HTTP requests it gets, by path.
type otlpCollector struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newCollector(t *testing.T) *otlpCollector {
	c := &otlpCollector{hits: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.hits[r.URL.Path]++
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *otlpCollector) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[path]
}

// With telemetry off, `recorder run` exports nothing even though the OTLP variables name a
// collector, and listens on nothing but its front end. The same run with telemetry on
// exports traces and metrics to that collector, so the check is one that can fail.
func TestRunTelemetryOffExportsNothing(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("enabled=%v", enabled), func(t *testing.T) {
			col := newCollector(t)
			port := freePort(t)
			cfg := writeConfig(t, fmt.Sprintf(`spool_dir: %s
display: %q
telemetry: {enabled: %v}
frontends:
  - name: probe
    config: {listen: "127.0.0.1:%d"}
`, t.TempDir(), d.srv.Display, enabled, port))
			cmd := exec.Command(recorderBin, "run", "--config", cfg)
			cmd.Env = append(d.srv.Env(), "OTEL_EXPORTER_OTLP_ENDPOINT="+col.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
				"OTEL_METRIC_EXPORT_INTERVAL=200", "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_SDK_DISABLED=")
			stdout, _ := cmd.StdoutPipe()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() && !strings.Contains(sc.Text(), fmt.Sprintf("listening on http://127.0.0.1:%d", port)) {
			}
			go func() {
				for sc.Scan() {
				}
			}()
			recordOnce(t, d, port)
			// The recorder and its plugin processes: only the probe front end listens.
			got := listeningPorts(t, cmd.Process.Pid)
			kids, _ := exec.Command("pgrep", "-P", strconv.Itoa(cmd.Process.Pid)).Output()
			for _, k := range strings.Fields(string(kids)) {
				if pid, err := strconv.Atoi(k); err == nil {
					got = append(got, listeningPorts(t, pid)...)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint([]int{port}) {
				t.Errorf("recorder run and its plugins listen on %v, want only the front end's %d", got, port)
			}
			time.Sleep(500 * time.Millisecond) // several metric intervals
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("recorder run: %v\n%s", err, stderr.String())
			}
			traces, metrics := col.count("/v1/traces"), col.count("/v1/metrics")
			if enabled && (traces == 0 || metrics == 0) {
				t.Errorf("enabled: the collector got %d trace and %d metric exports, want some of each", traces, metrics)
			}
			if !enabled && traces+metrics != 0 {
				t.Errorf("disabled: the collector got %d trace and %d metric exports, want none", traces, metrics)
			}
		})
	}
}

var metricLine = regexp.MustCompile(`(?m)^(recorder_frames_captured_total|recorder_written_bytes_total)(?:\{[^}]*\})? ([0-9.e+]+)$`)

// scrapeRecord reads the encoded frames and written bytes from a /metrics page.
func scrapeRecord(url string) (frames, bytes float64, err error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	found := 0
	for _, m := range metricLine.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		if m[1] == "recorder_frames_captured_total" {
			frames = v
		} else {
			bytes = v
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("metrics missing from:\n%s", body)
	}
	return frames, bytes, nil
}

// `recorder record --metrics-listen` serves Prometheus metrics while it records: frames and
// bytes grow. Without telemetry it refuses the flag.
func TestRecordServesMetrics(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, recorderBin, "record", "--out", filepath.Join(t.TempDir(), "m.mp4"), "--duration", "4s",
		"--monitors", "0", "--telemetry", "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = d.srv.Env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var f1, b1 float64
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if f1, b1, err = scrapeRecord(url); err == nil && f1 > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no frames on %s: %v\n%s", url, err, stderr.String())
		}
	}
	// The desk is still: frames are captured at 10 fps but mostly skipped, and one is
	// encoded (and its fragment written) at least every second or so.
	time.Sleep(2500 * time.Millisecond)
	f2, b2, err := scrapeRecord(url)
	if err != nil || f2 < f1+15 || b2 <= b1 {
		t.Errorf("after 2.5 s: frames captured %v → %v, bytes %v → %v, %v", f1, f2, b1, b2, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("record: %v\n%s", err, stderr.String())
	}

	bad := exec.Command(recorderBin, "record", "--out", filepath.Join(t.TempDir(), "x.mp4"), "--duration", "1s", "--metrics-listen", "127.0.0.1:0")
	bad.Env = append(d.srv.Env(), "RECORDER_TELEMETRY_ENABLED=false")
	out, err := bad.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--metrics-listen needs telemetry") {
		t.Errorf("--metrics-listen without telemetry: %v %s", err, out)
	}
}
