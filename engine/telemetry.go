package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/pipeline"
)

// The engine's telemetry: a span per session (from Start to completed or failed, with its
// state changes, masks and segment closes as events) and per upload attempt, and metrics.
//
// No span and no metric call is made per frame: the frame, byte and mask metrics are
// observable instruments whose callback runs when a reader collects (a Prometheus scrape, an
// OTLP export) and reads the counters the pipeline keeps anyway. So that those counters stay
// monotonic when sessions and captures end, the engine adds their final values to running
// totals (retired) at the moment it forgets them, under the same lock the callback reads the
// live ones with.

// ScopeName is the instrumentation scope of the engine's spans and metrics.
const ScopeName = "github.com/screenrec/recorder/engine"

// Metric names (OpenTelemetry; Prometheus writes them with underscores and unit suffixes, e.g.
// recorder_frames_encoded_total, recorder_written_bytes_total, recorder_masked_seconds_total,
// recorder_bitrate_bit_per_second).
const (
	// MetricFramesCaptured counts frames captured: encoded plus skipped as unchanged.
	MetricFramesCaptured = "recorder.frames.captured"
	// MetricFramesEncoded counts frames encoded into recordings, per recording (a frame two
	// recordings share counts for each).
	MetricFramesEncoded = "recorder.frames.encoded"
	// MetricFramesSkipped counts frames not encoded because the screen had not changed.
	MetricFramesSkipped = "recorder.frames.skipped_unchanged"
	// MetricFramesDropped counts frames the capture missed (late by more than half a frame
	// interval), per capture.
	MetricFramesDropped = "recorder.frames.dropped"
	// MetricWritten counts bytes written to recording files.
	MetricWritten = "recorder.written"
	// MetricBitrate is the output bit rate of all running recordings, over the last second
	// or more.
	MetricBitrate = "recorder.bitrate"
	// MetricSessions is the number of sessions in each live state.
	MetricSessions = "recorder.sessions.active"
	// MetricMasked counts seconds of recording that were masked.
	MetricMasked = "recorder.masked"
	// MetricUploadQueueJobs and MetricUploadQueueBytes are the upload jobs queued and running,
	// and the bytes they have left to send.
	MetricUploadQueueJobs  = "recorder.upload.queue.jobs"
	MetricUploadQueueBytes = "recorder.upload.queue.size"
	// MetricUploadRetries counts failed upload attempts that will be retried.
	MetricUploadRetries = "recorder.upload.retries"
	// MetricUploadFailures counts upload jobs failed for good (a permanent error).
	MetricUploadFailures = "recorder.upload.failures"
	// MetricCaptureDuration is how long grabbing and converting a frame took (seconds).
	MetricCaptureDuration = "recorder.capture.duration"
	// MetricEncodeDuration is how long encoding a frame took (seconds).
	MetricEncodeDuration = "recorder.encode.duration"
)

// FrameTimeBuckets are the histogram bounds, in seconds, for per-frame durations (capture,
// encode): frame intervals are 16–1000 ms and a frame's work should take 10–200 ms at most.
var FrameTimeBuckets = []float64{0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1}

// Attribute keys of the engine's spans and metrics.
const (
	attrSession  = attribute.Key("recorder.session.id")
	attrOwner    = attribute.Key("recorder.owner")
	attrFrontend = attribute.Key("recorder.frontend")
	attrState    = attribute.Key("state")
)

// liveStates are the states MetricSessions reports, with 0 when no session is in one, so a
// dashboard sees them drop to 0 rather than vanish.
var liveStates = []State{StateStarting, StateRecording, StateMasked, StateStopping, StateFinalizing}

// telemetry is the engine's tracer and instruments.
type telemetry struct {
	tracer   trace.Tracer
	retries  metric.Int64Counter
	failures metric.Int64Counter
	captureD metric.Float64Histogram
	encodeD  metric.Float64Histogram
	reg      metric.Registration // the observable instruments' callback
}

// Captured records one frame's capture time (pipeline.FrameObserver).
func (t *telemetry) Captured(d time.Duration) {
	t.captureD.Record(context.Background(), d.Seconds())
}

