package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// None of these tests is parallel: they set OTEL_* variables, and count goroutines and
// listening sockets of the whole process.

// clearOTLPEnv unsets every variable that would make Setup export, for the test's duration.
func clearOTLPEnv(t *testing.T) {
	for _, k := range []string{EnvEndpoint, EnvTracesEndpoint, EnvMetricsEndpoint, EnvProtocol,
		EnvTracesProtocol, EnvMetricsProtocol, "OTEL_SDK_DISABLED"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// listeners returns the inodes of this process's listening TCP sockets: those in state 0A in
// /proc/self/net/tcp and tcp6 (which list the whole network namespace, other programs' too)
// that are among its fds.
func listeners(t *testing.T) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list fds: %v", err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Skipf("no %s: %v", f, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) > 9 && fs[3] == "0A" && mine[fs[9]] {
				out = append(out, fs[9])
			}
		}
	}
	sort.Strings(out)
	return out
}

// settledGoroutines is the goroutine count once goroutines that are ending have ended.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(10 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// Disabled telemetry starts nothing even with OTLP configured: no goroutine, no listener, no
// metrics handler, no-op providers. The same measure sees what enabled telemetry starts, so
// it is one that can fail.
func TestDisabledStartsNothing(t *testing.T) {
	clearOTLPEnv(t)
	t.Setenv(EnvEndpoint, "http://127.0.0.1:1")
	t.Setenv(EnvProtocol, ProtocolGRPC)
	ctx := context.Background()

	beforeG, beforeL := settledGoroutines(), listeners(t)
	tel, err := Setup(ctx, Config{Enabled: false, Traces: true, Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	// Use it as a program would.
	_, span := tel.TracerProvider().Tracer("t").Start(ctx, "s")
	span.End()
	c, _ := tel.MeterProvider().Meter("t").Int64Counter("c")
	c.Add(ctx, 1)
	tel.SetGlobal()
	if g := settledGoroutines(); g != beforeG {
		t.Errorf("disabled telemetry left %d goroutines running (%d before)", g-beforeG, beforeG)
	}
	if l := listeners(t); strings.Join(l, ",") != strings.Join(beforeL, ",") {
		t.Errorf("disabled telemetry listens: %v, before %v", l, beforeL)
	}
	if tel.MetricsHandler() != nil || tel.Relay() != nil || tel.Enabled() {
		t.Errorf("disabled: handler %v, relay %v, enabled %v", tel.MetricsHandler(), tel.Relay(), tel.Enabled())
	}
	if _, ok := tel.TracerProvider().(tracenoop.TracerProvider); !ok {
		t.Errorf("disabled tracer provider is a %T", tel.TracerProvider())
	}
	if _, ok := tel.MeterProvider().(metricnoop.MeterProvider); !ok {
		t.Errorf("disabled meter provider is a %T", tel.MeterProvider())
	}
	if err := tel.Shutdown(ctx); err != nil {
		t.Error(err)
	}

	// OTEL_SDK_DISABLED wins over the config.
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if tel, err := Setup(ctx, Config{Enabled: true, Traces: true, Metrics: true}); err != nil || tel.Enabled() || tel.MetricsHandler() != nil {
		t.Errorf("OTEL_SDK_DISABLED=true: enabled %v, handler %v, %v", tel.Enabled(), tel.MetricsHandler(), err)
	}
	os.Unsetenv("OTEL_SDK_DISABLED")

	// The control: enabled, the OTLP exporters' batch processor and periodic reader run.
	tel, err = Setup(ctx, Config{Enabled: true, Traces: true, Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	if g := settledGoroutines(); g <= beforeG {
		t.Errorf("enabled telemetry with OTLP runs no goroutine (%d, %d before): the measure is blind", g, beforeG)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = tel.Shutdown(sctx) // the collector at 127.0.0.1:1 does not exist
	if g := settledGoroutines(); g > beforeG+2 {
		t.Errorf("%d goroutines left after Shutdown (%d before)", g-beforeG, beforeG)
	}
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// Metrics of this process and of a plugin (through the relay) are on the Prometheus handler,
// each plugin's labelled with its name; a closed source's go away.
func TestMetricsHandlerAndRelay(t *testing.T) {
	clearOTLPEnv(t)
	ctx := context.Background()
	tel, err := Setup(ctx, Config{Enabled: true, Metrics: true, ServiceName: "rec-test", ServiceVersion: "9.9"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	c, err := tel.MeterProvider().Meter("test").Int64Counter("test.things", metric.WithUnit("{thing}"))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 3, metric.WithAttributes(attribute.String("kind", "a")))

	src := tel.Relay().Source("srs")
	now := time.Now()
	err = src.ExportMetrics(ctx, &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{
		Scope: instrumentation.Scope{Name: "plugin-scope"},
		Metrics: []metricdata.Metrics{{Name: "plugin.requests", Unit: "{request}", Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(attribute.Int("status", 200)),
				StartTime: now.Add(-time.Minute), Time: now, Value: 7}}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	body := scrape(t, tel.MetricsHandler())
	for _, want := range []string{
		`test_things_total{kind="a",otel_scope_name="test"`,
		`plugin_requests_total{otel_scope_name="plugin-scope",otel_scope_schema_url="",otel_scope_version="",plugin="srs",status="200"} 7`,
		`service_name="rec-test"`, `service_version="9.9"`,
		"process_cpu_seconds_total", "go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
	src.Close()
	if body := scrape(t, tel.MetricsHandler()); strings.Contains(body, "plugin_requests_total") {
		t.Errorf("a closed source's metrics are still served:\n%s", body)
	}
}

// Spans relayed from another process reach the span processors, as they were.
func TestRelaySpans(t *testing.T) {
	clearOTLPEnv(t)
	ctx := context.Background()
	mem := tracetest.NewInMemoryExporter()
	tel, err := Setup(ctx, Config{Enabled: true, Traces: true}, WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(mem)))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	if tel.MetricsHandler() != nil {
		t.Error("metrics off, yet a metrics handler")
	}
	ctx, local := tel.TracerProvider().Tracer("t").Start(ctx, "local")
	remote := tracetest.SpanStub{Name: "remote", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: local.SpanContext().TraceID(), SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled}),
		Parent: local.SpanContext(), StartTime: time.Now(), EndTime: time.Now()}
	if err := tel.Relay().Source("srs").ExportSpans(ctx, []sdktrace.ReadOnlySpan{remote.Snapshot()}); err != nil {
		t.Fatal(err)
	}
	local.End()
	got := mem.GetSpans()
	if len(got) != 2 || got[0].Name != "remote" || got[0].Parent.SpanID() != local.SpanContext().SpanID() || got[1].Name != "local" {
		t.Errorf("spans = %+v", got)
	}
}

// Log lines written inside a span carry its ids at the top level, with or without groups.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil)))
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("t").Start(context.Background(), "s")
	defer span.End()
	sc := span.SpanContext()

	log.InfoContext(ctx, "plain", "a", 1)
	log.With("plugin", "srs").WithGroup("http").InfoContext(ctx, "grouped", "status", 200)
	log.Info("no context")
	log.InfoContext(context.Background(), "no span")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("lines = %q", lines)
	}
	ids := `"trace_id":"` + sc.TraceID().String() + `","span_id":"` + sc.SpanID().String() + `"`
	if !strings.Contains(lines[0], `"a":1,`+ids) {
		t.Errorf("plain line: %s", lines[0])
	}
	if !strings.Contains(lines[1], ids+`,"plugin":"srs","http":{"status":200}`) {
		t.Errorf("grouped line: %s", lines[1])
	}
	for _, l := range lines[2:] {
		if strings.Contains(l, "trace_id") {
			t.Errorf("line without a span has ids: %s", l)
		}
	}
}

// An OTLP protocol Setup cannot use is an error naming the variable.
func TestBadProtocol(t *testing.T) {
	clearOTLPEnv(t)
	t.Setenv(EnvTracesEndpoint, "http://127.0.0.1:1")
	t.Setenv(EnvTracesProtocol, "http/json")
	_, err := Setup(context.Background(), Config{Enabled: true, Traces: true, Metrics: true})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "$"+EnvTracesProtocol) {
		t.Errorf("Setup = %v, want ErrConfig naming %s", err, EnvTracesProtocol)
	}
}

// collector is an OTLP gRPC trace collector on loopback.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.names = append(c.names, s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// With the standard variables set, spans go to an OTLP/gRPC collector and metrics to an
// OTLP/HTTP one.
func TestOTLPExport(t *testing.T) {
	clearOTLPEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, col)
	go gs.Serve(ln)
	defer gs.Stop()
	var mu sync.Mutex
	var metricPosts int
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/metrics" {
			mu.Lock()
			metricPosts++
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer hs.Close()
	t.Setenv(EnvTracesEndpoint, "http://"+ln.Addr().String())
	t.Setenv(EnvTracesProtocol, ProtocolGRPC)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true")
	t.Setenv(EnvMetricsEndpoint, hs.URL+"/v1/metrics")
	t.Setenv(EnvMetricsProtocol, ProtocolHTTPProtobuf)

	ctx := context.Background()
	tel, err := Setup(ctx, Config{Enabled: true, Traces: true, Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider().Tracer("t").Start(ctx, "exported")
	span.End()
	c, _ := tel.MeterProvider().Meter("t").Int64Counter("exported.count")
	c.Add(ctx, 1)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	names := col.names
	col.mu.Unlock()
	if len(names) != 1 || names[0] != "exported" {
		t.Errorf("the gRPC collector got spans %v", names)
	}
	mu.Lock()
	defer mu.Unlock()
	if metricPosts == 0 {
		t.Error("the HTTP collector got no metrics")
	}
}

// No unbounded label values: the gRPC instrumentation's server.address (a plugin's random
// socket path) and any peer address are dropped from metrics; bounded attributes stay.
func TestMetricsDropUnboundedLabels(t *testing.T) {
	clearOTLPEnv(t)
	ctx := context.Background()
	tel, err := Setup(ctx, Config{Enabled: true, Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	h, err := tel.MeterProvider().Meter(otelgrpc.ScopeName).Float64Histogram("rpc.client.call.duration", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	h.Record(ctx, 0.01, metric.WithAttributes(attribute.String("server.address", "/tmp/plugin3662521234"),
		attribute.String("rpc.method", "recorder.plugin.v1.Base/Info")))
	c, err := tel.MeterProvider().Meter("test").Int64Counter("test.requests")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 1, metric.WithAttributes(attribute.String("server.address", "desk.example"),
		attribute.String("client.address", "10.1.2.3"), attribute.Int("network.peer.port", 51234)))
	body := scrape(t, tel.MetricsHandler())
	for _, bad := range []string{"/tmp/plugin", "10.1.2.3", "51234"} {
		if strings.Contains(body, bad) {
			t.Errorf("scrape has the unbounded value %q:\n%s", bad, body)
		}
	}
	for _, want := range []string{`rpc_method="recorder.plugin.v1.Base/Info"`, `server_address="desk.example"`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
}

// OTEL_METRIC_EXPORT_INTERVAL sets the interval plugin processes are given; the resource
// Setup resolved (OTEL_SERVICE_NAME over the config's name) is what Resource returns.
func TestMetricsIntervalAndResourceFromEnv(t *testing.T) {
	clearOTLPEnv(t)
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "1234")
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	ctx := context.Background()
	tel, err := Setup(ctx, Config{Enabled: true, Metrics: true, ServiceName: "rec-test", ServiceVersion: "9.9"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	if got := tel.Config().MetricsInterval; got != 1234*time.Millisecond {
		t.Errorf("MetricsInterval = %v, want 1.234s", got)
	}
	set := tel.Resource().Set()
	if v, _ := set.Value("service.name"); v.AsString() != "from-env" {
		t.Errorf("service.name = %v, want from-env", v)
	}
	if v, _ := set.Value("service.version"); v.AsString() != "9.9" {
		t.Errorf("service.version = %v, want 9.9", v)
	}
}
