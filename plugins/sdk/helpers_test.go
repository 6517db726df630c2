package sdk

import (
	"context"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/screenrec/recorder/engine/api"
)

// Shared fixtures of the package's tests.

// richSession returns a session with every field set to something other than its zero value.
func richSession(id string) api.Session {
	cet := time.FixedZone("CET", 3600)
	return api.Session{
		ID:            id,
		ContactID:     4711,
		InteractionID: "ix-" + id,
		Owner:         "alice",
		Frontend:      "srs",
		Reason:        "customer call",
		State:         api.StateMasked,
		Error:         "encoder hiccup",
		Source: api.Source{
			Display:  ":1",
			Monitors: api.Selection{Indexes: []int{0, 2}},
			Layout:   api.LayoutTracks,
			Region:   image.Rect(10, 20, 650, 500),
		},
		Labels:    map[string]string{"contact": "4711", "place": "desk 3"},
		Encoder:   "libx264",
		CreatedAt: time.Date(2025, 3, 1, 10, 0, 0, 123456789, cet),
		StartedAt: time.Date(2025, 3, 1, 10, 0, 1, 5, cet),
		EndedAt:   time.Date(2025, 3, 1, 10, 30, 0, 0, time.UTC),
		Duration:  90*time.Second + 5,
		Masked:    3 * time.Second,
		MaskedIntervals: []api.Interval{
			{Start: time.Second, End: 2 * time.Second},
			{Start: 80 * time.Second}, // still open
		},
		Segments: []api.SegmentInfo{
			{Index: 0, Path: "/spool/" + id + "-0.mp4", Bytes: 1 << 20, SHA256: "ab12", Closed: true},
			{Index: 1, Path: "/spool/" + id + "-1.mp4", Bytes: 77},
		},
		Interrupted: true,
	}
}

// utcSession returns s with its times in UTC, as they arrive over the wire.
func utcSession(s api.Session) api.Session {
	s.CreatedAt, s.StartedAt, s.EndedAt = s.CreatedAt.UTC(), s.StartedAt.UTC(), s.EndedAt.UTC()
	return s
}

func utcSessions(ss []api.Session) []api.Session {
	out := make([]api.Session, len(ss))
	for i, s := range ss {
		out[i] = utcSession(s)
	}
	return out
}

func richStartRequest() api.StartRequest {
	return api.StartRequest{
		Owner:    "alice",
		Frontend: "srs",
		Reason:   "customer call",
		Source: api.Source{
			Display:  ":1",
			Monitors: api.Selection{Indexes: []int{1}},
			Layout:   api.LayoutCanvas,
			Region:   image.Rect(-100, 0, 1820, 1080), // a monitor left of the primary
		},
		Limits: api.Limits{MaxDuration: 2 * time.Hour},
		Labels: map[string]string{"contact": "4711"},
	}
}

// richEvents returns one event of every kind, with every field set where it means something
// and some where it does not (the wire must not care).
func richEvents() []api.Event {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 999, time.FixedZone("X", -7200))
	return []api.Event{
		{Kind: api.EventStateChanged, Time: t0, SessionID: "s1", From: api.StateIdle, To: api.StateStarting},
		{Kind: api.EventStateChanged, Time: t0.Add(time.Second), SessionID: "s1", From: api.StateRecording, To: api.StateFailed, Reason: "capture lost"},
		{Kind: api.EventSegmentClosed, Time: t0.Add(2 * time.Second), SessionID: "s1",
			Segment: &api.SegmentEvent{Index: 3, Path: "/spool/s1-3.mp4", Bytes: 12345, SHA256: "cafe"}},
		{Kind: api.EventRecordingCompleted, Time: t0.Add(3 * time.Second), SessionID: "s1", Dropped: 7},
		{Kind: api.EventRecordingFailed, Time: t0.Add(4 * time.Second), SessionID: "s2", Reason: "disk full"},
		{Kind: api.EventWarning, Time: t0.Add(5 * time.Second), Reason: "spool at 90%", From: api.StateMasked},
		{Kind: api.EventPipelineOpened, Time: t0.Add(6 * time.Second), Pipeline: ":1/all/canvas", Encoder: "h264_vaapi"},
		{Kind: api.EventPipelineClosed, Time: t0.Add(7 * time.Second), Pipeline: ":1/all/canvas"},
	}
}

func utcEvent(e api.Event) api.Event {
	e.Time = e.Time.UTC()
	return e
}

// servedFrontend serves a MockFrontend that keeps the Engine it is given, through the harness,
// and serves eng to it: it returns the plugin side's view of eng (an Engine client over the
// broker) and the host side's Frontend client.
func servedFrontend(t *testing.T, eng Engine) (pluginEng Engine, host Frontend) {
	t.Helper()
	var mu sync.Mutex
	var got Engine
	host = TestFrontend(t, &MockFrontend{
		ServeFn: func(_ context.Context, e Engine) ([]Endpoint, error) {
			mu.Lock()
			got = e
			mu.Unlock()
			return []Endpoint{{Name: "api", URL: "http://127.0.0.1:1"}}, nil
		},
	})
	if _, err := host.Serve(testCtx(t), eng); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() { _ = host.Stop(context.Background()) })
	mu.Lock()
	defer mu.Unlock()
	if got == nil {
		t.Fatal("the plugin got no engine")
	}
	return got, host
}

// testCtx bounds a test's calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitDone waits for ch to be closed, failing the test after d.
func waitDone(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// pluginTestConn is the harness's connection without the dispensing, for tests that need the
// go-plugin client or server themselves.
func pluginTestConn(t *testing.T, name string, gp plugin.Plugin) (*plugin.GRPCClient, *plugin.GRPCServer) {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{name: gp})
	t.Cleanup(func() {
		server.Stop()
		_ = client.Close()
	})
	return client, server
}
