package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/screenrec/recorder/pkg/telemetry/metricview"
	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

// Telemetry across the plugin boundary.
//
// Trace context. Both ends of a plugin connection carry OpenTelemetry's gRPC instrumentation
// (otelgrpc stats handlers), which puts W3C trace context in the gRPC metadata of every
// plugin-protocol call and takes it out on the other side: host → plugin (Base, Frontend,
// Uploader) and plugin → host (the Engine service a front end calls back over the broker). A
// front end's HTTP request (its span in the plugin process) → Engine.Start (a client span in
// the plugin, a server span in the host) → the engine's session span are one trace. The host
// side is traced with the providers given to WithTracing; the plugin side with the plugin
// process's global providers, which Telemetry sets up.
//
// Spans and metrics of the plugin process. The plugin process has providers of its own; its
// exporters are OpenTelemetry's own OTLP/gRPC exporters, sending over a go-plugin broker
// connection to the host, where the sdk serves the OTLP collector services. That service turns
// what arrives back into SDK types (sdktrace.ReadOnlySpan, metricdata.ResourceMetrics) and
// hands them to the host's TelemetrySink (pkg/telemetry's Relay), which re-emits spans into
// the host's span processors and serves the metrics to the host's readers. So an exporter the
// host has (OTLP, Prometheus, a test's in-memory one) sees the plugin's spans and metrics as
// if they were the host's, and the plugin needs no collector address, no credentials and no
// listener of its own. The host connects a plugin with ConnectTelemetry (Base.Telemetry) and
// asks it to flush before stopping it (FlushTelemetry); a plugin the host never connects
// records nothing (its globals stay OpenTelemetry's no-ops).
//
// The telemetry calls themselves and go-plugin's internal services (broker, controller,
// stdio) are not traced: tracing the export of spans would make spans to export.

// propagator carries trace context across the boundary, whatever the globals say.
var propagator = propagation.TraceContext{}

// DefaultMetricsInterval is how often a plugin process exports its metrics to the host, when
// TelemetryOptions does not say. A scrape of the host sees a plugin's metrics this old at most
// (FlushTelemetry exports at once).
const DefaultMetricsInterval = 5 * time.Second

// exitFlushTimeout bounds the last export of a plugin process on its way out.
const exitFlushTimeout = 500 * time.Millisecond

// spanBatchTimeout is how long a plugin process holds ended spans before sending them: short,
// as the host is local and its own batch processor batches again.
const spanBatchTimeout = 200 * time.Millisecond

// traced selects the RPCs the gRPC instrumentation traces: the plugin protocol's, but not the
// telemetry calls nor go-plugin's internal services.
func traced(info *stats.RPCTagInfo) bool {
	m := info.FullMethodName
	return strings.HasPrefix(m, "/recorder.plugin.v1.") &&
		m != pb.Base_Telemetry_FullMethodName && m != pb.Base_FlushTelemetry_FullMethodName
}

// hostTracing is what the host's side of a plugin connection is traced and measured with.
type hostTracing struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

func (h *hostTracing) options() []otelgrpc.Option {
	return []otelgrpc.Option{otelgrpc.WithTracerProvider(h.tp), otelgrpc.WithMeterProvider(h.mp),
		otelgrpc.WithPropagators(propagator), otelgrpc.WithFilter(traced)}
}

// clientHandler instruments the host's calls into the plugin; nil h: none.
func (h *hostTracing) dialOptions() []grpc.DialOption {
	if h == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(h.options()...))}
}

// serverOptions instrument the services the host serves to the plugin over the broker.
func (h *hostTracing) serverOptions() []grpc.ServerOption {
	if h == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(h.options()...))}
}

// ClientOption tunes ClientConfig.
type ClientOption func(*clientOptions)

type clientOptions struct {
	tracing *hostTracing
}

// WithTracing traces and measures the host's side of the plugin connection with tp and mp:
// its calls into the plugin and the Engine calls a front end makes back, carrying W3C trace
// context both ways. Without it the host side carries none (the plugin side still does).
func WithTracing(tp trace.TracerProvider, mp metric.MeterProvider) ClientOption {
	return func(o *clientOptions) {
		if tp == nil {
			tp = otel.GetTracerProvider()
		}
		if mp == nil {
			mp = otel.GetMeterProvider()
		}
		o.tracing = &hostTracing{tp: tp, mp: mp}
	}
}

// TelemetrySink takes in what a plugin process reports (pkg/telemetry's Source is one).
type TelemetrySink interface {
	// ExportSpans receives spans the plugin process ended.
	ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error
	// ExportMetrics receives the plugin process's metrics: every instrument's cumulative
	// state, replacing what the previous call brought.
	ExportMetrics(ctx context.Context, rm *metricdata.ResourceMetrics) error
}

