package config

import (
	"strings"
	"unicode"

	"github.com/screenrec/recorder/pkg/telemetry"
)

// Telemetry defaults: on, with metrics (served on /metrics by the admin listener) and traces;
// nothing leaves the machine unless the standard OTEL_EXPORTER_OTLP_* variables name a
// collector.
const (
	// DefaultTelemetryEnabled turns telemetry on.
	DefaultTelemetryEnabled = true
	// DefaultServiceName is the service.name of the recorder's traces and metrics.
	DefaultServiceName = telemetry.DefaultServiceName // "recorder"
	// DefaultTelemetryMetrics records metrics.
	DefaultTelemetryMetrics = true
	// DefaultTelemetryTraces records traces.
	DefaultTelemetryTraces = true
)

// Telemetry configures OpenTelemetry (pkg/telemetry). Where traces and metrics are exported
// to is not configured here but by the standard OpenTelemetry variables
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, …), which collectors and
// deployment tools already know.
type Telemetry struct {
	// Enabled turns telemetry on (default true); off, nothing is recorded, exported or
	// served, and no exporter runs. Env RECORDER_TELEMETRY_ENABLED.
	Enabled bool `cfg:"enabled"`
	// ServiceName is the service.name resource attribute (default "recorder").
	// Env RECORDER_TELEMETRY_SERVICE_NAME.
	ServiceName string `cfg:"service_name"`
	// Metrics records metrics, for /metrics and OTLP (default true).
	// Env RECORDER_TELEMETRY_METRICS.
	Metrics bool `cfg:"metrics"`
	// Traces records traces, exported over OTLP when configured; log lines inside a span
	// carry its trace_id and span_id (default true). Env RECORDER_TELEMETRY_TRACES.
	Traces bool `cfg:"traces"`
}

func defaultTelemetry() Telemetry {
	return Telemetry{Enabled: DefaultTelemetryEnabled, ServiceName: DefaultServiceName,
		Metrics: DefaultTelemetryMetrics, Traces: DefaultTelemetryTraces}
}

func (t *Telemetry) validate() *Error {
	name := t.ServiceName
	if strings.TrimSpace(name) == "" {
		return valueErr("telemetry.service_name", "required")
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return valueErr("telemetry.service_name", "%q must be printable and without spaces", name)
	}
	return nil
}

// TelemetryConfig maps the telemetry section onto telemetry.Config; version is the
// service.version.
func (c *Config) TelemetryConfig(version string) telemetry.Config {
	t := c.Telemetry
	return telemetry.Config{Enabled: t.Enabled, ServiceName: t.ServiceName, ServiceVersion: version,
		Metrics: t.Metrics, Traces: t.Traces}
}