// Encoded records one frame's encode time (pipeline.FrameObserver).
func (t *telemetry) Encoded(d time.Duration) {
	t.encodeD.Record(context.Background(), d.Seconds())
}

// sessionMeter is what the metrics remember of a session between collections; guarded by
// session.mu.
type sessionMeter struct {
	// masked is the most masked time reported: an open interval is counted up to the last
	// frame, which its close may put a little earlier, and a counter must not go back.
	masked time.Duration
	// rateAt, rateBytes and rate are the bitrate's last sample: written bytes at a time, and
	// the rate measured up to it (bit/s).
	rateAt    time.Time
	rateBytes int64
	rate      float64
}

// retired holds what sessions and captures that have ended counted; guarded by Engine.mu.
type retired struct {
	encoded, skipped, dropped, written int64
	masked                             time.Duration
}

// sessionCounts is what one session has counted so far, and its current bitrate.
type sessionCounts struct {
	encoded, written int64
	masked           time.Duration
	rate             float64
}

// captureCounts is what one capture has counted so far, over its tracks.
type captureCounts struct {
	dropped, skipped int64
}

// readCapture reads a capture's counters: frame times missed, and frames skipped because
// nothing had changed.
func readCapture(c *pipeline.Capture) captureCounts {
	var n captureCounts
	for _, t := range c.Tracks() {
		n.dropped += t.Dropped
		n.skipped += t.Unchanged
	}
	return n
}

