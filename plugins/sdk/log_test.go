package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// The handler's lines must parse the way go-plugin's client parses plugin stderr: a JSON
// object with "@level", "@message" and "@timestamp" in hclog's layout, attributes as keys.
func TestLogHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
	log = log.With("plugin", "srs").WithGroup("http")
	log.Log(t.Context(), slog.LevelDebug-4, "trace line")
	log.Debug("debug line")
	log.Info("served", "status", 200, "took", 1500*time.Millisecond, slog.Group("req", "id", "r1", "bytes", uint64(7)))
	log.Warn("slow", "ratio", 0.5, "nan", math.NaN(), "ok", true)
	log.Error("failed", "error", errors.New("boom"), "at", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), "list", []int{1, 2})

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), buf.String())
	}
	wantLevels := []string{"trace", "debug", "info", "warn", "error"}
	var parsed []map[string]any
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, l)
		}
		if m["@level"] != wantLevels[i] {
			t.Errorf("line %d level %v, want %s", i, m["@level"], wantLevels[i])
		}
		ts, _ := m["@timestamp"].(string)
		if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
			t.Errorf("line %d timestamp %q does not parse as go-plugin parses it: %v", i, ts, err)
		}
		if m["plugin"] != "srs" {
			t.Errorf("line %d lost the With attribute: %v", i, m)
		}
		parsed = append(parsed, m)
	}
	want := map[string]any{
		"@message": "served", "http.status": float64(200), "http.took": "1.5s",
		"http.req.id": "r1", "http.req.bytes": float64(7),
	}
	for k, v := range want {
		if parsed[2][k] != v {
			t.Errorf("info line %s = %v, want %v (line %s)", k, parsed[2][k], v, lines[2])
		}
	}
	if parsed[3]["http.nan"] != "NaN" || parsed[3]["http.ok"] != true || parsed[3]["http.ratio"] != 0.5 {
		t.Errorf("warn line = %s", lines[3])
	}
	if parsed[4]["http.error"] != "boom" || parsed[4]["http.at"] != "2025-01-02T03:04:05Z" {
		t.Errorf("error line = %s", lines[4])
	}

	// The default level is info.
	buf.Reset()
	slog.New(NewLogHandler(&buf, nil)).Debug("hidden")
	if buf.Len() != 0 {
		t.Errorf("debug line written at the default level: %s", buf.String())
	}
}

// A line logged with a context inside a span carries its ids, at the top level even in a group.
func TestLogHandlerTraceIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, nil)).WithGroup("http")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xab, 1}, SpanID: trace.SpanID{0xcd, 2}, TraceFlags: trace.FlagsSampled})
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), sc), "in a span", "status", 200)
	log.InfoContext(context.Background(), "no span")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	var in, out map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &in) != nil || json.Unmarshal([]byte(lines[1]), &out) != nil {
		t.Fatalf("lines: %q", lines)
	}
	if in["trace_id"] != sc.TraceID().String() || in["span_id"] != sc.SpanID().String() || in["http.status"] != float64(200) {
		t.Errorf("line in a span: %s", lines[0])
	}
	if _, ok := out["trace_id"]; ok {
		t.Errorf("line without a span: %s", lines[1])
	}
}
