package sdk

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/screenrec/recorder/internal/waittest"
)

// sink collects what a plugin reports.
type sink struct {
	mu      sync.Mutex
	spans   []sdktrace.ReadOnlySpan
	metrics []*metricdata.ResourceMetrics
}

func (s *sink) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans = append(s.spans, spans...)
	return nil
}

func (s *sink) ExportMetrics(_ context.Context, rm *metricdata.ResourceMetrics) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = append(s.metrics, rm)
	return nil
}

func (s *sink) stubs() tracetest.SpanStubs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return tracetest.SpanStubsFromReadOnlySpans(s.spans)
}

func (s *sink) lastMetrics() *metricdata.ResourceMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.metrics) == 0 {
		return nil
	}
	return s.metrics[len(s.metrics)-1]
}

// collectorConn serves the host's collector services for snk on loopback and returns a
// connection to them.
func collectorConn(t *testing.T, snk TelemetrySink) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, &traceCollector{sink: snk})
	colmetricpb.RegisterMetricsServiceServer(srv, &metricsCollector{sink: snk})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Spans exported by OpenTelemetry's own OTLP exporter come out of the host's collector as they
// went in: ids, parent, kind, times, attributes of every type, events, links, status,
// resource and scope.
func TestSpansSurviveOTLP(t *testing.T) {
	t.Parallel()
	snk := &sink{}
	conn := collectorConn(t, snk)
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	mem := tracetest.NewInMemoryExporter()
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.41.0", attribute.String("service.name", "rec"), attribute.String("recorder.plugin", "srs"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSyncer(exp), sdktrace.WithSyncer(mem))
	tr := tp.Tracer("scope-a", trace.WithInstrumentationVersion("1.2"))
	other := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{8}, TraceFlags: trace.FlagsSampled})
	remoteParent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2}, SpanID: trace.SpanID{3, 4}, TraceFlags: trace.FlagsSampled, Remote: true})
	ctx, root := tr.Start(trace.ContextWithRemoteSpanContext(ctx, remoteParent), "GET /api/v2/me", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("s", "x"), attribute.Bool("b", true), attribute.Int64("i", 42), attribute.Float64("f", 0.5),
			attribute.StringSlice("ss", []string{"a", "b"}), attribute.Int64Slice("is", []int64{1, 2}), attribute.BoolSlice("bs", []bool{true}),
			attribute.Float64Slice("fs", []float64{1.5})),
		trace.WithLinks(trace.Link{SpanContext: other, Attributes: []attribute.KeyValue{attribute.String("why", "stop")}}))
	root.AddEvent("state changed", trace.WithAttributes(attribute.String("to", "recording")))
	_, child := tr.Start(ctx, "Engine/Start", trace.WithSpanKind(trace.SpanKindClient))
	child.SetStatus(otelcodes.Error, "boom")
	child.End()
	root.SetStatus(otelcodes.Ok, "")
	root.End()
	want := mem.GetSpans() // Shutdown empties the in-memory exporter
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := snk.stubs()
	if len(got) != len(want) {
		t.Fatalf("got %d spans, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.Name != w.Name || !g.SpanContext.Equal(w.SpanContext) || g.Parent.SpanID() != w.Parent.SpanID() ||
			g.Parent.TraceID() != w.Parent.TraceID() || g.Parent.IsRemote() != w.Parent.IsRemote() || g.SpanKind != w.SpanKind ||
			!g.StartTime.Equal(w.StartTime) || !g.EndTime.Equal(w.EndTime) || g.Status != w.Status {
			t.Errorf("span %d:\n got %+v\nwant %+v", i, g, w)
		}
		if attribute.NewSet(g.Attributes...) != attribute.NewSet(w.Attributes...) {
			t.Errorf("span %d attributes %v, want %v", i, g.Attributes, w.Attributes)
		}
		if len(g.Events) != len(w.Events) || (len(g.Events) > 0 && (g.Events[0].Name != w.Events[0].Name ||
			!g.Events[0].Time.Equal(w.Events[0].Time) || attribute.NewSet(g.Events[0].Attributes...) != attribute.NewSet(w.Events[0].Attributes...))) {
			t.Errorf("span %d events %+v, want %+v", i, g.Events, w.Events)
		}
		if len(g.Links) != len(w.Links) || (len(g.Links) > 0 && (!g.Links[0].SpanContext.Equal(w.Links[0].SpanContext) ||
			attribute.NewSet(g.Links[0].Attributes...) != attribute.NewSet(w.Links[0].Attributes...))) {
			t.Errorf("span %d links %+v, want %+v", i, g.Links, w.Links)
		}
		if g.Resource.Equivalent() != w.Resource.Equivalent() || g.Resource.SchemaURL() != w.Resource.SchemaURL() ||
			g.InstrumentationScope.Name != "scope-a" || g.InstrumentationScope.Version != "1.2" {
			t.Errorf("span %d resource %v scope %+v", i, g.Resource, g.InstrumentationScope)
		}
	}
}

