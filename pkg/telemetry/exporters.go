package telemetry

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OTLP export is configured by the standard OpenTelemetry variables, nothing of the
// recorder's own: traces are exported when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT is set, metrics when OTEL_EXPORTER_OTLP_METRICS_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT is set, over the protocol of OTEL_EXPORTER_OTLP_TRACES_PROTOCOL /
// OTEL_EXPORTER_OTLP_METRICS_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL: grpc or http/protobuf
// (the default, as the specification says). The exporters read the other variables (headers,
// certificates, compression, timeout, OTEL_METRIC_EXPORT_INTERVAL) themselves.
const (
	EnvEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvMetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvMetricsProtocol = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
)

// The OTLP protocols Setup supports.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

// otlpProtocol returns the protocol for a signal, or "" when its export is not configured.
func otlpProtocol(endpointVar, protocolVar string) (string, error) {
	if env(endpointVar) == "" && env(EnvEndpoint) == "" {
		return "", nil
	}
	name, p := protocolVar, env(protocolVar)
	if p == "" {
		name, p = EnvProtocol, env(EnvProtocol)
	}
	switch p {
	case "", ProtocolHTTPProtobuf:
		return ProtocolHTTPProtobuf, nil
	case ProtocolGRPC:
		return ProtocolGRPC, nil
	}
	return "", fmt.Errorf("%w: $%s: %q is not one of %s, %s", ErrConfig, name, p, ProtocolGRPC, ProtocolHTTPProtobuf)
}

func env(name string) string { return strings.TrimSpace(os.Getenv(name)) }

// traceExporter is the OTLP trace exporter the environment asks for, or nil. Creating one
// connects nothing: the first export does.
func traceExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	p, err := otlpProtocol(EnvTracesEndpoint, EnvTracesProtocol)
	var exp sdktrace.SpanExporter
	switch {
	case err != nil:
		return nil, err
	case p == ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	case p == ProtocolHTTPProtobuf:
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: OTLP trace exporter: %w", ErrSetup, err)
	}
	return exp, nil
}

// metricExporter is the OTLP metric exporter the environment asks for, or nil.
func metricExporter(ctx context.Context) (sdkmetric.Exporter, error) {
	p, err := otlpProtocol(EnvMetricsEndpoint, EnvMetricsProtocol)
	var exp sdkmetric.Exporter
	switch {
	case err != nil:
		return nil, err
	case p == ProtocolGRPC:
		exp, err = otlpmetricgrpc.New(ctx)
	case p == ProtocolHTTPProtobuf:
		exp, err = otlpmetrichttp.New(ctx)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: OTLP metric exporter: %w", ErrSetup, err)
	}
	return exp, nil
}
