package cloud

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The API is traced and measured with OpenTelemetry's global providers (a plugin process's
// report to the host): a span per request named after its route template, never its path,
// and request metrics by route, status and front end.
//
// Not parallel: it sets the process's OpenTelemetry globals, for good (the tests that run
// after it record into its providers, harmlessly).
func TestTelemetry(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem)))
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))

	e := newEnv(t) // gets a token: one request
	if r := e.do("POST", PathStart+"?userId=alice&recordingDuration=60", e.token, nil); r.status != http.StatusOK && r.status != http.StatusAccepted {
		t.Fatalf("start: %d %s", r.status, r.raw)
	}
	if r := e.do("POST", "/no/such/path", "", nil); r.status != http.StatusNotFound {
		t.Fatalf("unknown path: %d", r.status)
	}

	var names []string
	for _, s := range mem.GetSpans() {
		names = append(names, s.Name)
	}
	for _, want := range []string{"POST " + PathToken, "POST " + PathStart} {
		if !strings.Contains(strings.Join(names, "|"), want) {
			t.Errorf("no span %q in %q", want, names)
		}
	}
	for _, n := range names {
		if strings.Contains(n, "/no/such/path") || strings.Contains(n, "alice") {
			t.Errorf("span named after a path, not a route: %q", n)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{} // route status → requests
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok || m.Name != "http.server.request.duration" {
				continue
			}
			for _, p := range h.DataPoints {
				route, _ := p.Attributes.Value("http.route")
				status, _ := p.Attributes.Value("http.response.status_code")
				if v, _ := p.Attributes.Value(attribute.Key("plugin")); v.AsString() != Name {
					t.Errorf("request metric without plugin=%s: %v", Name, p.Attributes)
				}
				counts[fmt.Sprint(route.AsString(), " ", status.AsInt64())] += p.Count
			}
		}
	}
	if counts[PathToken+" 200"] < 1 || counts[PathStart+" 200"]+counts[PathStart+" 202"] < 1 || counts[" 404"] < 1 {
		t.Errorf("requests by route and status: %v", counts)
	}
}