// Metrics exported by OpenTelemetry's own OTLP exporter come out of the host's collector as
// they went in: int and float sums, gauges and histograms, with their attributes.
func TestMetricsSurviveOTLP(t *testing.T) {
	t.Parallel()
	snk := &sink{}
	conn := collectorConn(t, snk)
	ctx := context.Background()
	exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m := mp.Meter("scope-m")
	c, _ := m.Int64Counter("requests", metric.WithUnit("{request}"), metric.WithDescription("Requests."))
	c.Add(ctx, 3, metric.WithAttributes(attribute.Int("status", 200), attribute.String("route", "/ping")))
	f, _ := m.Float64UpDownCounter("level")
	f.Add(ctx, -1.5)
	g, _ := m.Int64Gauge("queue")
	g.Record(ctx, 7)
	h, _ := m.Float64Histogram("duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.01, 0.1, 1))
	h.Record(ctx, 0.05)
	h.Record(ctx, 2)
	var want metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &want); err != nil {
		t.Fatal(err)
	}
	if err := exp.Export(ctx, &want); err != nil {
		t.Fatal(err)
	}
	got := snk.lastMetrics()
	if got == nil || len(got.ScopeMetrics) != 1 || len(got.ScopeMetrics[0].Metrics) != 4 {
		t.Fatalf("got %+v", got)
	}
	if got.ScopeMetrics[0].Scope.Name != "scope-m" {
		t.Errorf("scope %+v", got.ScopeMetrics[0].Scope)
	}
	for i, w := range want.ScopeMetrics[0].Metrics {
		metricdatatest.AssertEqual(t, w, got.ScopeMetrics[0].Metrics[i])
	}
}

// A real plugin process, served by Serve: once the host connects its telemetry, a host call
// carries the host's trace into the plugin; the plugin's spans (its gRPC server span and its
// own), its log line inside a span, and its metrics come back to the host, in that trace.
func TestTelemetry_Subprocess(t *testing.T) {
	t.Parallel()
	bin := buildUploaderPlugin(t)
	var logs syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Output: &logs, Level: hclog.Debug, JSONFormat: true})
	hostSpans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(hostSpans))
	mp := sdkmetric.NewMeterProvider()
	client := plugin.NewClient(ClientConfig(exec.Command(bin), KindUploader, logger, WithTracing(tp, mp)))
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start the plugin: %v", err)
	}
	p, err := Dispense(rpc, KindUploader)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	snk := &sink{}
	if err := ConnectTelemetry(ctx, p, snk, TelemetryOptions{ServiceName: "rec", Traces: true, Metrics: true, MetricsInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := ConnectTelemetry(ctx, p, snk, TelemetryOptions{Traces: true}); err == nil {
		t.Error("a second ConnectTelemetry succeeded")
	}

	uctx, root := tp.Tracer("test").Start(ctx, "upload job")
	_, err = p.(Uploader).Upload(uctx, UploadRequest{JobID: 5, Size: 10}, func(Progress) {})
	root.End()
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("Upload = %v", err)
	}
	// The plugin's server span ends once the answer has gone (gRPC's end-of-call event), so
	// a flush sent at once may overtake it: flush until it is there.
	waittest.Until(t, "the plugin's server span", 30*time.Second, func() (bool, []string) {
		if err := FlushTelemetry(ctx, p); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range snk.stubs() {
			names = append(names, s.Name)
		}
		return slices.Contains(names, "recorder.plugin.v1.Uploader/Upload"), names
	})

	tid := root.SpanContext().TraceID()
	var hostClient tracetest.SpanStub
	for _, s := range hostSpans.GetSpans() {
		if s.Name == "recorder.plugin.v1.Uploader/Upload" {
			hostClient = s
		}
	}
	if hostClient.SpanKind != trace.SpanKindClient || hostClient.Parent.SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("host's client span %+v, want a child of the test's span", hostClient)
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range snk.stubs() {
		byName[s.Name] = s
	}
	server, work := byName["recorder.plugin.v1.Uploader/Upload"], byName["upload work"]
	if server.SpanContext.TraceID() != tid || server.SpanKind != trace.SpanKindServer ||
		server.Parent.SpanID() != hostClient.SpanContext.SpanID() || !server.Parent.IsRemote() {
		t.Errorf("plugin's server span %+v, want a remote child of the host's client span %v", server, hostClient.SpanContext)
	}
	if work.SpanContext.TraceID() != tid || work.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("plugin's own span %+v, want a child of its server span", work)
	}
	if v, _ := work.Resource.Set().Value("recorder.plugin"); v.AsString() != "exec-test" {
		t.Errorf("plugin span resource %v", work.Resource)
	}
	for name := range byName {
		if name != "recorder.plugin.v1.Uploader/Upload" && name != "upload work" {
			t.Errorf("unexpected plugin span %q (go-plugin's own services or telemetry calls must not be traced)", name)
		}
	}

	rm := snk.lastMetrics()
	var uploads int64 = -1
	if rm != nil {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "exec_test.uploads" && len(s.DataPoints) == 1 {
					uploads = s.DataPoints[0].Value
				}
			}
		}
	}
	if uploads != 1 {
		t.Errorf("the plugin's counter reached the host as %d, want 1 (%+v)", uploads, rm)
	}

	// The plugin's log line written inside its span carries the trace's ids to the host's log.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found map[string]any
		for _, l := range logs.lines() {
			if l["@message"] == "uploading" {
				found = l
			}
		}
		if found != nil {
			if found["trace_id"] != tid.String() || found["span_id"] != work.SpanContext.SpanID().String() {
				t.Errorf("plugin log line %v, want trace_id %s span_id %s", found, tid, work.SpanContext.SpanID())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin's log line never reached the host:\n%s", logs.buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A plugin under the in-memory harness (not a process of Serve) does not support telemetry;
// an in-process adapter cannot be connected at all.
func TestTelemetryUnsupported(t *testing.T) {
	t.Parallel()
	up := TestUploader(t, &MockUploader{})
	ctx := testCtx(t)
	if err := ConnectTelemetry(ctx, up, &sink{}, TelemetryOptions{Traces: true}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("harness: %v, want ErrUnsupported", err)
	}
	if err := FlushTelemetry(ctx, up); err != nil {
		t.Errorf("flush of a plugin without telemetry: %v", err)
	}
	if err := ConnectTelemetry(ctx, &MockUploader{}, &sink{}, TelemetryOptions{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("in-process: %v, want ErrUnsupported", err)
	}
}
