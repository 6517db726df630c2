// Package telemetry sets up the recorder's OpenTelemetry once: a tracer provider and a meter
// provider with the service's resource, a Prometheus exposition of the metrics for an admin
// listener to serve at /metrics, OTLP export when the standard OTEL_EXPORTER_OTLP_* variables
// ask for it, W3C trace-context propagation, a slog handler that stamps log lines written
// inside a span with its ids, and a Relay that brings the spans and metrics of plugin
// processes into this process's pipeline.
//
// What goes where:
//
//	engine, host, in-process adapters ──► TracerProvider ──► span processors ──► OTLP (if set)
//	plugin processes ──(OTLP over the go-plugin broker)──► Relay ─┘
//	engine, host, in-process adapters ──► MeterProvider ──► Prometheus registry ──► MetricsHandler
//	plugin processes ──(OTLP over the go-plugin broker)──► Relay ─┘             └─► OTLP (if set)
//
// Plugin processes run providers of their own (package sdk sets them up when the host connects
// them). Their spans come back as OTLP export requests over the go-plugin broker; the sdk turns
// them into sdktrace.ReadOnlySpan and the Relay hands them to this process's span processors,
// so an exporter here (OTLP, or a test's in-memory one) sees a front end's HTTP span next to
// the engine work it caused, in one trace. Their metrics come back the same way, cumulative,
// and the Relay serves the latest of each plugin to every metric reader as a
// sdkmetric.Producer, labelled plugin=<name>.
//
// Disabled, Setup builds no-op providers and starts nothing: no goroutine, no socket, and
// MetricsHandler is nil.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/screenrec/recorder/pkg/telemetry/metricview"
)

// DefaultServiceName is the service.name of the recorder's telemetry.
const DefaultServiceName = "recorder"

// Config says what telemetry to produce. The zero value is disabled.
type Config struct {
	// Enabled turns telemetry on. Off, every provider is a no-op, nothing is exported and
	// nothing runs. OTEL_SDK_DISABLED=true in the environment turns it off too.
	Enabled bool
	// ServiceName is the resource's service.name (default DefaultServiceName).
	ServiceName string
	// ServiceVersion is the resource's service.version.
	ServiceVersion string
	// Traces records spans: exported over OTLP when configured, and used for the trace ids
	// of log lines either way.
	Traces bool
	// Metrics records metrics: exposed by MetricsHandler, and exported over OTLP when
	// configured.
	Metrics bool
	// MetricsInterval is how often metrics are exported over OTLP and plugin processes send
	// theirs; 0: OTEL_METRIC_EXPORT_INTERVAL (milliseconds) when set, which Setup writes
	// here, else each exporter's default.
	MetricsInterval time.Duration
}

// Option adds to what Setup builds.
type Option func(*options)

type options struct {
	processors []sdktrace.SpanProcessor
}

// WithSpanProcessor adds a span processor to the tracer provider (and so to the Relay's
// spans): an embedding program's own exporter, or a test's in-memory one. Shutdown shuts it
// down.
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return func(o *options) { o.processors = append(o.processors, p) }
}

// Telemetry is the process's telemetry, built by Setup.
type Telemetry struct {
	cfg        Config
	res        *resource.Resource       // nil when disabled
	tp         *sdktrace.TracerProvider // nil unless traces are on
	mp         *sdkmetric.MeterProvider // nil unless metrics are on
	processors []sdktrace.SpanProcessor
	relay      *Relay
	metrics    http.Handler
}

// Setup builds the providers cfg asks for: a tracer provider with a batch span processor per
// configured OTLP trace exporter (plus WithSpanProcessor's), and a meter provider with the
// Prometheus reader and, when configured, an OTLP periodic reader. OTLP export is configured
// by the standard variables (see exporters.go). Setup starts no listener: serve
// MetricsHandler yourself. Disabled, it returns a Telemetry of no-op providers at once.
func Setup(ctx context.Context, cfg Config, opts ...Option) (*Telemetry, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if v, _ := os.LookupEnv("OTEL_SDK_DISABLED"); v == "true" {
		cfg.Enabled = false
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
	}
	if cfg.MetricsInterval == 0 {
		cfg.MetricsInterval = envInterval("OTEL_METRIC_EXPORT_INTERVAL")
	}
	t := &Telemetry{cfg: cfg}
	if !cfg.Enabled || (!cfg.Traces && !cfg.Metrics) {
		t.cfg.Enabled = false
		return t, nil
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t.res = res
	t.relay = NewRelay(spanSinkFunc(t.relaySpans))
	fail := func(err error) (*Telemetry, error) {
		_ = t.Shutdown(context.WithoutCancel(ctx))
		return nil, err
	}
	if cfg.Traces {
		exp, err := traceExporter(ctx)
		if err != nil {
			return fail(err)
		}
		if exp != nil {
			t.processors = append(t.processors, sdktrace.NewBatchSpanProcessor(exp))
		}
		t.processors = append(t.processors, o.processors...)
		topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))}
		for _, p := range t.processors {
			topts = append(topts, sdktrace.WithSpanProcessor(p))
		}
		t.tp = sdktrace.NewTracerProvider(topts...)
	}
	if cfg.Metrics {
		// Its own registry, not the global one: nothing else in the process (a library that
		// registers globally) ends up on /metrics, and two Telemetry values do not collide.
		reg := prometheus.NewRegistry()
		if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrSetup, err))
		}
		if err := reg.Register(collectors.NewGoCollector()); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrSetup, err))
		}
		prom, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithProducer(t.relay))
		if err != nil {
			return fail(fmt.Errorf("%w: prometheus: %w", ErrSetup, err))
		}
		mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom),
			sdkmetric.WithView(metricview.Bounded())}
		exp, err := metricExporter(ctx)
		if err != nil {
			return fail(err)
		}
		if exp != nil {
			ropts := []sdkmetric.PeriodicReaderOption{sdkmetric.WithProducer(t.relay)}
			if cfg.MetricsInterval > 0 {
				ropts = append(ropts, sdkmetric.WithInterval(cfg.MetricsInterval))
			}
			mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, ropts...)))
		}
		t.mp = sdkmetric.NewMeterProvider(mopts...)
		// A metric family the scrape cannot gather (say, two sources disagreeing on its
		// labels) is logged and left out rather than failing the whole scrape.
		t.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError,
			ErrorLog: promLogger{}})
	}
	return t, nil
}

