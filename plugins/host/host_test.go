package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/testbin"
	"github.com/screenrec/recorder/internal/xvfb"
	"github.com/screenrec/recorder/pkg/telemetry"
	"github.com/screenrec/recorder/plugins/builtin"
	"github.com/screenrec/recorder/plugins/sdk"

	"github.com/screenrec/recorder/internal/logtest"
)

// binDir holds the binary that serves built-in adapters as plugin processes and an external
// plugin.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv("HOST_TEST_BUILTIN") != "" {
		// A helper process of TestPluginDiesWithItsHost: it is killed, so it must build
		// nothing it cannot clean up.
		os.Exit(m.Run())
	}
	testbin.Main(m, func(dir string) { binDir = dir },
		testbin.Binary{Name: builtin.Executable, Package: "../../cmd/recorder-builtin", NoCgo: true},
		// A plugin built on the SDK must not need cgo (FFmpeg, SQLite): third parties build
		// plugins without the engine's C libraries.
		testbin.Binary{Name: ExternalPrefix + "ext", Package: "./testdata/extplugin", NoCgo: true})
}

// logBuffer collects the host's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// fixture is an engine on a private display with a host around it, whose telemetry goes to
// an in-memory span exporter and a manual metric reader.
type fixture struct {
	srv     *xvfb.Server
	eng     *engine.Engine
	host    *Host
	logs    *logBuffer
	spans   *tracetest.InMemoryExporter
	metrics *sdkmetric.ManualReader
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	mediatest.SkipIfUnavailable(t)
	srv := xvfb.StartForTest(t, xvfb.TwoMonitors)
	eng, err := engine.New(context.Background(), engine.Config{SpoolDir: t.TempDir(), MinFreeDisk: -1})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	h := New(EngineAPI(eng), Options{BuiltinExecutable: filepath.Join(binDir, builtin.Executable), PluginDir: binDir,
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TracerProvider: tp, MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		Relay: telemetry.NewRelay(spans), RelayOptions: sdk.TelemetryOptions{ServiceName: "recorder-test", Traces: true, Metrics: true}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		_ = eng.Close(ctx)
	})
	return &fixture{srv: srv, eng: eng, host: h, logs: logs, spans: spans, metrics: reader}
}

// restarts reads the restart counter of a plugin.
func (f *fixture) restarts(t *testing.T, plugin string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := f.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == MetricRestarts {
				for _, p := range sum.DataPoints {
					if v, _ := p.Attributes.Value("plugin"); v.AsString() == plugin {
						return p.Value
					}
				}
			}
		}
	}
	return 0
}

func (f *fixture) load(t *testing.T, specs ...Spec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.host.Load(ctx, specs); err != nil {
		t.Fatal(err)
	}
	if err := f.host.Serve(ctx); err != nil {
		t.Fatal(err)
	}
}