// counts reads what s has counted so far, at now; s.mu must not be held (the sink's counters
// take the capture's lock, which the capture may hold while it calls into s).
//
// The bitrate is measured over the last second or more: a reader that collects more often
// sees the last full measurement, so the value does not depend on how many readers collect,
// or how often.
func (s *session) counts(now time.Time) sessionCounts {
	s.mu.Lock()
	sink := s.sink
	masks := append([]Interval(nil), s.masks...)
	started := s.startedAt
	s.mu.Unlock()
	var n sessionCounts
	var dur time.Duration
	if sink != nil {
		for _, f := range sink.Frames() {
			n.encoded += f
		}
		n.written = sink.Bytes()
		dur = sink.Duration()
	}
	// An open interval runs until now: the last frame may be a while ago when the screen is
	// still (or masked), as frames are encoded only when something changes.
	if !started.IsZero() {
		dur = max(dur, now.Sub(started))
	}
	for _, iv := range masks {
		end := iv.End
		if end == 0 {
			end = max(iv.Start, dur)
		}
		n.masked += end - iv.Start
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &s.meter
	n.masked = max(n.masked, m.masked)
	m.masked = n.masked
	switch dt := now.Sub(m.rateAt); {
	case m.rateAt.IsZero():
		m.rateAt, m.rateBytes = now, n.written
	case dt >= time.Second:
		m.rate = float64(n.written-m.rateBytes) * 8 / dt.Seconds()
		m.rateAt, m.rateBytes = now, n.written
	}
	n.rate = m.rate
	return n
}

// newTelemetry builds the engine's tracer and instruments and registers the callback of the
// observable ones.
func (e *Engine) newTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) error {
	t := &telemetry{tracer: tp.Tracer(ScopeName)}
	m := mp.Meter(ScopeName)
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	t.retries, err = m.Int64Counter(MetricUploadRetries, metric.WithUnit("{attempt}"),
		metric.WithDescription("Failed upload attempts that will be retried."))
	check(err)
	t.failures, err = m.Int64Counter(MetricUploadFailures, metric.WithUnit("{job}"),
		metric.WithDescription("Upload jobs failed for good."))
	check(err)
	t.captureD, err = m.Float64Histogram(MetricCaptureDuration, metric.WithUnit("s"),
		metric.WithDescription("Time to grab a frame and convert what changed in it."),
		metric.WithExplicitBucketBoundaries(FrameTimeBuckets...))
	check(err)
	t.encodeD, err = m.Float64Histogram(MetricEncodeDuration, metric.WithUnit("s"),
		metric.WithDescription("Time to encode a frame."), metric.WithExplicitBucketBoundaries(FrameTimeBuckets...))
	check(err)
	captured, err := m.Int64ObservableCounter(MetricFramesCaptured, metric.WithUnit("{frame}"),
		metric.WithDescription("Frames captured: encoded plus skipped as unchanged."))
	check(err)
	encoded, err := m.Int64ObservableCounter(MetricFramesEncoded, metric.WithUnit("{frame}"),
		metric.WithDescription("Frames encoded into recordings, per recording."))
	check(err)
	skipped, err := m.Int64ObservableCounter(MetricFramesSkipped, metric.WithUnit("{frame}"),
		metric.WithDescription("Frames not encoded because the screen had not changed."))
	check(err)
	dropped, err := m.Int64ObservableCounter(MetricFramesDropped, metric.WithUnit("{frame}"),
		metric.WithDescription("Frames the capture missed."))
	check(err)
	written, err := m.Int64ObservableCounter(MetricWritten, metric.WithUnit("By"),
		metric.WithDescription("Bytes written to recording files."))
	check(err)
	bitrate, err := m.Float64ObservableGauge(MetricBitrate, metric.WithUnit("bit/s"),
		metric.WithDescription("Output bit rate of the running recordings."))
	check(err)
	sessions, err := m.Int64ObservableGauge(MetricSessions, metric.WithUnit("{session}"),
		metric.WithDescription("Sessions in each live state."))
	check(err)
	masked, err := m.Float64ObservableCounter(MetricMasked, metric.WithUnit("s"),
		metric.WithDescription("Recorded time that was masked."))
	check(err)
	queueJobs, err := m.Int64ObservableGauge(MetricUploadQueueJobs, metric.WithUnit("{job}"),
		metric.WithDescription("Upload jobs queued or running."))
	check(err)
	queueBytes, err := m.Int64ObservableGauge(MetricUploadQueueBytes, metric.WithUnit("By"),
		metric.WithDescription("Bytes the queued and running upload jobs have left to send."))
	check(err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("engine: metrics: %w", err)
	}
	stateAttrs := map[State]metric.ObserveOption{}
	for _, st := range liveStates {
		stateAttrs[st] = metric.WithAttributes(attrState.String(st.String()))
	}
	uploadAttrs := map[catalog.UploadState]metric.ObserveOption{
		catalog.UploadQueued:  metric.WithAttributes(attrState.String(string(catalog.UploadQueued))),
		catalog.UploadRunning: metric.WithAttributes(attrState.String(string(catalog.UploadRunning))),
	}
	t.reg, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		e.mu.Lock()
		r := e.retired
		live := make([]*session, 0, len(e.sessions))
		for _, s := range e.sessions {
			live = append(live, s)
		}
		caps := make([]*pipeline.Capture, 0, len(e.liveCaptures))
		for c := range e.liveCaptures {
			caps = append(caps, c)
		}
		e.mu.Unlock()
		// Counters read after the lock: a session or capture that ends meanwhile is in r
		// without its final counts, and its counts read here are those final ones or less.
		byState := map[State]int64{}
		now := time.Now()
		var rate float64
		for _, s := range live {
			if st, _ := s.m.State(); !st.Terminal() {
				byState[st]++
			}
			n := s.counts(now)
			r.encoded += n.encoded
			r.written += n.written
			r.masked += n.masked
			rate += n.rate
		}
		for _, c := range caps {
			n := readCapture(c)
			r.dropped += n.dropped
			r.skipped += n.skipped
		}
		o.ObserveInt64(captured, r.encoded+r.skipped)
		o.ObserveInt64(encoded, r.encoded)
		o.ObserveInt64(skipped, r.skipped)
		o.ObserveInt64(dropped, r.dropped)
		o.ObserveInt64(written, r.written)
		o.ObserveFloat64(masked, r.masked.Seconds())
		o.ObserveFloat64(bitrate, rate)
		for _, st := range liveStates {
			o.ObserveInt64(sessions, byState[st], stateAttrs[st])
		}
		if backlog, err := e.cat.UploadBacklog(ctx); err == nil {
			for st, b := range backlog {
				if a, ok := uploadAttrs[st]; ok {
					o.ObserveInt64(queueJobs, b.Jobs, a)
					o.ObserveInt64(queueBytes, b.Bytes, a)
				}
			}
		}
		return nil
	}, captured, encoded, skipped, dropped, written, bitrate, sessions, masked, queueJobs, queueBytes)
	if err != nil {
		return fmt.Errorf("engine: metrics: %w", err)
	}
	e.tel = t
	e.spec.Observer = t
	return nil
}