// TelemetryOptions say what a plugin process reports.
type TelemetryOptions struct {
	// ServiceName is its resource's service.name (the host's, usually).
	ServiceName string
	// Traces and Metrics say what it records and sends.
	Traces, Metrics bool
	// MetricsInterval is how often it sends metrics (default DefaultMetricsInterval).
	MetricsInterval time.Duration
	// Resource is the host's resource, which the plugin process reports with (its own
	// process attributes and recorder.plugin aside), so that one trace shows one service.
	// It reaches the process at launch, in the environment (ResourceEnv); nil: the plugin's
	// resource has ServiceName alone.
	Resource *resource.Resource
}

// EnvResource is the environment variable that carries the host's resource to a plugin
// process: a JSON object of attribute keys to values (strings, numbers, booleans).
const EnvResource = "RECORDER_PLUGIN_RESOURCE"

// ResourceEnv returns the EnvResource=… entry for a plugin process's environment carrying
// res, without its process.* attributes (the plugin process has its own); "" for nil.
func ResourceEnv(res *resource.Resource) string {
	if res == nil {
		return ""
	}
	m := map[string]any{}
	for _, kv := range res.Attributes() {
		if strings.HasPrefix(string(kv.Key), "process.") {
			continue
		}
		switch kv.Value.Type() {
		case attribute.BOOL, attribute.INT64, attribute.FLOAT64, attribute.STRING:
			m[string(kv.Key)] = kv.Value.AsInterface()
		default: // slices: a resource from the environment has none
			m[string(kv.Key)] = kv.Value.String()
		}
	}
	b, _ := json.Marshal(m) // scalars always marshal
	return EnvResource + "=" + string(b)
}

// resourceFromEnv reads the host's resource attributes from EnvResource; none when unset or
// malformed (logged).
func resourceFromEnv() []attribute.KeyValue {
	raw := os.Getenv(EnvResource)
	if raw == "" {
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		slog.Warn("sdk: telemetry: $"+EnvResource+" is not a JSON object; reporting without the host's resource", "err", err)
		return nil
	}
	out := make([]attribute.KeyValue, 0, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out = append(out, attribute.String(k, v))
		case bool:
			out = append(out, attribute.Bool(k, v))
		case json.Number:
			if n, err := v.Int64(); err == nil {
				out = append(out, attribute.Int64(k, n))
			} else if f, err := v.Float64(); err == nil {
				out = append(out, attribute.Float64(k, f))
			}
		}
	}
	return out
}

// telemetryClient is implemented by the host-side clients of plugin processes.
type telemetryClient interface {
	connectTelemetry(ctx context.Context, sink TelemetrySink, opts TelemetryOptions) error
	flushTelemetry(ctx context.Context) error
}

// ConnectTelemetry serves sink to the plugin p (a client from Dispense) over the go-plugin
// broker and asks the plugin to send its spans and metrics there from now on. A plugin that
// does not support it, or a p that is not a plugin process's client (an in-process adapter,
// which uses the host's providers directly), gives an error wrapping errors.ErrUnsupported.
// The service lasts as long as the plugin's connection.
func ConnectTelemetry(ctx context.Context, p Plugin, sink TelemetrySink, opts TelemetryOptions) error {
	c, ok := p.(telemetryClient)
	if !ok {
		return fmt.Errorf("sdk: telemetry of a %T: %w", p, errors.ErrUnsupported)
	}
	return c.connectTelemetry(ctx, sink, opts)
}

// FlushTelemetry asks the plugin p to send the spans and metrics it holds now; a plugin never
// connected, or without support, has nothing to send.
func FlushTelemetry(ctx context.Context, p Plugin) error {
	c, ok := p.(telemetryClient)
	if !ok {
		return nil
	}
	return c.flushTelemetry(ctx)
}

func (c *baseClient) connectTelemetry(ctx context.Context, sink TelemetrySink, opts TelemetryOptions) error {
	if c.broker == nil {
		return fmt.Errorf("sdk: telemetry: no broker: %w", errors.ErrUnsupported)
	}
	if opts.MetricsInterval <= 0 {
		opts.MetricsInterval = DefaultMetricsInterval
	}
	id := c.broker.NextId()
	var mu sync.Mutex
	var srv *grpc.Server
	stopped := false
	// Uninstrumented: spans about exporting spans would never end.
	go c.broker.AcceptAndServe(id, func(sopts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(sopts...)
		coltracepb.RegisterTraceServiceServer(s, &traceCollector{sink: sink})
		colmetricpb.RegisterMetricsServiceServer(s, &metricsCollector{sink: sink})
		mu.Lock()
		defer mu.Unlock()
		srv = s
		if stopped {
			s.Stop()
		}
		return s
	})
	_, err := c.client.Telemetry(ctx, &pb.TelemetryRequest{BrokerId: id, ServiceName: opts.ServiceName,
		Traces: opts.Traces, Metrics: opts.Metrics, MetricsIntervalNanos: int64(opts.MetricsInterval)})
	if err != nil {
		mu.Lock()
		stopped = true
		if srv != nil {
			srv.Stop()
		}
		mu.Unlock()
		if status.Code(err) == codes.Unimplemented {
			return fmt.Errorf("sdk: the plugin reports no telemetry: %w", errors.ErrUnsupported)
		}
		return pluginErr(ctx, err)
	}
	return nil
}