// api calls a probe front end's HTTP API.
func api(t *testing.T, base, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (f *fixture) endpoint(t *testing.T, name string) string {
	t.Helper()
	eps := f.host.Endpoints()[name]
	if len(eps) == 0 {
		t.Fatalf("%s has no endpoint: %v", name, f.host.Endpoints())
	}
	return eps[0].URL
}

// A front-end plugin process drives the engine; killed with SIGKILL, it is back within 2 s
// while the recording goes on, and the restarted plugin stops it.
func TestFrontendPluginSurvivesKill9(t *testing.T) {
	f := newFixture(t)
	f.load(t, Spec{Name: "probe", Kind: sdk.KindFrontend, Config: map[string]any{"listen": "127.0.0.1:0"}})
	base := f.endpoint(t, "probe")
	var s engine.Session
	started := time.Now()
	if code := api(t, base, "POST", "/sessions", engine.StartRequest{Owner: "agent", Frontend: "probe",
		Source: engine.Source{Display: f.srv.Display}}, &s); code != http.StatusCreated || s.State != engine.StateRecording {
		t.Fatalf("start through the plugin: %d %+v", code, s)
	}
	var pid struct{ Pid int }
	api(t, base, "GET", "/pid", nil, &pid)
	if pid.Pid == 0 || pid.Pid != f.host.Pid(sdk.KindFrontend, "probe") || pid.Pid == os.Getpid() {
		t.Fatalf("probe pid %d, host says %d", pid.Pid, f.host.Pid(sdk.KindFrontend, "probe"))
	}
	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	if err := syscall.Kill(pid.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var restarted Event
	deadline := time.After(5 * time.Second)
	for restarted.Type != EventRestarted {
		select {
		case ev := <-f.host.Events():
			if ev.Type == EventExited && !errors.Is(ev.Err, ErrPluginDied) {
				t.Errorf("exit event error %v does not wrap ErrPluginDied", ev.Err)
			}
			if ev.Type == EventRestarted {
				restarted = ev
			}
		case <-deadline:
			t.Fatal("no restart within 5 s")
		}
	}
	if took := time.Since(killed); took > 2*time.Second {
		t.Errorf("restart took %s, want ≤ 2 s", took)
	}
	if n := f.restarts(t, "probe"); n != 1 {
		t.Errorf("%s = %d, want 1", MetricRestarts, n)
	}
	if got, _ := f.eng.Get(context.Background(), s.ID); got.State != engine.StateRecording {
		t.Fatalf("the recording did not survive the plugin's death: %s", got.State)
	}
	time.Sleep(500 * time.Millisecond)
	base = f.endpoint(t, "probe")
	var done engine.Session
	elapsed := time.Since(started)
	if code := api(t, base, "POST", "/sessions/"+s.ID+"/stop", nil, &done); code != http.StatusOK || done.State != engine.StateCompleted {
		t.Fatalf("stop through the restarted plugin: %d %+v", code, done)
	}
	// One recording from the first plugin's start to the second's stop, gap-free.
	if d := done.Duration - elapsed; d < -400*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("recording lasted %s across the restart; %s passed between start and stop", done.Duration, elapsed)
	}
	if p, err := mediatest.ProbeFile(context.Background(), done.Segments[0].Path); err != nil || p.Format.Duration < elapsed.Seconds()-0.4 {
		t.Errorf("file after restart: %v %v", p, err)
	}
	// The plugin's own log lines reach the host's log, tagged with its name.
	if !strings.Contains(f.logs.String(), `"plugin":"probe"`) {
		t.Errorf("no log line tagged with the plugin's name:\n%s", f.logs.String())
	}
	// Engine errors keep their meaning across the boundary.
	if code := api(t, base, "POST", "/sessions/rec-nope/stop", nil, nil); code != http.StatusNotFound {
		t.Errorf("stop of an unknown session through the plugin: %d, want 404", code)
	}
}

func TestExternalPluginIsDiscoveredAndUsed(t *testing.T) {
	f := newFixture(t)
	found, err := Discover(binDir)
	if err != nil || len(found) != 1 || found[0].Name != "ext" {
		t.Fatalf("Discover = %+v, %v", found, err)
	}
	f.load(t, Spec{Name: "ext", Kind: sdk.KindFrontend})
	checkPluginLogLines(t, f.logs.String, "ext: serving", map[string]any{"plugin": "ext", "plugin_time": "at start", "detail": float64(42)})
	var s engine.Session
	if code := api(t, f.endpoint(t, "ext"), "POST", "/sessions", engine.StartRequest{Owner: "agent", Frontend: "ext",
		Source: engine.Source{Display: f.srv.Display}}, &s); code != http.StatusCreated {
		t.Fatalf("start through the external plugin: %d", code)
	}
	if _, err := f.eng.Stop(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
}

// checkPluginLogLines checks the host's JSON log: every line is one JSON object; the plugin's
// line msg (relayed from its stderr) has exactly one time key and one name key, a time in
// the last minute, and the attributes want.
func checkPluginLogLines(t *testing.T, read func() string, msg string, want map[string]any) {
	t.Helper()
	// Relayed from the plugin's stderr, the line may come after the call that made the
	// plugin log it has returned: wait for it.
	var logs string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		logs = read()
		if strings.Contains(logs, fmt.Sprintf("%q:%q", "msg", msg)) || time.Now().After(deadline) {
			break
		}
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		keys, err := logtest.Keys(line)
		if err != nil {
			t.Errorf("log line is not a JSON object: %v: %s", err, line)
			continue
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(line), &m)
		if m["msg"] != msg {
			continue
		}
		found = true
		count := func(names ...string) (n int) {
			for _, k := range keys {
				for _, name := range names {
					n += map[bool]int{true: 1}[k == name]
				}
			}
			return n
		}
		if n := count("time", "timestamp", "@timestamp"); n != 1 {
			t.Errorf("plugin line has %d time keys, want 1: %s", n, line)
		}
		if n := count("plugin", "frontend", "uploader", "name", "@module"); n != 1 {
			t.Errorf("plugin line has %d name keys, want 1: %s", n, line)
		}
		if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["time"])); err != nil || time.Since(at) > time.Minute || time.Since(at) < 0 {
			t.Errorf("plugin line time %v (%v)", m["time"], err)
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("plugin line %s = %v, want %v: %s", k, m[k], v, line)
			}
		}
	}
	if !found {
		t.Errorf("no line %q in the host's log:\n%s", msg, logs)
	}
}

