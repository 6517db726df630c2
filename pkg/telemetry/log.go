package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys of the trace context.
const (
	LogTraceID = "trace_id"
	LogSpanID  = "span_id"
)

// NewLogHandler wraps h so that a record logged with a context inside a span (the *Context
// methods of slog.Logger) carries trace_id and span_id, as hex, at the top level of the line,
// even from a logger with groups. Records without a span context pass through unchanged, at
// the cost of one context lookup.
func NewLogHandler(h slog.Handler) slog.Handler { return &logHandler{base: h, inner: h} }

// logHandler remembers how inner was derived from base (ops), because slog offers no way to
// add a top-level attribute under an open group: for such a record it derives a handler from
// base with the ids added first, then the same groups and attributes.
type logHandler struct {
	base  slog.Handler
	inner slog.Handler // base with ops applied
	ops   []logOp
	group bool // ops hold a group
}

// logOp is one WithGroup (group != "") or WithAttrs call.
type logOp struct {
	group string
	attrs []slog.Attr
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.inner.Handle(ctx, r)
	}
	ids := []slog.Attr{slog.String(LogTraceID, sc.TraceID().String()), slog.String(LogSpanID, sc.SpanID().String())}
	if !h.group {
		r.AddAttrs(ids...)
		return h.inner.Handle(ctx, r)
	}
	hh := h.base.WithAttrs(ids)
	for _, op := range h.ops {
		if op.group != "" {
			hh = hh.WithGroup(op.group)
		} else {
			hh = hh.WithAttrs(op.attrs)
		}
	}
	return hh.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	c.inner = h.inner.WithAttrs(attrs)
	c.ops = append(append([]logOp(nil), h.ops...), logOp{attrs: attrs})
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.inner = h.inner.WithGroup(name)
	c.ops = append(append([]logOp(nil), h.ops...), logOp{group: name})
	c.group = true
	return &c
}
