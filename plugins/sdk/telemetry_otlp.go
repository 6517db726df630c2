package sdk

import (
	"encoding/hex"
	"encoding/json"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// OTLP → SDK: what a plugin process's OTLP exporters send, turned back into the types the
// host's span processors and metric readers take. Only what the OpenTelemetry Go SDK's OTLP
// exporters produce is mapped; exponential histograms and summaries (which no plugin records
// today) are left out.

// spansFromOTLP converts exported spans to read-only spans.
func spansFromOTLP(rss []*tracepb.ResourceSpans) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, rs := range rss {
		res := resourceFromOTLP(rs.GetResource(), rs.GetSchemaUrl())
		for _, ss := range rs.GetScopeSpans() {
			scope := scopeFromOTLP(ss.GetScope(), ss.GetSchemaUrl())
			for _, s := range ss.GetSpans() {
				out = append(out, spanFromOTLP(s, res, scope).Snapshot())
			}
		}
	}
	return out
}

func spanFromOTLP(s *tracepb.Span, res *resource.Resource, scope instrumentation.Scope) tracetest.SpanStub {
	sc := spanContext(s.GetTraceId(), s.GetSpanId(), s.GetTraceState(), s.GetFlags(), false)
	stub := tracetest.SpanStub{
		Name:                 s.GetName(),
		SpanContext:          sc,
		SpanKind:             trace.SpanKind(s.GetKind()), // the same numbers: internal 1 … consumer 5
		StartTime:            unixNano(s.GetStartTimeUnixNano()),
		EndTime:              unixNano(s.GetEndTimeUnixNano()),
		Attributes:           attrsFromOTLP(s.GetAttributes()),
		DroppedAttributes:    int(s.GetDroppedAttributesCount()),
		DroppedEvents:        int(s.GetDroppedEventsCount()),
		DroppedLinks:         int(s.GetDroppedLinksCount()),
		Resource:             res,
		InstrumentationScope: scope,
	}
	if p := s.GetParentSpanId(); len(p) == 8 {
		// The parent is in the same trace; whether it is remote travels in the span's flags.
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: sc.TraceID(), SpanID: spanID(p),
			TraceFlags: sc.TraceFlags(), Remote: isRemote(s.GetFlags())})
	}
	for _, e := range s.GetEvents() {
		stub.Events = append(stub.Events, sdktrace.Event{Name: e.GetName(), Time: unixNano(e.GetTimeUnixNano()),
			Attributes: attrsFromOTLP(e.GetAttributes()), DroppedAttributeCount: int(e.GetDroppedAttributesCount())})
	}
	for _, l := range s.GetLinks() {
		stub.Links = append(stub.Links, sdktrace.Link{
			SpanContext: spanContext(l.GetTraceId(), l.GetSpanId(), l.GetTraceState(), l.GetFlags(), isRemote(l.GetFlags())),
			Attributes:  attrsFromOTLP(l.GetAttributes()), DroppedAttributeCount: int(l.GetDroppedAttributesCount())})
	}
	if st := s.GetStatus(); st != nil {
		switch st.GetCode() {
		case tracepb.Status_STATUS_CODE_OK:
			stub.Status = sdktrace.Status{Code: otelcodes.Ok}
		case tracepb.Status_STATUS_CODE_ERROR:
			stub.Status = sdktrace.Status{Code: otelcodes.Error, Description: st.GetMessage()}
		}
	}
	return stub
}

// isRemote reads the "is remote" bit of OTLP span flags, which is about the span's parent (or,
// on a link, the linked span).
func isRemote(flags uint32) bool {
	return flags&uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK) != 0
}

func spanContext(traceID, spanIDb []byte, state string, flags uint32, remote bool) trace.SpanContext {
	var tid trace.TraceID
	copy(tid[:], traceID)
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: spanID(spanIDb), TraceFlags: trace.TraceFlags(flags & 0xff),
		Remote: remote}
	if ts, err := trace.ParseTraceState(state); err == nil {
		cfg.TraceState = ts
	}
	return trace.NewSpanContext(cfg)
}

func spanID(b []byte) trace.SpanID {
	var id trace.SpanID
	copy(id[:], b)
	return id
}

func unixNano(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n))
}

