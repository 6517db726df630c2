package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/pipeline"
	"github.com/screenrec/recorder/pkg/config"
	"github.com/screenrec/recorder/pkg/telemetry"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

// telemetryShutdownTimeout bounds flushing traces and metrics at exit.
const telemetryShutdownTimeout = 5 * time.Second

// startTelemetry sets up telemetry and makes it the process's OpenTelemetry globals (used by
// in-process adapters). Disabled, it starts nothing.
func startTelemetry(ctx context.Context, cfg telemetry.Config) (*telemetry.Telemetry, error) {
	tel, err := telemetry.Setup(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: telemetry: %w", errUsage, err)
	}
	tel.SetGlobal()
	return tel, nil
}

// stopTelemetry flushes and stops telemetry at exit.
func stopTelemetry(tel *telemetry.Telemetry) {
	ctx, cancel := context.WithTimeout(context.Background(), telemetryShutdownTimeout)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		slog.Warn("telemetry shutdown", "err", err)
	}
}

// engineTelemetry gives the engine tel's providers.
func engineTelemetry(tel *telemetry.Telemetry) []engine.Option {
	return []engine.Option{engine.WithTracerProvider(tel.TracerProvider()), engine.WithMeterProvider(tel.MeterProvider())}
}

// hostTelemetry gives the plugin host tel's providers and relay: plugin connections traced,
// plugin processes reporting to this one. Disabled, it leaves opts as they are (nothing
// instrumented, plugin processes record nothing).
func hostTelemetry(opts host.Options, tel *telemetry.Telemetry) host.Options {
	if !tel.Enabled() {
		return opts
	}
	c := tel.Config()
	opts.TracerProvider, opts.MeterProvider = tel.TracerProvider(), tel.MeterProvider()
	opts.Relay = tel.Relay()
	// Plugin processes report as this one does: its resolved resource, its metric interval.
	opts.RelayOptions = sdk.TelemetryOptions{ServiceName: c.ServiceName, Traces: c.Traces, Metrics: c.Metrics,
		MetricsInterval: c.MetricsInterval, Resource: tel.Resource()}
	return opts
}

// recordTelemetryConfig is `recorder record`'s telemetry: --telemetry when given, else
// RECORDER_TELEMETRY_ENABLED (the config file's variable), else off; metrics and traces
// both, named by RECORDER_TELEMETRY_SERVICE_NAME or the config's default.
func recordTelemetryConfig(flagSet, flag bool) (telemetry.Config, error) {
	enabled := flag
	if v := os.Getenv(config.EnvTelemetryEnabled); v != "" && !flagSet {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return telemetry.Config{}, fmt.Errorf("%w: $%s: %q is not a boolean", errUsage, config.EnvTelemetryEnabled, v)
		}
		enabled = b
	}
	name := config.DefaultServiceName
	if v := os.Getenv(config.EnvTelemetryServiceName); v != "" {
		name = v
	}
	return telemetry.Config{Enabled: enabled, ServiceName: name, ServiceVersion: version, Metrics: true, Traces: true}, nil
}

// recordingMetrics registers the metrics of a one-shot recording, read from its stats when a
// reader collects (nothing per frame): frames captured, encoded, skipped as unchanged and
// dropped, bytes written, bit rate.
// They have the engine's names.
func recordingMetrics(mp metric.MeterProvider, rec *pipeline.Recording) (metric.Registration, error) {
	m := mp.Meter("github.com/screenrec/recorder/cmd/recorder")
	encoded, err1 := m.Int64ObservableCounter(engine.MetricFramesEncoded, metric.WithUnit("{frame}"),
		metric.WithDescription("Frames encoded into the recording (first track)."))
	dropped, err2 := m.Int64ObservableCounter(engine.MetricFramesDropped, metric.WithUnit("{frame}"),
		metric.WithDescription("Frames the capture missed."))
	written, err3 := m.Int64ObservableCounter(engine.MetricWritten, metric.WithUnit("By"),
		metric.WithDescription("Bytes written to the recording."))
	bitrate, err4 := m.Float64ObservableGauge(engine.MetricBitrate, metric.WithUnit("bit/s"),
		metric.WithDescription("Average output bit rate since the start."))
	captured, err5 := m.Int64ObservableCounter(engine.MetricFramesCaptured, metric.WithUnit("{frame}"),
		metric.WithDescription("Frames captured (first track): encoded plus skipped as unchanged."))
	skipped, err6 := m.Int64ObservableCounter(engine.MetricFramesSkipped, metric.WithUnit("{frame}"),
		metric.WithDescription("Frames not encoded because the screen had not changed (first track)."))
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := rec.Stats()
		o.ObserveInt64(encoded, st.Frames)
		o.ObserveInt64(dropped, st.Dropped)
		o.ObserveInt64(written, st.Bytes)
		o.ObserveFloat64(bitrate, st.Bitrate)
		o.ObserveInt64(captured, st.Frames+st.Unchanged)
		o.ObserveInt64(skipped, st.Unchanged)
		return nil
	}, encoded, dropped, written, bitrate, captured, skipped)
}

// serveMetrics serves h at /metrics on addr until ctx ends; it returns the address it
// listens on.
func serveMetrics(ctx context.Context, addr string, h http.Handler) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%w: --metrics-listen: %w", errUsage, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { srv.Close() })
	return ln.Addr().String(), nil
}