func TestBadConfigStopsEverything(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		spec Spec
		want []string
	}{
		{Spec{Name: "probe", Kind: sdk.KindFrontend, Config: map[string]any{"listen": "nowhere"}, Where: "frontends[0]"},
			[]string{"frontends[0] (probe)", "config.listen", "bad listen address"}},
		{Spec{Name: "probe", Kind: sdk.KindFrontend, Config: map[string]any{"lisen": "127.0.0.1:0"}, Where: "frontends[0]"},
			[]string{"frontends[0] (probe)", "config.lisen"}},
		{Spec{Name: "noop", Kind: sdk.KindFrontend, Where: "frontends[1]"}, []string{"frontends[1] (noop)", "unknown plugin"}},
		{Spec{Name: "ext", Kind: sdk.KindUploader, Where: "uploaders[0]"}, []string{"uploaders[0] (ext)", "is a frontend"}},
		// A secret field deep in a list must be a reference too.
		{Spec{Name: "cloud", Kind: sdk.KindFrontend, Where: "frontends[2]", Config: map[string]any{
			"signing_keys": []map[string]any{{"id": "k1", "key": "an-inline-signing-key-of-32-bytes-or-more"}}}},
			[]string{"frontends[2] (cloud)", "config.signing_keys[0].key", "must be a reference"}},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		// A good adapter first: it must be stopped again when the bad one fails.
		err := f.host.Load(ctx, []Spec{{Name: "noop", Kind: sdk.KindUploader}, c.spec})
		cancel()
		if err == nil {
			t.Fatalf("Load(%+v) succeeded", c.spec)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
	if n := len(f.host.Endpoints()); n != 0 {
		t.Errorf("something serves after failed loads: %v", f.host.Endpoints())
	}
	if kids := children(t); len(kids) != 0 {
		t.Errorf("plugin processes left after failed loads: %v", kids)
	}
}

// children lists this process's live child processes.
func children(t *testing.T) []string {
	t.Helper()
	out, _ := exec.Command("pgrep", "-P", fmt.Sprint(os.Getpid()), "-a").Output()
	var kids []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.Contains(l, "Xvfb") && !strings.Contains(l, "pgrep") {
			kids = append(kids, l)
		}
	}
	sort.Strings(kids)
	return kids
}

func TestInProcessAndOutOfProcessAgree(t *testing.T) {
	f := newFixture(t)
	f.load(t, Spec{Name: "probe", Kind: sdk.KindFrontend, InProcess: true},
		Spec{Name: "noop", Kind: sdk.KindUploader})
	if f.host.Pid(sdk.KindFrontend, "probe") != 0 {
		t.Error("an in-process adapter has a pid")
	}
	var pid struct{ Pid int }
	api(t, f.endpoint(t, "probe"), "GET", "/pid", nil, &pid)
	if pid.Pid != os.Getpid() {
		t.Errorf("in-process probe runs in pid %d, not ours", pid.Pid)
	}
	up, err := f.host.Uploader("noop")
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(t.TempDir(), "seg.mp4")
	os.WriteFile(seg, bytes.Repeat([]byte("x"), 3<<20), 0o644)
	var last sdk.Progress
	res, err := up.Upload(context.Background(), sdk.UploadRequest{SegmentPath: seg, Size: 3 << 20}, func(p sdk.Progress) { last = p })
	if err != nil || res.Bytes != 3<<20 || last.Offset != 3<<20 {
		t.Errorf("upload through the plugin process: %+v %+v %v", res, last, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.host.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.host.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if kids := children(t); len(kids) != 0 {
		t.Errorf("plugin processes left after Close: %v", kids)
	}
}

// Adapters loaded in two steps are each served once: a second Serve starts only the new ones.
func TestServeStartsOnlyNewAdapters(t *testing.T) {
	f := newFixture(t)
	f.load(t, Spec{Name: "probe", Kind: sdk.KindFrontend, InProcess: true})
	first := f.endpoint(t, "probe")
	f.load(t, Spec{Name: "ext", Kind: sdk.KindFrontend})
	if got := f.endpoint(t, "probe"); got != first {
		t.Errorf("probe moved from %s to %s: served twice", first, got)
	}
	var pid struct{ Pid int }
	if api(t, f.endpoint(t, "ext"), "GET", "/pid", nil, &pid); pid.Pid == 0 {
		t.Error("the adapter loaded second does not serve")
	}
}

// Ready names a plugin whose process died until it is back, and says ErrClosed once the host
// is closed.
func TestReadyNamesAPluginThatIsDown(t *testing.T) {
	// Long enough to look at the host between the death and the restart; not parallel, as
	// it changes a package variable.
	old := RestartBackoff
	RestartBackoff = time.Second
	t.Cleanup(func() { RestartBackoff = old })
	f := newFixture(t)
	if err := f.host.Ready(); err != nil {
		t.Errorf("Ready with no adapters = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.host.Load(ctx, []Spec{{Name: "probe", Kind: sdk.KindFrontend, Config: map[string]any{"listen": "127.0.0.1:0"}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.host.Ready(); !errors.Is(err, ErrPluginDown) || !strings.Contains(err.Error(), "probe") {
		t.Errorf("Ready before Serve = %v, want ErrPluginDown naming probe", err)
	}
	if err := f.host.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.host.Ready(); err != nil {
		t.Fatalf("Ready after Serve = %v", err)
	}
	pid := f.host.Pid(sdk.KindFrontend, "probe")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitEvent := func(typ EventType) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-f.host.Events():
				if ev.Type == typ {
					return
				}
			case <-deadline:
				t.Fatalf("no %s event within 10 s", typ)
			}
		}
	}
	waitEvent(EventExited)
	err := f.host.Ready()
	if !errors.Is(err, ErrPluginDown) || !strings.Contains(err.Error(), "frontend (probe)") || !strings.Contains(err.Error(), fmt.Sprint(pid)) {
		t.Errorf("Ready after the plugin died = %v, want ErrPluginDown naming probe and pid %d", err, pid)
	}
	waitEvent(EventRestarted)
	if err := f.host.Ready(); err != nil {
		t.Errorf("Ready after the restart = %v", err)
	}
	if err := f.host.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.host.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close = %v, want ErrClosed", err)
	}
}

