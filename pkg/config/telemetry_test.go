package config

import (
	"testing"

	"github.com/screenrec/recorder/pkg/telemetry"
)

func TestTelemetrySection(t *testing.T) {
	c := mustParse(t, doc("telemetry: {enabled: false, traces: false}"))
	if c.Telemetry != (Telemetry{Enabled: false, ServiceName: "recorder", Metrics: true, Traces: false}) {
		t.Errorf("telemetry = %+v: absent keys keep their defaults", c.Telemetry)
	}
	want := telemetry.Config{Enabled: false, ServiceName: "recorder", ServiceVersion: "1.2.3", Metrics: true}
	if got := c.TelemetryConfig("1.2.3"); got != want {
		t.Errorf("TelemetryConfig = %+v, want %+v", got, want)
	}
}

func TestTelemetryErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		environ []string
		want    string
		kind    error
	}{
		{"unknown key", doc("telemetry:", "  enabeld: false"), nil,
			`x.yaml:2: telemetry.enabeld: unknown key; did you mean "enabled"?`, ErrUnknownKey},
		{"wrong type", doc("telemetry:", "  metrics: sometimes"), nil,
			"x.yaml:2: telemetry.metrics: expected true or false, got a string \"sometimes\"", ErrWrongType},
		{"empty service name", doc("telemetry:", "  service_name: ''"), nil,
			"x.yaml:2: telemetry.service_name: required", ErrBadValue},
		{"spaced service name", doc("telemetry:", "  service_name: my recorder"), nil,
			`x.yaml:2: telemetry.service_name: "my recorder" must be printable and without spaces`, ErrBadValue},
		{"bad env bool", nil, []string{EnvTelemetryEnabled + "=yes please"},
			`$RECORDER_TELEMETRY_ENABLED: telemetry.enabled: "yes please" is not a boolean (true or false)`, ErrEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", tt.data, tt.environ)
			checkErr(t, err, tt.want, tt.kind)
		})
	}
}

func TestTelemetryEnv(t *testing.T) {
	c := mustParse(t, doc("telemetry: {enabled: true, metrics: true}"),
		EnvTelemetryEnabled+"=false", EnvTelemetryServiceName+"=rec-eu", "RECORDER_TELEMETRY_METRICS=0", "RECORDER_TELEMETRY_TRACES=false")
	if c.Telemetry != (Telemetry{ServiceName: "rec-eu"}) {
		t.Errorf("telemetry after env = %+v", c.Telemetry)
	}
	// An error after an override points at the variable, not the file.
	_, err := Parse("x.yaml", nil, []string{EnvTelemetryServiceName + "=a b"})
	checkErr(t, err, `$RECORDER_TELEMETRY_SERVICE_NAME: telemetry.service_name: "a b" must be printable and without spaces`, ErrBadValue)
}
