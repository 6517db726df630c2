package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/catalog"
)

// instrumented is an engine whose spans go to an in-memory exporter and whose metrics are
// read by a manual reader.
type instrumented struct {
	*Engine
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
}

func newInstrumented(t *testing.T, cfg Config) *instrumented {
	t.Helper()
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	cfg.SpoolDir, cfg.MinFreeDisk = t.TempDir(), -1
	e, err := New(context.Background(), cfg, WithTracerProvider(tp), WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("close engine: %v", err)
		}
		_ = tp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
	})
	return &instrumented{Engine: e, spans: mem, reader: reader, tp: tp}
}

// metrics collects and returns every data point by metric name and attributes
// ("recorder.sessions.active{state=recording}"), as float64.
func (in *instrumented) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := in.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	key := func(name string, set attribute.Set) string {
		if set.Len() == 0 {
			return name
		}
		return name + "{" + set.Encoded(attribute.DefaultEncoder()) + "}"
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] = p.Value
				}
			}
		}
	}
	return out
}

func (in *instrumented) span(t *testing.T, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range in.spans.GetSpans() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %q, want 1: %+v", len(found), name, in.spans.GetSpans())
	}
	return found[0]
}

func eventNames(s tracetest.SpanStub) []string {
	var out []string
	for _, ev := range s.Events {
		name := ev.Name
		for _, a := range ev.Attributes {
			if a.Key == "to" {
				name += ":" + a.Value.AsString()
			}
		}
		out = append(out, name)
	}
	return out
}

// A session's span is a child of the span that started it, runs until completed with an event
// per state change, mask and segment, and is linked to the request that stopped it. The
// metrics follow the recording without any per-frame call: frames and bytes grow while it
// records, one session is active, then none.
func TestSessionSpanAndMetrics(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	in := newInstrumented(t, Config{})
	ctx, parent := in.tp.Tracer("test").Start(context.Background(), "POST /sessions")
	s, err := in.Start(ctx, StartRequest{Owner: "agent1", Frontend: "cli", Source: Source{Display: srv.Display}})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	m1 := in.metrics(t)
	if m1[MetricSessions+"{state=recording}"] != 1 || m1[MetricSessions+"{state=starting}"] != 0 {
		t.Errorf("sessions while recording: %v", m1)
	}
	// The test display is still: at 10 fps about 12 frame times, mostly skipped as unchanged.
	if m1[MetricFramesCaptured] < 8 || m1[MetricFramesEncoded] < 1 || m1[MetricFramesSkipped] < 4 ||
		m1[MetricFramesCaptured] != m1[MetricFramesEncoded]+m1[MetricFramesSkipped] || m1[MetricWritten] <= 0 {
		t.Errorf("frames/bytes after 1.2 s: %v", m1)
	}
	if _, err := in.Mask(context.Background(), MaskTarget{Owner: "agent1"}, true); err != nil {
		t.Fatal(err)
	}
	// The mask's frame is encoded at once and reaches the file within about a second (a
	// still file's open fragment is written out after half a fragment).
	time.Sleep(1600 * time.Millisecond)
	m2 := in.metrics(t)
	if m2[MetricFramesEncoded] <= m1[MetricFramesEncoded] || m2[MetricWritten] <= m1[MetricWritten] ||
		m2[MetricSessions+"{state=masked}"] != 1 || m2[MetricMasked] < 0.8 || m2[MetricBitrate] <= 0 {
		t.Errorf("after 1.6 s masked: %v (before %v)", m2, m1)
	}
	if _, err := in.Mask(context.Background(), MaskTarget{Owner: "agent1"}, false); err != nil {
		t.Fatal(err)
	}
	sctx, stopper := in.tp.Tracer("test").Start(context.Background(), "POST /sessions/stop")
	done, err := in.Stop(sctx, s.ID)
	stopper.End()
	if err != nil || done.State != StateCompleted {
		t.Fatalf("stop: %+v %v", done, err)
	}
	m3 := in.metrics(t)
	for _, st := range liveStates {
		if v, ok := m3[MetricSessions+"{state="+st.String()+"}"]; !ok || v != 0 {
			t.Errorf("after stop, sessions %s = %v (present %v), want 0", st, v, ok)
		}
	}
	// Counters stay where the ended session left them.
	if m3[MetricFramesEncoded] < m2[MetricFramesEncoded] || m3[MetricWritten] < m2[MetricWritten] || m3[MetricMasked] < m2[MetricMasked] ||
		m3[MetricFramesDropped] < 0 || m3[MetricFramesSkipped] < m2[MetricFramesSkipped] {
		t.Errorf("after stop: %v (before %v)", m3, m2)
	}
	if m3[MetricWritten] < float64(done.Segments[0].Bytes)*0.9 {
		t.Errorf("written %v, file %d bytes", m3[MetricWritten], done.Segments[0].Bytes)
	}
	if m3[MetricUploadQueueJobs+"{state=queued}"] != 1 || m3[MetricUploadQueueBytes+"{state=queued}"] != float64(done.Segments[0].Bytes) {
		t.Errorf("upload queue: %v", m3)
	}

	span := in.span(t, "recording session")
	if span.Parent.SpanID() != parent.SpanContext().SpanID() || span.SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("session span's parent %v, want the starting request's %v", span.Parent, parent.SpanContext())
	}
	if span.EndTime.IsZero() || span.Status.Code != codes.Ok {
		t.Errorf("session span not ended OK: %+v", span.Status)
	}
	want := "state changed:starting state changed:recording state changed:masked masked state changed:recording unmasked " +
		"state changed:stopping stop requested segment closed state changed:finalizing state changed:completed"
	if got := fmt.Sprint(eventNames(span)); got != "["+want+"]" {
		t.Errorf("session span events:\n got %s\nwant [%s]", got, want)
	}
	if len(span.Links) != 1 || span.Links[0].SpanContext.SpanID() != stopper.SpanContext().SpanID() {
		t.Errorf("session span links %+v, want the stopping request", span.Links)
	}
	attrs := attribute.NewSet(span.Attributes...)
	if v, _ := attrs.Value(attrSession); v.AsString() != s.ID {
		t.Errorf("session span attributes %v", span.Attributes)
	}
}

