package engine

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

var (
	leftColour  = color.RGBA{200, 40, 40, 255}
	rightColour = color.RGBA{40, 180, 60, 255}
	black       = color.RGBA{0, 0, 0, 255}
)

// testDisplay starts a private two-monitor display painted left red, right green.
func testDisplay(t *testing.T) *xvfb.Server {
	t.Helper()
	mediatest.SkipIfUnavailable(t)
	srv := xvfb.StartForTest(t, xvfb.TwoMonitors)
	p, err := xscene.Connect(srv.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i, c := range []color.RGBA{leftColour, rightColour} {
		if err := p.Fill(srv.Monitors[i].Bounds(), c); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// newEngine opens an engine on a fresh spool, closed at the end of the test.
func newEngine(t *testing.T, cfg Config, opts ...Option) *Engine {
	t.Helper()
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = t.TempDir()
	}
	if cfg.MinFreeDisk == 0 {
		cfg.MinFreeDisk = -1
	}
	e, err := New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	return e
}

// eventLog collects an engine's events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func watchEvents(t *testing.T, e *Engine) *eventLog {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &eventLog{}
	ch := e.Events(ctx)
	go func() {
		for ev := range ch {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *eventLog) states(id string) []State {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []State
	for _, ev := range r.events {
		if ev.Kind == EventStateChanged && ev.SessionID == id {
			out = append(out, ev.To)
		}
	}
	return out
}

func (r *eventLog) count(kind EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func start(t *testing.T, e *Engine, req StartRequest) Session {
	t.Helper()
	s, err := e.Start(context.Background(), req)
	if err != nil {
		t.Fatalf("Start(%+v): %v", req, err)
	}
	return s
}

func stop(t *testing.T, e *Engine, id string) Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := e.Stop(ctx, id)
	if err != nil {
		t.Fatalf("Stop(%s): %v", id, err)
	}
	return s
}

func probe(t *testing.T, path string) *mediatest.Probe {
	t.Helper()
	p, err := mediatest.ProbeFile(context.Background(), path)
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return p
}

func pixel(t *testing.T, path string, at float64, x, y int) color.RGBA {
	t.Helper()
	img, err := mediatest.FrameAt(context.Background(), path, 0, at)
	if err != nil {
		t.Fatalf("frame at %.2fs of %s: %v", at, path, err)
	}
	return img.RGBAAt(x, y)
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func near(got, want, tol time.Duration) bool { return got >= want-tol && got <= want+tol }

func TestLifecycle(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	ev := watchEvents(t, e)
	req := StartRequest{Owner: "agent1", Frontend: "cli", Reason: "test", Labels: map[string]string{"place": "desk-9"},
		Source: Source{Display: srv.Display, Monitors: capture.Selection{Indexes: []int{1}}}}
	// The request's context ends as soon as Start answers (as an HTTP or RPC one does): the
	// recording must go on regardless.
	ctx, cancel := context.WithCancel(context.Background())
	s, err := e.Start(ctx, req)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if s.State != StateRecording || s.ContactID < catalog.DefaultContactIDBase || s.InteractionID == "" || s.Encoder != "libx264" {
		t.Fatalf("started session = %+v", s)
	}
	if _, err := e.Start(context.Background(), req); !errors.Is(err, ErrAlreadyRecording) {
		t.Errorf("second start for the same owner and front end: %v, want ErrAlreadyRecording", err)
	} else if ae := (*AlreadyRecordingError)(nil); !errors.As(err, &ae) || ae.Session.ID != s.ID {
		t.Errorf("ErrAlreadyRecording does not carry the running session: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	got := stop(t, e, s.ID)
	if got.State != StateCompleted || len(got.Segments) != 1 || !got.Segments[0].Closed || len(got.Segments[0].SHA256) != 64 {
		t.Fatalf("stopped session = %+v", got)
	}
	if !near(got.Duration, 1500*time.Millisecond, 500*time.Millisecond) {
		t.Errorf("duration = %s, want 1.5 s ±0.5", got.Duration)
	}
	p := probe(t, got.Segments[0].Path)
	tags := p.Format.Tags
	if tags["recording_id"] != s.ID || tags["owner"] != "agent1" || tags["label_place"] != "desk-9" || tags["interaction_id"] != s.InteractionID {
		t.Errorf("file tags = %v", tags)
	}
	if c := pixel(t, got.Segments[0].Path, 0.5, 640, 360); !mediatest.Near(c, rightColour, 14) {
		t.Errorf("monitor 1 shows %v, want %v", c, rightColour)
	}
	want := []State{StateStarting, StateRecording, StateStopping, StateFinalizing, StateCompleted}
	eventually(t, 2*time.Second, "all state events", func() bool { return len(ev.states(s.ID)) == len(want) })
	for i, st := range ev.states(s.ID) {
		if st != want[i] {
			t.Fatalf("states = %v, want %v", ev.states(s.ID), want)
		}
	}
	if ev.count(EventSegmentClosed) != 1 || ev.count(EventRecordingCompleted) != 1 {
		t.Errorf("segment/completed events: %d/%d", ev.count(EventSegmentClosed), ev.count(EventRecordingCompleted))
	}
	jobs, err := e.cat.UploadJobs(context.Background(), catalog.UploadFilter{RecordingID: s.ID})
	if err != nil || len(jobs) != 1 || jobs[0].State != catalog.UploadQueued || jobs[0].Target != DefaultUploadTarget {
		t.Errorf("upload jobs = %+v, %v", jobs, err)
	}
	if _, err := e.Stop(context.Background(), s.ID); !errors.Is(err, ErrTerminal) {
		t.Errorf("stop of a completed session: %v, want ErrTerminal", err)
	}
	if _, err := e.Stop(context.Background(), "rec-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stop of an unknown session: %v, want ErrNotFound", err)
	}
	list, err := e.List(context.Background(), ListFilter{Owner: "agent1"})
	if err != nil || len(list) != 1 || list[0].State != StateCompleted {
		t.Errorf("List = %+v, %v", list, err)
	}
}

// Two overlapping recordings of one screen share one capture and one encode; each file covers
// its own interval.
func TestOverlappingRecordingsShareOneEncode(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	ev := watchEvents(t, e)
	src := Source{Display: srv.Display}
	a := start(t, e, StartRequest{Owner: "agent2", Frontend: "srs", Source: src})
	time.Sleep(time.Second)
	b := start(t, e, StartRequest{Owner: "agent2", Frontend: "cloud", Source: src})
	time.Sleep(2 * time.Second)
	bStop := time.Now()
	bDone := stop(t, e, b.ID)
	bStopped := time.Now()
	time.Sleep(time.Second)
	if s, _ := e.Get(context.Background(), a.ID); s.State != StateRecording {
		t.Fatalf("stopping one recording changed the other: %s", s.State)
	}
	aStop := time.Now()
	aDone := stop(t, e, a.ID)
	aStopped := time.Now()

	if n := ev.count(EventPipelineOpened); n != 1 {
		t.Errorf("pipelines opened = %d, want 1 (one capture and encode for both)", n)
	}
	if b.ContactID <= a.ContactID {
		t.Errorf("contact ids %d then %d do not increase", a.ContactID, b.ContactID)
	}
	for _, c := range []struct {
		s             Session
		stop, stopped time.Time
	}{{aDone, aStop, aStopped}, {bDone, bStop, bStopped}} {
		p := probe(t, c.s.Segments[0].Path)
		got := time.Duration(p.Format.Duration * float64(time.Second))
		// The file lasts from the start until the stop, which came during the Stop call.
		if from, to := c.stop.Sub(c.s.StartedAt), c.stopped.Sub(c.s.StartedAt); got < from-100*time.Millisecond || got > to+100*time.Millisecond {
			t.Errorf("%s's file lasts %s, want from %s to %s (the Stop call)", c.s.Frontend, got, from, to)
		}
		start, err := time.Parse(time.RFC3339Nano, p.Format.Tags["start_time"])
		if err != nil || !near(start.Sub(c.s.StartedAt), 0, 10*time.Millisecond) {
			t.Errorf("%s's start_time tag %v, session started %v", c.s.Frontend, start, c.s.StartedAt)
		}
		if px := pixel(t, c.s.Segments[0].Path, 0.3, 320, 360); !mediatest.Near(px, leftColour, 14) {
			t.Errorf("%s's first frames show %v, want %v", c.s.Frontend, px, leftColour)
		}
	}
}

func TestMasking(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{FPS: 15})
	ev := watchEvents(t, e)
	s := start(t, e, StartRequest{Owner: "agent3", Frontend: "srs", Source: Source{Display: srv.Display, Monitors: capture.Selection{Indexes: []int{0}}}})
	time.Sleep(time.Second)
	affected, err := e.Mask(context.Background(), MaskTarget{Owner: "agent3"}, true)
	if err != nil || len(affected) != 1 || affected[0].State != StateMasked {
		t.Fatalf("Mask = %+v, %v", affected, err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := e.Mask(context.Background(), MaskTarget{Owner: "agent3"}, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	done := stop(t, e, s.ID)

	if len(done.MaskedIntervals) != 1 {
		t.Fatalf("masked intervals = %+v, want one", done.MaskedIntervals)
	}
	iv := done.MaskedIntervals[0]
	if !near(iv.Start, time.Second, 300*time.Millisecond) || !near(iv.End, 2500*time.Millisecond, 300*time.Millisecond) ||
		!near(done.Masked, 1500*time.Millisecond, 300*time.Millisecond) {
		t.Errorf("masked %+v (total %s), want 1.0 s – 2.5 s", iv, done.Masked)
	}
	path := done.Segments[0].Path
	mid := (iv.Start + iv.End).Seconds() / 2
	samples := []struct {
		at   float64
		want color.RGBA
	}{{iv.Start.Seconds() - 0.4, leftColour}, {mid, black}, {iv.End.Seconds() - 0.2, black}, {iv.End.Seconds() + 0.4, leftColour}}
	var times []float64
	for _, c := range samples {
		times = append(times, c.at)
	}
	imgs, err := mediatest.FramesAt(context.Background(), path, 0, times...) // one decode for all
	if err != nil {
		t.Fatalf("frames at %v of %s: %v", times, path, err)
	}
	for i, c := range samples {
		if px := imgs[i].RGBAAt(640, 360); !mediatest.Near(px, c.want, 14) {
			t.Errorf("at %.2fs the screen shows %v, want %v", c.at, px, c.want)
		}
	}
	want := []State{StateStarting, StateRecording, StateMasked, StateRecording, StateStopping, StateFinalizing, StateCompleted}
	eventually(t, 2*time.Second, "state events", func() bool { return len(ev.states(s.ID)) == len(want) })
	for i, st := range ev.states(s.ID) {
		if st != want[i] {
			t.Fatalf("states = %v, want %v", ev.states(s.ID), want)
		}
	}
}

func TestStartWhileMaskedStartsMasked(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	if _, err := e.Mask(context.Background(), MaskTarget{Display: srv.Display}, true); err != nil {
		t.Fatal(err)
	}
	s := start(t, e, StartRequest{Owner: "agent4", Frontend: "srs", Source: Source{Display: srv.Display}})
	if s.State != StateMasked {
		t.Fatalf("state = %s, want masked", s.State)
	}
	time.Sleep(time.Second)
	done := stop(t, e, s.ID)
	if px := pixel(t, done.Segments[0].Path, 0.5, 320, 360); !mediatest.Near(px, black, 14) {
		t.Errorf("masked from the start, but the screen shows %v", px)
	}
	if len(done.MaskedIntervals) != 1 || done.MaskedIntervals[0].Start != 0 || !near(done.Masked, done.Duration, 50*time.Millisecond) {
		t.Errorf("masked intervals %+v, masked %s of %s", done.MaskedIntervals, done.Masked, done.Duration)
	}
}

func TestMaxDurationStopsByItself(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	s := start(t, e, StartRequest{Owner: "agent5", Frontend: "cloud", Limits: Limits{MaxDuration: 3 * time.Second},
		Source: Source{Display: srv.Display, Region: image.Rect(0, 0, 640, 360)}})
	eventually(t, 6*time.Second, "the session to complete", func() bool {
		got, _ := e.Get(context.Background(), s.ID)
		return got.State == StateCompleted
	})
	got, _ := e.Get(context.Background(), s.ID)
	p := probe(t, got.Segments[0].Path)
	if d := time.Duration(p.Format.Duration * float64(time.Second)); !near(d, 3*time.Second, 500*time.Millisecond) {
		t.Errorf("file lasts %s, want 3 s ±0.5", d)
	}
	if !near(got.Duration, 3*time.Second, 500*time.Millisecond) {
		t.Errorf("session duration %s, want 3 s ±0.5", got.Duration)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	region := Source{Display: srv.Display, Region: image.Rect(0, 0, 320, 240)}

	e := newEngine(t, Config{MaxSessions: 1})
	s := start(t, e, StartRequest{Owner: "a", Frontend: "srs", Source: region})
	if _, err := e.Start(context.Background(), StartRequest{Owner: "b", Frontend: "srs", Source: region}); !errors.Is(err, ErrTooManySessions) {
		t.Errorf("start beyond max sessions: %v, want ErrTooManySessions", err)
	}
	time.Sleep(500 * time.Millisecond)
	done := stop(t, e, s.ID)

	// A quota already used up refuses new starts and deletes nothing.
	spool := t.TempDir()
	q := newEngine(t, Config{SpoolDir: spool, SpoolQuota: 1})
	first := start(t, q, StartRequest{Owner: "a", Frontend: "srs", Source: region})
	// The quota is enforced while recording too: the first recording's own bytes reach it,
	// and the engine ends it, keeping what it recorded.
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	firstDone, err := q.Wait(wctx, first.ID)
	cancel()
	if err != nil || firstDone.State != StateFailed || !strings.Contains(firstDone.Error, "quota") {
		t.Fatalf("recording over the quota: %s %q, %v; want failed, naming the quota", firstDone.State, firstDone.Error, err)
	}
	if _, err := q.Start(context.Background(), StartRequest{Owner: "a", Frontend: "srs", Source: region}); !errors.Is(err, ErrSpoolQuota) {
		t.Errorf("start over quota: %v, want ErrSpoolQuota", err)
	}
	if _, err := os.Stat(firstDone.Segments[0].Path); err != nil {
		t.Errorf("the quota deleted a recording: %v", err)
	}

	d := newEngine(t, Config{MinFreeDisk: 1 << 62})
	if _, err := d.Start(context.Background(), StartRequest{Owner: "a", Frontend: "srs", Source: region}); !errors.Is(err, ErrDiskFull) {
		t.Errorf("start below the free-disk floor: %v, want ErrDiskFull", err)
	}
	if _, err := d.Start(context.Background(), StartRequest{Frontend: "srs"}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("start without an owner: %v, want ErrInvalidRequest", err)
	}
	_ = done
	entries, _ := os.ReadDir(filepath.Dir(firstDone.Segments[0].Path))
	if len(entries) != 1 {
		t.Errorf("recording folder holds %d files, want 1", len(entries))
	}
}

// Sessions on different displays (a shared host with one display per agent) are independent:
// each has its own capture, and stopping one leaves the other recording.
func TestDifferentDisplaysAreIndependent(t *testing.T) {
	t.Parallel()
	d1, d2 := testDisplay(t), testDisplay(t)
	e := newEngine(t, Config{})
	ev := watchEvents(t, e)
	a := start(t, e, StartRequest{Owner: "agentA", Frontend: "srs", Source: Source{Display: d1.Display}})
	b := start(t, e, StartRequest{Owner: "agentB", Frontend: "srs", Source: Source{Display: d2.Display}})
	bStarted := time.Now()
	time.Sleep(time.Second)
	stop(t, e, a.ID)
	time.Sleep(time.Second)
	if got, _ := e.Get(context.Background(), b.ID); got.State != StateRecording {
		t.Fatalf("stopping the session on %s changed the one on %s: %s", d1.Display, d2.Display, got.State)
	}
	// As long as it ran, however long the first one's stop took on a loaded machine.
	ran := time.Since(bStarted)
	done := stop(t, e, b.ID)
	if n := ev.count(EventPipelineOpened); n != 2 {
		t.Errorf("pipelines opened = %d, want one per display", n)
	}
	if !near(done.Duration, ran, 500*time.Millisecond) {
		t.Errorf("the second display's recording lasts %s, want the %s it ran", done.Duration, ran)
	}
}
