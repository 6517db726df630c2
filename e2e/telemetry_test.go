package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/waittest"
	"github.com/screenrec/recorder/pkg/telemetry"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

// telemetryStack is a stack whose engine, host and SRS plugin process report to one
// telemetry, set up as `recorder run` does, plus an in-memory span exporter; its metrics are
// served on loopback as the admin listener serves them.
func telemetryStack(t *testing.T, cfg map[string]any) (*stack, *tracetest.InMemoryExporter, string) {
	t.Helper()
	mem := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Enabled: true, ServiceName: "recorder-e2e", Traces: true, Metrics: true},
		telemetry.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(mem)))
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last: after the stack has stopped and flushed.
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	s := newStackWith(t, cfg, stackOptions{
		// The still screen's frames are what the metrics are checked with: one a second, not
		// one per default gap (10 s, longer than the test looks).
		maxFrameGap: time.Second,
		engine:      []engine.Option{engine.WithTracerProvider(tel.TracerProvider()), engine.WithMeterProvider(tel.MeterProvider())},
		host: func(o *host.Options) {
			o.TracerProvider, o.MeterProvider, o.Relay = tel.TracerProvider(), tel.MeterProvider(), tel.Relay()
			o.RelayOptions = sdk.TelemetryOptions{ServiceName: "recorder-e2e", Traces: true, Metrics: true, MetricsInterval: 200 * time.Millisecond}
		},
	})
	srv := httptest.NewServer(tel.MetricsHandler())
	t.Cleanup(srv.Close)
	return s, mem, srv.URL + "/metrics"
}

// scrape returns the /metrics page.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
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

// metricValue is the sum of the samples of a metric whose labels include every one of
// labels (written name="value"); -1 when there is none.
func metricValue(page, name string, labels ...string) float64 {
	total, found := 0.0, false
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line[:i], l)
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); ok && err == nil {
			total, found = total+v, true
		}
	}
	if !found {
		return -1
	}
	return total
}

