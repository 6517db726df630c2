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

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
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

// runWithCollector starts `recorder run --config cfg` on d's display, exporting over OTLP/HTTP
// to the collector at url (with env added), and returns once its front end listens on port.
// It is killed at the end of the test if still running.
func runWithCollector(t *testing.T, d *desk, cfg string, port int, url string, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(recorderBin, "run", "--config", cfg)
	cmd.Env = append(append(d.srv.Env(), "OTEL_EXPORTER_OTLP_ENDPOINT="+url, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_SDK_DISABLED="), env...)
	stdout, _ := cmd.StdoutPipe()
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.Contains(sc.Text(), fmt.Sprintf("listening on http://127.0.0.1:%d", port)) {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return cmd, stderr
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
			cmd, stderr := runWithCollector(t, d, cfg, port, col.URL, "OTEL_METRIC_EXPORT_INTERVAL=200")
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

// otlpRecorder decodes the OTLP/HTTP exports it gets: the resources of the spans, and the
// data points' attributes of every metric, with when each metric of a plugin first came.
type otlpRecorder struct {
	*httptest.Server
	mu          sync.Mutex
	spans       []map[string]string // resource attributes of each span
	metricAttrs map[string][]map[string]string
	firstPlugin map[string]time.Time // metric name → first export with a point labelled plugin=…
}

func newOTLPRecorder(t *testing.T) *otlpRecorder {
	c := &otlpRecorder{metricAttrs: map[string][]map[string]string{}, firstPlugin: map[string]time.Time{}}
	kvs := func(list []*commonpb.KeyValue) map[string]string {
		m := map[string]string{}
		for _, kv := range list {
			m[kv.GetKey()] = fmt.Sprint(otlpValue(kv.GetValue()))
		}
		return m
	}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		switch r.URL.Path {
		case "/v1/traces":
			var req coltracepb.ExportTraceServiceRequest
			if proto.Unmarshal(body, &req) == nil {
				for _, rs := range req.GetResourceSpans() {
					for _, ss := range rs.GetScopeSpans() {
						for range ss.GetSpans() {
							c.spans = append(c.spans, kvs(rs.GetResource().GetAttributes()))
						}
					}
				}
			}
		case "/v1/metrics":
			var req colmetricpb.ExportMetricsServiceRequest
			if proto.Unmarshal(body, &req) == nil {
				for _, rm := range req.GetResourceMetrics() {
					for _, sm := range rm.GetScopeMetrics() {
						for _, m := range sm.GetMetrics() {
							var points [][]*commonpb.KeyValue
							for _, p := range m.GetSum().GetDataPoints() {
								points = append(points, p.GetAttributes())
							}
							for _, p := range m.GetHistogram().GetDataPoints() {
								points = append(points, p.GetAttributes())
							}
							for _, p := range m.GetGauge().GetDataPoints() {
								points = append(points, p.GetAttributes())
							}
							for _, p := range points {
								a := kvs(p)
								c.metricAttrs[m.GetName()] = append(c.metricAttrs[m.GetName()], a)
								if _, ok := c.firstPlugin[m.GetName()]; a["plugin"] != "" && !ok {
									c.firstPlugin[m.GetName()] = time.Now()
								}
							}
						}
					}
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(c.Close)
	return c
}

func otlpValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	}
	return v.String()
}

// `recorder run` with OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES set and real plugin
// processes: the plugin's spans carry the host's resource (the service name the variable
// set, host.name, service.version, the extra attribute), each with its own recorder.plugin;
// the plugin sends metrics at OTEL_METRIC_EXPORT_INTERVAL, not every 5 s; and no metric has
// a label with the random socket path of a plugin connection (server.address), or any other
// unbounded one.
func TestRunPluginTelemetryFollowsTheHost(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	col := newOTLPRecorder(t)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`spool_dir: %s
display: %q
telemetry: {enabled: true}
frontends:
  - name: probe
    config: {listen: "127.0.0.1:%d"}
uploaders:
  - name: noop
`, t.TempDir(), d.srv.Display, port))
	cmd, stderr := runWithCollector(t, d, cfg, port, col.URL, "OTEL_METRIC_EXPORT_INTERVAL=300",
		"OTEL_SERVICE_NAME=desk-recorder", "OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=trial")
	requested := time.Now()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/sessions", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The probe's HTTP metrics come from its process: at the 300 ms interval, well before the
	// 5 s the plugins used to wait whatever the variable said.
	const metric = "http.server.request.duration"
	var first time.Time
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		col.mu.Lock()
		first = col.firstPlugin[metric]
		col.mu.Unlock()
		if !first.IsZero() {
			break
		}
	}
	if first.IsZero() {
		t.Errorf("the probe's %s did not reach the collector within 3 s of the request at a 300 ms interval", metric)
	} else {
		t.Logf("the probe's %s came %v after the request", metric, first.Sub(requested))
	}
	recordOnce(t, d, port) // spans and rpc metrics of every kind
	time.Sleep(700 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("recorder run: %v\n%s", err, stderr.String())
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	host, _ := os.Hostname()
	plugins := map[string]bool{}
	for _, res := range col.spans {
		if res["service.name"] != "desk-recorder" || res["host.name"] != host || res["service.version"] != version ||
			res["deployment.environment.name"] != "trial" {
			t.Errorf("span resource %v, want the host's: desk-recorder, host %s, version %s, deployment trial", res, host, version)
			break
		}
		if p := res["recorder.plugin"]; p != "" {
			plugins[p] = true
		}
	}
	if !plugins["probe"] || !plugins["noop"] {
		t.Errorf("spans came from the plugins %v, want probe and noop", plugins)
	}
	if len(col.metricAttrs["rpc.client.call.duration"]) == 0 {
		t.Errorf("no rpc.client.call.duration points: the check below would check nothing")
	}
	for name, points := range col.metricAttrs {
		for _, a := range points {
			for k, v := range a {
				if strings.Contains(v, "/tmp/plugin") || k == "server.address" && strings.HasPrefix(v, "/") ||
					k == "client.address" || k == "network.peer.address" || k == "network.peer.port" {
					t.Fatalf("metric %s has an unbounded label %s=%q", name, k, v)
				}
			}
		}
	}
}
