package telemetry

import (
	"context"
	"sort"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// SourceAttr labels the metrics a Relay serves with the name of the process they came from
// (the plugin's name).
const SourceAttr = "plugin"

// SpanSink takes ended spans; an sdktrace.SpanExporter is one.
type SpanSink interface {
	ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error
}

// Relay brings the spans and metrics of other processes (plugin processes) into this one's
// telemetry. Each process reports through its own Source: spans go straight to the sink;
// metrics are kept, the latest report of each source replacing its previous one (reports are
// cumulative), and served to metric readers by Produce with SourceAttr set to the source's
// name. It is safe for concurrent use.
type Relay struct {
	spans SpanSink

	mu      sync.Mutex
	metrics map[*Source][]metricdata.ScopeMetrics
}

var _ sdkmetric.Producer = (*Relay)(nil)

// NewRelay returns a relay handing spans to spans (nil: spans are dropped). Register it as a
// producer of the metric readers (sdkmetric.WithProducer) to serve the metrics it gets.
func NewRelay(spans SpanSink) *Relay {
	return &Relay{spans: spans, metrics: map[*Source][]metricdata.ScopeMetrics{}}
}

// Source returns a new source named name: where one process reports. Two sources may have the
// same name (a restarted plugin while the old one's last report is still held): Close the old.
func (r *Relay) Source(name string) *Source { return &Source{r: r, name: name} }

// Produce returns the metrics every open source reported last.
func (r *Relay) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	srcs := make([]*Source, 0, len(r.metrics))
	for s := range r.metrics {
		srcs = append(srcs, s)
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].name < srcs[j].name })
	var out []metricdata.ScopeMetrics
	for _, s := range srcs {
		out = append(out, r.metrics[s]...)
	}
	return out, nil
}

// Source is one process reporting to a Relay.
type Source struct {
	r    *Relay
	name string
}

// Name is the source's name.
func (s *Source) Name() string { return s.name }

// ExportSpans hands ended spans of the source's process to the relay's sink.
func (s *Source) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if s.r.spans == nil || len(spans) == 0 {
		return nil
	}
	return s.r.spans.ExportSpans(ctx, spans)
}

// ExportMetrics replaces the source's metrics with rm, which must hold every instrument's
// cumulative state (what a periodic reader with cumulative temporality exports).
func (s *Source) ExportMetrics(_ context.Context, rm *metricdata.ResourceMetrics) error {
	if rm == nil {
		return nil
	}
	label := attribute.String(SourceAttr, s.name)
	scopes := make([]metricdata.ScopeMetrics, len(rm.ScopeMetrics))
	for i, sm := range rm.ScopeMetrics {
		scopes[i] = metricdata.ScopeMetrics{Scope: sm.Scope, Metrics: make([]metricdata.Metrics, len(sm.Metrics))}
		for j, m := range sm.Metrics {
			m.Data = labelled(m.Data, label)
			scopes[i].Metrics[j] = m
		}
	}
	s.r.mu.Lock()
	s.r.metrics[s] = scopes
	s.r.mu.Unlock()
	return nil
}

// Close forgets the source's metrics: its process is gone for good.
func (s *Source) Close() {
	s.r.mu.Lock()
	delete(s.r.metrics, s)
	s.r.mu.Unlock()
}

// labelled returns data with kv set on every data point.
func labelled(data metricdata.Aggregation, kv attribute.KeyValue) metricdata.Aggregation {
	set := func(s attribute.Set) attribute.Set {
		kvs := append(s.ToSlice(), kv) // NewSet keeps the last of equal keys
		return attribute.NewSet(kvs...)
	}
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		d.DataPoints = relabel(d.DataPoints, func(p *metricdata.DataPoint[int64]) { p.Attributes = set(p.Attributes) })
		return d
	case metricdata.Sum[float64]:
		d.DataPoints = relabel(d.DataPoints, func(p *metricdata.DataPoint[float64]) { p.Attributes = set(p.Attributes) })
		return d
	case metricdata.Gauge[int64]:
		d.DataPoints = relabel(d.DataPoints, func(p *metricdata.DataPoint[int64]) { p.Attributes = set(p.Attributes) })
		return d
	case metricdata.Gauge[float64]:
		d.DataPoints = relabel(d.DataPoints, func(p *metricdata.DataPoint[float64]) { p.Attributes = set(p.Attributes) })
		return d
	case metricdata.Histogram[int64]:
		d.DataPoints = relabel(d.DataPoints, func(p *metricdata.HistogramDataPoint[int64]) { p.Attributes = set(p.Attributes) })
		return d
	case metricdata.Histogram[float64]:
		d.DataPoints = relabel(d.DataPoints, func(p *metricdata.HistogramDataPoint[float64]) { p.Attributes = set(p.Attributes) })
		return d
	}
	return data // kinds the sdk does not relay
}

// relabel returns a copy of points with fn applied to each.
func relabel[P any](points []P, fn func(*P)) []P {
	out := append([]P(nil), points...)
	for i := range out {
		fn(&out[i])
	}
	return out
}