// retireSession adds an ended session's counts to the totals; e.mu is held.
func (e *Engine) retireSession(n sessionCounts) {
	e.retired.encoded += n.encoded
	e.retired.written += n.written
	e.retired.masked += n.masked
}

// retireCapture forgets an ended capture, keeping its counts in the totals.
func (e *Engine) retireCapture(c *pipeline.Capture) {
	n := readCapture(c)
	e.mu.Lock()
	if _, ok := e.liveCaptures[c]; ok {
		delete(e.liveCaptures, c)
		e.retired.dropped += n.dropped
		e.retired.skipped += n.skipped
	}
	e.mu.Unlock()
}

// startSpan starts a session's span as a child of ctx's (the front end's request, the plugin
// RPC that carried it).
func (e *Engine) startSpan(ctx context.Context, req StartRequest) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{attrOwner.String(req.Owner), attrFrontend.String(req.Frontend)}
	if req.Reason != "" {
		attrs = append(attrs, attribute.String("recorder.reason", req.Reason))
	}
	return e.tel.tracer.Start(ctx, "recording session", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrs...))
}

// endSpan ends span with err's status (none for nil).
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// spanStateChange records a committed state change on the session's span and ends the span
// on a terminal state.
func (s *session) spanStateChange(from, to State, reason string) {
	attrs := []attribute.KeyValue{attribute.String("from", from.String()), attribute.String("to", to.String())}
	if reason != "" {
		attrs = append(attrs, attribute.String("reason", reason))
	}
	s.span.AddEvent("state changed", trace.WithAttributes(attrs...))
	switch to {
	case StateCompleted:
		s.mu.Lock()
		rec := s.rec
		s.mu.Unlock()
		s.span.SetAttributes(attribute.Int64("recorder.contact_id", rec.ContactID), attribute.String("recorder.encoder", rec.Encoder))
		s.span.SetStatus(codes.Ok, "")
		s.span.End()
	case StateFailed:
		s.span.SetStatus(codes.Error, reason)
		s.span.End()
	}
}

// spanSegmentClosed records a sealed segment on the session's span.
func (s *session) spanSegmentClosed(index int, bytes int64) {
	s.span.AddEvent("segment closed", trace.WithAttributes(attribute.Int("index", index), attribute.Int64("bytes", bytes)))
}

// spanMask records a mask switched on or off at offset into the recording.
func (s *session) spanMask(on bool, offset time.Duration) {
	name := "unmasked"
	if on {
		name = "masked"
	}
	s.span.AddEvent(name, trace.WithAttributes(attribute.String("offset", offset.String())))
}

// spanStopRequested links the session's span to the request that stops it (a logout, say),
// whose trace is another.
func (s *session) spanStopRequested(ctx context.Context) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		s.span.AddLink(trace.Link{SpanContext: sc})
	}
	s.span.AddEvent("stop requested")
}

// startUploadSpan starts the span of one upload attempt.
func (e *Engine) startUploadSpan(ctx context.Context, job catalog.UploadJob) (context.Context, trace.Span) {
	return e.tel.tracer.Start(ctx, "upload", trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attribute.Int64("recorder.upload.job", job.ID),
		attribute.Int("recorder.upload.attempt", job.Attempts),
		attribute.String("recorder.upload.target", job.Target),
		attrSession.String(job.Segment.RecordingID),
		attribute.Int("recorder.segment.index", job.Segment.Index),
		attribute.Int64("recorder.segment.bytes", job.Segment.Bytes)))
}