func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	attrs := []resource.Option{resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName), semconv.ProcessPID(os.Getpid()))}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(cfg.ServiceVersion)))
	}
	if h, err := os.Hostname(); err == nil {
		attrs = append(attrs, resource.WithAttributes(semconv.HostName(h)))
	}
	// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME last, so a deployment can override.
	attrs = append(attrs, resource.WithFromEnv())
	res, err := resource.New(ctx, attrs...)
	if err != nil && res == nil {
		return nil, fmt.Errorf("%w: resource: %w", ErrSetup, err)
	}
	return res, nil // a partial resource (a malformed variable) is still usable
}

// envInterval reads a duration in milliseconds from the environment variable name (the
// OpenTelemetry convention); 0 when unset or not a positive integer.
func envInterval(name string) time.Duration {
	ms, err := strconv.ParseInt(os.Getenv(name), 10, 64)
	if err != nil || ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// Resource is the resource of this process's telemetry, as resolved (the service's name and
// version, the host's name, what OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME add); plugin
// processes report with it too. Nil when telemetry is off.
func (t *Telemetry) Resource() *resource.Resource { return t.res }

// Enabled reports whether telemetry is on.
func (t *Telemetry) Enabled() bool { return t.cfg.Enabled }

// Config is the configuration in force, defaults filled in.
func (t *Telemetry) Config() Config { return t.cfg }

// TracerProvider is the tracer provider: the SDK's with traces on, a no-op one otherwise.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t.tp == nil {
		return tracenoop.NewTracerProvider()
	}
	return t.tp
}

// MeterProvider is the meter provider: the SDK's with metrics on, a no-op one otherwise.
func (t *Telemetry) MeterProvider() metric.MeterProvider {
	if t.mp == nil {
		return metricnoop.NewMeterProvider()
	}
	return t.mp
}

// Propagator is how trace context crosses process boundaries: W3C trace context.
func (*Telemetry) Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// MetricsHandler serves the metrics in the Prometheus text format (GET /metrics on the admin
// listener). It is nil when metrics are off.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// Relay takes in the spans and metrics of plugin processes; nil when telemetry is off.
func (t *Telemetry) Relay() *Relay { return t.relay }

// SetGlobal makes this telemetry the process's OpenTelemetry globals (tracer and meter
// providers, propagator, error handler), which instrumentation without explicit providers
// uses: in-process adapters' HTTP middleware, for one. Disabled, it changes nothing.
func (t *Telemetry) SetGlobal() {
	if !t.cfg.Enabled {
		return
	}
	otel.SetTracerProvider(t.TracerProvider())
	otel.SetMeterProvider(t.MeterProvider())
	otel.SetTextMapPropagator(t.Propagator())
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		slog.Warn("telemetry", "err", err)
	}))
}

// Shutdown flushes what is buffered to the exporters and stops them; the providers record
// nothing afterwards. It is idempotent.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	} else {
		for _, p := range t.processors { // Setup failed before the provider owned them
			errs = append(errs, p.Shutdown(ctx))
		}
	}
	if t.mp != nil {
		errs = append(errs, t.mp.Shutdown(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

// relaySpans hands spans of another process to this one's span processors, as if they had
// ended here: the batch processors export them with the rest.
func (t *Telemetry) relaySpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		for _, p := range t.processors {
			p.OnEnd(s)
		}
	}
	return nil
}

type spanSinkFunc func(context.Context, []sdktrace.ReadOnlySpan) error

func (f spanSinkFunc) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	return f(ctx, spans)
}

// promLogger sends promhttp's gathering errors to slog.
type promLogger struct{}

func (promLogger) Println(v ...any) { slog.Warn("metrics scrape", "err", fmt.Sprint(v...)) }