func resourceFromOTLP(r *resourcepb.Resource, schemaURL string) *resource.Resource {
	return resource.NewWithAttributes(schemaURL, attrsFromOTLP(r.GetAttributes())...)
}

func scopeFromOTLP(s *commonpb.InstrumentationScope, schemaURL string) instrumentation.Scope {
	return instrumentation.Scope{Name: s.GetName(), Version: s.GetVersion(), SchemaURL: schemaURL,
		Attributes: attribute.NewSet(attrsFromOTLP(s.GetAttributes())...)}
}

func attrsFromOTLP(kvs []*commonpb.KeyValue) []attribute.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]attribute.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, attrFromOTLP(kv.GetKey(), kv.GetValue()))
	}
	return out
}

// attrFromOTLP maps a value onto the attribute types: homogeneous arrays of scalars become
// slices; anything else that attributes cannot hold (bytes, maps, mixed arrays) becomes text.
func attrFromOTLP(k string, v *commonpb.AnyValue) attribute.KeyValue {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return attribute.String(k, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return attribute.Bool(k, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return attribute.Int64(k, x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return attribute.Float64(k, x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return attribute.String(k, hex.EncodeToString(x.BytesValue))
	case *commonpb.AnyValue_ArrayValue:
		if kv, ok := sliceAttr(k, x.ArrayValue.GetValues()); ok {
			return kv
		}
	}
	return attribute.String(k, anyText(v))
}

func sliceAttr(k string, vs []*commonpb.AnyValue) (attribute.KeyValue, bool) {
	if len(vs) == 0 {
		return attribute.StringSlice(k, nil), true
	}
	switch vs[0].GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return collect(vs, func(v *commonpb.AnyValue) (string, bool) {
			return v.GetStringValue(), isValue[*commonpb.AnyValue_StringValue](v)
		}, func(s []string) attribute.KeyValue { return attribute.StringSlice(k, s) })
	case *commonpb.AnyValue_BoolValue:
		return collect(vs, func(v *commonpb.AnyValue) (bool, bool) {
			return v.GetBoolValue(), isValue[*commonpb.AnyValue_BoolValue](v)
		}, func(s []bool) attribute.KeyValue { return attribute.BoolSlice(k, s) })
	case *commonpb.AnyValue_IntValue:
		return collect(vs, func(v *commonpb.AnyValue) (int64, bool) {
			return v.GetIntValue(), isValue[*commonpb.AnyValue_IntValue](v)
		}, func(s []int64) attribute.KeyValue { return attribute.Int64Slice(k, s) })
	case *commonpb.AnyValue_DoubleValue:
		return collect(vs, func(v *commonpb.AnyValue) (float64, bool) {
			return v.GetDoubleValue(), isValue[*commonpb.AnyValue_DoubleValue](v)
		}, func(s []float64) attribute.KeyValue { return attribute.Float64Slice(k, s) })
	}
	return attribute.KeyValue{}, false
}

func isValue[T any](v *commonpb.AnyValue) bool {
	_, ok := v.GetValue().(T)
	return ok
}

// collect gets one scalar of type T from each value, or fails if one is of another type.
func collect[T any](vs []*commonpb.AnyValue, get func(*commonpb.AnyValue) (T, bool), build func([]T) attribute.KeyValue) (attribute.KeyValue, bool) {
	out := make([]T, 0, len(vs))
	for _, v := range vs {
		x, ok := get(v)
		if !ok {
			return attribute.KeyValue{}, false
		}
		out = append(out, x)
	}
	return build(out), true
}

// anyText renders a value attributes cannot hold as JSON-like text.
func anyText(v *commonpb.AnyValue) string {
	var conv func(*commonpb.AnyValue) any
	conv = func(v *commonpb.AnyValue) any {
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return x.StringValue
		case *commonpb.AnyValue_BoolValue:
			return x.BoolValue
		case *commonpb.AnyValue_IntValue:
			return x.IntValue
		case *commonpb.AnyValue_DoubleValue:
			return x.DoubleValue
		case *commonpb.AnyValue_BytesValue:
			return hex.EncodeToString(x.BytesValue)
		case *commonpb.AnyValue_ArrayValue:
			var out []any
			for _, e := range x.ArrayValue.GetValues() {
				out = append(out, conv(e))
			}
			return out
		case *commonpb.AnyValue_KvlistValue:
			out := map[string]any{}
			for _, kv := range x.KvlistValue.GetValues() {
				out[kv.GetKey()] = conv(kv.GetValue())
			}
			return out
		}
		return nil
	}
	b, _ := json.Marshal(conv(v))
	return string(b)
}

// metricsFromOTLP converts exported metrics to one ResourceMetrics (a plugin process has one
// resource).
func metricsFromOTLP(rms []*metricspb.ResourceMetrics) *metricdata.ResourceMetrics {
	out := &metricdata.ResourceMetrics{}
	for _, rm := range rms {
		out.Resource = resourceFromOTLP(rm.GetResource(), rm.GetSchemaUrl())
		for _, sm := range rm.GetScopeMetrics() {
			scope := metricdata.ScopeMetrics{Scope: scopeFromOTLP(sm.GetScope(), sm.GetSchemaUrl())}
			for _, m := range sm.GetMetrics() {
				if data := aggregationFromOTLP(m); data != nil {
					scope.Metrics = append(scope.Metrics, metricdata.Metrics{Name: m.GetName(),
						Description: m.GetDescription(), Unit: m.GetUnit(), Data: data})
				}
			}
			out.ScopeMetrics = append(out.ScopeMetrics, scope)
		}
	}
	return out
}

func aggregationFromOTLP(m *metricspb.Metric) metricdata.Aggregation {
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Gauge:
		pts := d.Gauge.GetDataPoints()
		if isInt(pts) {
			return metricdata.Gauge[int64]{DataPoints: numberPoints(pts, (*metricspb.NumberDataPoint).GetAsInt)}
		}
		return metricdata.Gauge[float64]{DataPoints: numberPoints(pts, (*metricspb.NumberDataPoint).GetAsDouble)}
	case *metricspb.Metric_Sum:
		pts, temp, mono := d.Sum.GetDataPoints(), temporality(d.Sum.GetAggregationTemporality()), d.Sum.GetIsMonotonic()
		if isInt(pts) {
			return metricdata.Sum[int64]{Temporality: temp, IsMonotonic: mono,
				DataPoints: numberPoints(pts, (*metricspb.NumberDataPoint).GetAsInt)}
		}
		return metricdata.Sum[float64]{Temporality: temp, IsMonotonic: mono,
			DataPoints: numberPoints(pts, (*metricspb.NumberDataPoint).GetAsDouble)}
	case *metricspb.Metric_Histogram:
		h := metricdata.Histogram[float64]{Temporality: temporality(d.Histogram.GetAggregationTemporality())}
		for _, p := range d.Histogram.GetDataPoints() {
			hp := metricdata.HistogramDataPoint[float64]{Attributes: attribute.NewSet(attrsFromOTLP(p.GetAttributes())...),
				StartTime: unixNano(p.GetStartTimeUnixNano()), Time: unixNano(p.GetTimeUnixNano()),
				Count: p.GetCount(), Bounds: p.GetExplicitBounds(), BucketCounts: p.GetBucketCounts(), Sum: p.GetSum()}
			if p.Min != nil {
				hp.Min = metricdata.NewExtrema(p.GetMin())
			}
			if p.Max != nil {
				hp.Max = metricdata.NewExtrema(p.GetMax())
			}
			h.DataPoints = append(h.DataPoints, hp)
		}
		return h
	}
	return nil
}

func isInt(pts []*metricspb.NumberDataPoint) bool {
	if len(pts) == 0 {
		return true
	}
	_, ok := pts[0].GetValue().(*metricspb.NumberDataPoint_AsInt)
	return ok
}

func numberPoints[N int64 | float64](pts []*metricspb.NumberDataPoint, value func(*metricspb.NumberDataPoint) N) []metricdata.DataPoint[N] {
	out := make([]metricdata.DataPoint[N], 0, len(pts))
	for _, p := range pts {
		out = append(out, metricdata.DataPoint[N]{Attributes: attribute.NewSet(attrsFromOTLP(p.GetAttributes())...),
			StartTime: unixNano(p.GetStartTimeUnixNano()), Time: unixNano(p.GetTimeUnixNano()), Value: value(p)})
	}
	return out
}

func temporality(t metricspb.AggregationTemporality) metricdata.Temporality {
	if t == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
		return metricdata.DeltaTemporality
	}
	return metricdata.CumulativeTemporality
}
