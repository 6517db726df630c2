package telemetry

import "errors"

// Sentinel errors of Setup; classify with errors.Is.
var (
	// ErrConfig: an OpenTelemetry environment variable has a value Setup cannot use (an
	// unsupported OTLP protocol, say); the message names the variable.
	ErrConfig = errors.New("bad telemetry configuration")
	// ErrSetup: an exporter or reader could not be built.
	ErrSetup = errors.New("cannot set up telemetry")
)