// An uploader plugin process's spans reach the host's exporter in the trace of the call that
// caused them: the host's client span, then the plugin's server span as its remote child.
func TestPluginSpansReachTheHost(t *testing.T) {
	f := newFixture(t)
	f.load(t, Spec{Name: "noop", Kind: sdk.KindUploader})
	up, err := f.host.Uploader("noop")
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(t.TempDir(), "seg.mp4")
	os.WriteFile(seg, []byte("data"), 0o644)
	ctx, root := sdktrace.NewTracerProvider().Tracer("t").Start(context.Background(), "upload job")
	if _, err := up.Upload(ctx, sdk.UploadRequest{SegmentPath: seg, Size: 4}, nil); err != nil {
		t.Fatal(err)
	}
	root.End()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.host.Close(cctx); err != nil { // flushes the plugin's telemetry
		t.Fatal(err)
	}
	var client, server tracetest.SpanStub
	for _, s := range f.spans.GetSpans() {
		if s.Name != "recorder.plugin.v1.Uploader/Upload" {
			continue
		}
		switch s.SpanKind {
		case trace.SpanKindClient:
			client = s
		case trace.SpanKindServer:
			server = s
		}
	}
	if client.Parent.SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("host client span %+v, want a child of the caller's span", client)
	}
	if server.SpanContext.TraceID() != root.SpanContext().TraceID() || server.Parent.SpanID() != client.SpanContext.SpanID() {
		t.Errorf("plugin server span %+v, want a remote child of the host's client span", server)
	}
	if v, _ := server.Resource.Set().Value("recorder.plugin"); v.AsString() != "noop" {
		t.Errorf("plugin span resource %v", server.Resource)
	}
}

// A built-in adapter run as a plugin process needs the recorder-builtin binary; without it,
// Load fails before starting anything and names the path it looked for. In-process adapters
// do not need it.
func TestMissingBuiltinExecutableIsNamed(t *testing.T) {
	missing := filepath.Join(t.TempDir(), builtin.Executable)
	h := New(&sdk.MockEngine{}, Options{BuiltinExecutable: missing})
	defer h.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := h.Load(ctx, []Spec{{Name: "noop", Kind: sdk.KindUploader, InProcess: true}, {Name: "probe", Kind: sdk.KindFrontend, Where: "frontends[0]"}})
	if !errors.Is(err, ErrLaunch) || !strings.Contains(err.Error(), missing+", which is missing") || !strings.Contains(err.Error(), "frontends[0] (probe)") {
		t.Fatalf("Load without %s: %v, want ErrLaunch naming the path and the spec", missing, err)
	}
	if err := h.Load(ctx, []Spec{{Name: "probe", Kind: sdk.KindFrontend, InProcess: true}}); err != nil {
		t.Fatalf("in-process Load without %s: %v", missing, err)
	}
}