// A start that fails ends its span with the error.
func TestFailedStartSpan(t *testing.T) {
	t.Parallel()
	in := newInstrumented(t, Config{})
	if _, err := in.Start(context.Background(), StartRequest{Owner: "a"}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("Start = %v", err)
	}
	span := in.span(t, "recording session")
	if span.EndTime.IsZero() || span.Status.Code != codes.Error {
		t.Errorf("failed start's span: ended %v, status %+v", !span.EndTime.IsZero(), span.Status)
	}
}

// Each upload attempt has a span; retries and permanent failures are counted.
func TestUploadSpansAndCounters(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	in := newInstrumented(t, Config{})
	recorded(t, in.Engine, srv.Display)
	flaky := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){
		func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error) {
			return api.UploadResult{}, fmt.Errorf("read: %w", api.ErrReset)
		},
		func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error) {
			return api.UploadResult{}, fmt.Errorf("401: %w: %w", api.ErrAuth, api.ErrPermanent)
		},
	}}
	runUploadsUntil(t, in.Engine, flaky, UploadConfig{BaseDelay: 50 * time.Millisecond}, allIn(catalog.UploadFailed))
	m := in.metrics(t)
	// Counted by target and by the failure's kind.
	if m[MetricUploadRetries+"{error.type=reset,recorder.upload.target=default}"] != 1 ||
		m[MetricUploadFailures+"{error.type=auth,recorder.upload.target=default}"] != 1 || m[MetricUploadQueueJobs+"{state=queued}"] != 0 {
		t.Errorf("upload metrics: %v", m)
	}
	var uploads []tracetest.SpanStub
	for _, s := range in.spans.GetSpans() {
		if s.Name == "upload" {
			uploads = append(uploads, s)
		}
	}
	if len(uploads) != 2 || uploads[0].Status.Code != codes.Error || uploads[1].Status.Description != "401: credentials refused: permanent failure" ||
		!hasAttr(uploads[1].Attributes, "error.type", "auth") {
		t.Errorf("upload spans: %+v", uploads)
	}
}

// hasAttr reports whether attrs holds key with the string value want.
func hasAttr(attrs []attribute.KeyValue, key, want string) bool {
	for _, a := range attrs {
		if string(a.Key) == key {
			return a.Value.AsString() == want
		}
	}
	return false
}