// eventually polls cond every 50 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// A real SRS login → recording → logout through the real plugin process: the engine's
// metrics, scraped during the recording, grow with one session active, and show none after;
// the plugin's HTTP metrics reach the host's /metrics; and one trace links the plugin's HTTP
// span, the plugin RPC spans (the plugin's client, the host's server) and the session span.
func TestTelemetryOfSRSSessionThroughPlugin(t *testing.T) {
	t.Parallel()
	s, spans, metricsURL := telemetryStack(t, map[string]any{"ping_timeout": "10s"})
	a := newAgent(t, s.srs, "jdoe", "s3cret")
	var m me
	if code := a.do("GET", "/api/v2/me", nil, true, &m); code != http.StatusOK || m.Recording.State != "recording" {
		t.Fatalf("login: %d %+v", code, m)
	}

	// Frame times come at 10 fps: each is captured, or counted as dropped when a stalled host
	// missed it (seen in CI). The window starts at the first one counted (the capture starts
	// after the answer to the login, later on a loaded host). A still screen is mostly
	// skipped, not encoded, but every second (the stack's max frame gap) at least one frame
	// is encoded, and written to the file within about another second (a still file's open
	// fragment is written out after half a fragment).
	frameTimes := func(page string) float64 {
		return metricValue(page, "recorder_frames_captured_total") + max(metricValue(page, "recorder_frames_dropped_total"), 0)
	}
	var p1 string
	waittest.Until(t, "the first frame time counted", 10*time.Second, func() (bool, float64) {
		p1 = scrape(t, metricsURL)
		return frameTimes(p1) > 0, frameTimes(p1)
	})
	time.Sleep(2500 * time.Millisecond)
	p2 := scrape(t, metricsURL)
	f1, f2 := frameTimes(p1), frameTimes(p2)
	e1, e2 := metricValue(p1, "recorder_frames_encoded_total"), metricValue(p2, "recorder_frames_encoded_total")
	w1, w2 := metricValue(p1, "recorder_written_bytes_total"), metricValue(p2, "recorder_written_bytes_total")
	if f2 < f1+15 || e2 <= e1 || w2 <= w1 || f1 < 0 {
		t.Errorf("during the recording: frame times (captured and dropped) %v → %v, encoded %v → %v, bytes %v → %v", f1, f2, e1, e2, w1, w2)
	}
	c1, c2 := metricValue(p1, "recorder_capture_duration_seconds_count"), metricValue(p2, "recorder_capture_duration_seconds_count")
	// A still screen is not read frame by frame (the capture sleeps until the X server reports
	// damage): the capture histogram counts the reads, at least one a max frame gap (1 s here).
	if c2 < max(c1, 0)+2 || metricValue(p2, "recorder_encode_duration_seconds_count") < 1 {
		t.Errorf("frame time histograms: captures %v → %v, encodes %v", c1, c2, metricValue(p2, "recorder_encode_duration_seconds_count"))
	}
	for _, p := range []string{p1, p2} {
		if v := metricValue(p, "recorder_sessions_active", `state="recording"`); v != 1 {
			t.Errorf("active sessions recording = %v, want 1", v)
		}
	}

	var out struct{ StatusCode int }
	if code := a.do("POST", "/api/v2/me", map[string]string{"operationName": "EndContactCenterSession"}, false, &out); code != http.StatusOK {
		t.Fatalf("logout: %d", code)
	}
	p3 := scrape(t, metricsURL)
	if v := metricValue(p3, "recorder_sessions_active"); v != 0 {
		t.Errorf("active sessions after logout = %v, want 0:\n%s", v, p3)
	}
	if e3 := metricValue(p3, "recorder_frames_encoded_total"); e3 < e2 {
		t.Errorf("frames encoded went back from %v to %v after the session ended", e2, e3)
	}
	if f3 := frameTimes(p3); f3 < f2 {
		t.Errorf("frame times (captured and dropped) went back from %v to %v after the session ended", f2, f3)
	}
	// The plugin's HTTP metrics (login and logout on the same route) arrive within a few of
	// its export intervals.
	eventually(t, 5*time.Second, "the SRS plugin's request metrics on the host's /metrics", func() bool {
		return metricValue(scrape(t, metricsURL), "http_server_request_duration_seconds_count",
			`http_route="/api/v2/me"`, `http_response_status_code="200"`, `plugin="srs"`) >= 2
	})

	var httpSpan, client, server, session tracetest.SpanStub
	eventually(t, 5*time.Second, "the login's spans", func() bool {
		for _, sp := range spans.GetSpans() {
			plugin, _ := sp.Resource.Set().Value("recorder.plugin")
			switch {
			case sp.Name == "GET /api/v2/me" && sp.SpanKind == trace.SpanKindServer && plugin.AsString() == "srs":
				httpSpan = sp
			case sp.Name == "recorder.plugin.v1.Engine/Start" && sp.SpanKind == trace.SpanKindClient && plugin.AsString() == "srs":
				client = sp
			case sp.Name == "recorder.plugin.v1.Engine/Start" && sp.SpanKind == trace.SpanKindServer:
				server = sp
			case sp.Name == "recording session":
				session = sp
			}
		}
		return httpSpan.Name != "" && client.Name != "" && server.Name != "" && session.Name != ""
	})
	tid := httpSpan.SpanContext.TraceID()
	for _, sp := range []tracetest.SpanStub{client, server, session} {
		if sp.SpanContext.TraceID() != tid {
			t.Errorf("%s (%s) is in trace %s, the HTTP span in %s", sp.Name, sp.SpanKind, sp.SpanContext.TraceID(), tid)
		}
	}
	if client.Parent.SpanID() != httpSpan.SpanContext.SpanID() {
		t.Errorf("the plugin's Engine/Start span is not the HTTP span's child")
	}
	if server.Parent.SpanID() != client.SpanContext.SpanID() || !server.Parent.IsRemote() {
		t.Errorf("the host's Engine/Start span is not the plugin's (remote) child")
	}
	if session.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("the session span is not the host's Engine/Start span's child")
	}
	if session.EndTime.IsZero() || len(session.Events) == 0 || session.Events[len(session.Events)-1].Name != "state changed" {
		t.Errorf("the session span did not end with its last state change: %+v", session.Events)
	}
	if id, _ := engineSessionID(session); id != m.Recording.RecordingID {
		t.Errorf("session span for %q, the login started %q", id, m.Recording.RecordingID)
	}
}

func engineSessionID(s tracetest.SpanStub) (string, bool) {
	for _, a := range s.Attributes {
		if a.Key == "recorder.session.id" {
			return a.Value.AsString(), true
		}
	}
	return "", false
}