func (c *baseClient) flushTelemetry(ctx context.Context) error {
	_, err := c.client.FlushTelemetry(ctx, &pb.FlushTelemetryRequest{})
	if status.Code(err) == codes.Unimplemented {
		return nil
	}
	if err != nil {
		return pluginErr(ctx, err)
	}
	return nil
}

// traceCollector is the host's OTLP trace service for one plugin.
type traceCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	sink TelemetrySink
}

func (c *traceCollector) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	if err := c.sink.ExportSpans(ctx, spansFromOTLP(req.GetResourceSpans())); err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// metricsCollector is the host's OTLP metrics service for one plugin.
type metricsCollector struct {
	colmetricpb.UnimplementedMetricsServiceServer
	sink TelemetrySink
}

func (c *metricsCollector) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	if err := c.sink.ExportMetrics(ctx, metricsFromOTLP(req.GetResourceMetrics())); err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

// pluginTelemetry is the telemetry of a plugin process, set up when the host connects it.
type pluginTelemetry struct {
	// global makes the providers the process's OpenTelemetry globals: what the plugin's own
	// instrumentation (an HTTP middleware, say) and the sdk's gRPC instrumentation use. Only
	// Serve sets it: a harness in a test process leaves the test's globals alone.
	global bool

	mu   sync.Mutex
	conn *grpc.ClientConn
	tp   *sdktrace.TracerProvider
	mp   *sdkmetric.MeterProvider
}

// connect dials the host's collector and starts the providers.
func (t *pluginTelemetry) connect(ctx context.Context, broker *plugin.GRPCBroker, name string, req *pb.TelemetryRequest) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		return errors.New("sdk: telemetry is connected already")
	}
	conn, err := dialBroker(ctx, broker, req.GetBrokerId(), "telemetry collector")
	if err != nil {
		return err
	}
	// The host's resource (service name and version, host name, what its environment added),
	// then what is this process's own.
	attrs := append([]attribute.KeyValue{semconv.ServiceName(req.GetServiceName())}, resourceFromEnv()...)
	attrs = append(attrs, attribute.String("recorder.plugin", name), semconv.ProcessPID(os.Getpid()))
	res := resource.NewWithAttributes(semconv.SchemaURL, attrs...)
	var tp *sdktrace.TracerProvider
	var mp *sdkmetric.MeterProvider
	if req.GetTraces() {
		// No retries: the collector is the host, on this machine; if it does not answer it
		// is gone.
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithGRPCConn(conn), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{}))
		if err != nil {
			_ = conn.Close()
			return fmt.Errorf("sdk: telemetry: %w", err)
		}
		tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
			sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(spanBatchTimeout)))
	}
	if req.GetMetrics() {
		exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithGRPCConn(conn), otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{}))
		if err != nil {
			if tp != nil {
				_ = tp.Shutdown(ctx)
			}
			_ = conn.Close()
			return fmt.Errorf("sdk: telemetry: %w", err)
		}
		every := time.Duration(req.GetMetricsIntervalNanos())
		if every <= 0 {
			every = DefaultMetricsInterval
		}
		mp = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithView(metricview.Bounded()),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(every))))
	}
	t.conn, t.tp, t.mp = conn, tp, mp
	if t.global {
		if tp != nil {
			otel.SetTracerProvider(tp)
		}
		if mp != nil {
			otel.SetMeterProvider(mp)
		}
		otel.SetTextMapPropagator(propagator)
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { slog.Warn("sdk: telemetry", "err", err) }))
	}
	return nil
}

// flush exports what the providers hold.
func (t *pluginTelemetry) flush(ctx context.Context) error {
	t.mu.Lock()
	tp, mp := t.tp, t.mp
	t.mu.Unlock()
	var errs []error
	if tp != nil {
		errs = append(errs, tp.ForceFlush(ctx))
	}
	if mp != nil {
		errs = append(errs, mp.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// shutdown flushes and stops the providers and closes the connection; idempotent.
func (t *pluginTelemetry) shutdown(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tp != nil {
		_ = t.tp.Shutdown(ctx)
	}
	if t.mp != nil {
		_ = t.mp.Shutdown(ctx)
	}
	if t.conn != nil {
		_ = t.conn.Close()
	}
	t.tp, t.mp, t.conn = nil, nil, nil
}

// pluginServerHandler instruments a plugin process's gRPC server with the global providers
// (no-ops until the host connects telemetry). The host measures both ends of every call, so
// the plugin side records spans only.
func pluginServerHandler() grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithPropagators(propagator),
		otelgrpc.WithFilter(traced), otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider())))
}

// pluginClientHandler instruments a plugin's calls to the host's Engine the same way.
func pluginClientHandler() grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithPropagators(propagator),
		otelgrpc.WithFilter(traced), otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider())))
}
