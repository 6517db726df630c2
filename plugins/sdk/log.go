package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// logTimeFormat is the "@timestamp" layout hclog writes and go-plugin's client parses.
const logTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// NewLogHandler returns a slog.Handler that writes one hclog-style JSON object per record to
// w: "@level" (trace, debug, info, warn or error), "@message", "@timestamp", then the
// record's attributes as further keys; a record logged with a context inside a span gets
// "trace_id" and "span_id" first. Groups are flattened into dotted keys ("req.id"),
// errors are written as their text, durations as Go duration strings and times as RFC 3339.
// go-plugin's client parses exactly these lines from a plugin's stderr and re-logs them on
// the host's logger at the same level, with the attributes. Serve installs it; plugins do not
// need to call it. Of opts only Level is used (nil: info).
func NewLogHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	h := &logHandler{mu: new(sync.Mutex), w: w, level: slog.LevelInfo}
	if opts != nil && opts.Level != nil {
		h.level = opts.Level
	}
	return h
}

type logHandler struct {
	mu     *sync.Mutex // shared by the handlers derived from one NewLogHandler, so lines never interleave
	w      io.Writer
	level  slog.Leveler
	prefix string // group prefix of attributes added from now on ("a.b.")
	attrs  []byte // attributes added by WithAttrs, already encoded as `,"key":value`
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	buf := make([]byte, 0, 256)
	buf = append(buf, `{"@level":`...)
	buf = appendJSONString(buf, levelName(r.Level))
	buf = append(buf, `,"@message":`...)
	buf = appendJSONString(buf, r.Message)
	buf = append(buf, `,"@timestamp":`...)
	buf = appendJSONString(buf, t.Format(logTimeFormat))
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		// At the top level, whatever groups are open: the host's log carries them as they are.
		buf = append(buf, `,"trace_id":"`...)
		buf = append(buf, sc.TraceID().String()...)
		buf = append(buf, `","span_id":"`...)
		buf = append(buf, sc.SpanID().String()...)
		buf = append(buf, '"')
	}
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.prefix, a)
		return true
	})
	buf = append(buf, "}\n"...)
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(buf)
	return err
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// levelName maps a slog level to the hclog level name go-plugin understands.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf // slog's rule: empty attributes are ignored
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			buf = appendAttr(buf, p, ga)
		}
		return buf
	}
	buf = append(buf, ',')
	buf = appendJSONString(buf, prefix+a.Key)
	buf = append(buf, ':')
	return appendValue(buf, a.Value)
}

func appendValue(buf []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendJSONString(buf, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(buf, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(buf, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(buf, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(buf, f, 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(buf, v.Bool())
	case slog.KindDuration:
		return appendJSONString(buf, v.Duration().String())
	case slog.KindTime:
		return appendJSONString(buf, v.Time().Format(time.RFC3339Nano))
	}
	x := v.Any()
	if err, ok := x.(error); ok {
		return appendJSONString(buf, err.Error())
	}
	if b, err := json.Marshal(x); err == nil {
		return append(buf, b...)
	}
	return appendJSONString(buf, fmt.Sprint(x))
}

func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(buf, b...)
}
