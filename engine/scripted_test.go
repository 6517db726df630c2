package engine

import (
	"context"
	"errors"
	"image"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/capture/capturetest"
	"github.com/screenrec/recorder/engine/catalog"
)

// The session rules on a scripted screen (capture/capturetest): no X server and no FFmpeg
// programs, so they run in the short tier. Encoding is real (libx264 in-process), on a small
// screen.

// scriptedEngine opens an engine on a fresh spool that captures screen.
func scriptedEngine(t *testing.T, cfg Config, screen *capturetest.Screen) *Engine {
	t.Helper()
	return newEngine(t, cfg, WithCaptureBackend(screen))
}

// twoMonitors is a scripted screen of two small monitors side by side.
func twoMonitors() *capturetest.Screen {
	return &capturetest.Screen{Monitors: []capture.Monitor{
		{Name: "LEFT", Width: 160, Height: 120, Primary: true}, {Name: "RIGHT", X: 160, Width: 160, Height: 120}}}
}

func wantStates(t *testing.T, ev *eventLog, id string, want ...State) {
	t.Helper()
	eventually(t, 5*time.Second, "state events", func() bool { return len(ev.states(id)) >= len(want) })
	if got := ev.states(id); !slices.Equal(got, want) {
		t.Fatalf("states of %s = %v, want %v", id, got, want)
	}
}

func TestScriptedLifecycle(t *testing.T) {
	t.Parallel()
	screen := twoMonitors()
	e := scriptedEngine(t, Config{}, screen)
	ev := watchEvents(t, e)
	req := StartRequest{Owner: "agent1", Frontend: "cli", Labels: map[string]string{"place": "desk-9"},
		Source: Source{Display: ":1", Monitors: capture.Selection{Indexes: []int{1}}}}
	ctx, cancel := context.WithCancel(context.Background())
	began := time.Now()
	s, err := e.Start(ctx, req)
	cancel() // the request's context ends as soon as Start answers: the recording goes on
	if err != nil {
		t.Fatal(err)
	}
	if s.State != StateRecording || s.ContactID < catalog.DefaultContactIDBase || s.InteractionID == "" || s.Encoder != "libx264" {
		t.Fatalf("started session = %+v", s)
	}
	var ae *AlreadyRecordingError
	if _, err := e.Start(context.Background(), req); !errors.As(err, &ae) || !errors.Is(err, ErrAlreadyRecording) || ae.Session.ID != s.ID {
		t.Errorf("second start for the same owner and front end: %v, want ErrAlreadyRecording carrying %s", err, s.ID)
	}
	time.Sleep(300 * time.Millisecond)
	stopping := time.Now()
	got := stop(t, e, s.ID)
	if got.State != StateCompleted || len(got.Segments) != 1 || !got.Segments[0].Closed || len(got.Segments[0].SHA256) != 64 ||
		got.Segments[0].Bytes == 0 {
		t.Fatalf("stopped session = %+v", got)
	}
	// From the start to the stop; the last frame lasts up to a frame time (0.1 s) more.
	if min, max := stopping.Sub(s.StartedAt)-50*time.Millisecond, time.Since(began)+100*time.Millisecond; got.Duration < min || got.Duration > max {
		t.Errorf("duration = %s, want %s to %s", got.Duration, min, max)
	}
	wantStates(t, ev, s.ID, StateStarting, StateRecording, StateStopping, StateFinalizing, StateCompleted)
	eventually(t, 2*time.Second, "pipeline events", func() bool {
		return ev.count(EventPipelineClosed) == 1 && ev.count(EventRecordingCompleted) == 1
	})
	if ev.count(EventPipelineOpened) != 1 || ev.count(EventSegmentClosed) != 1 {
		t.Errorf("pipeline opened/segment closed events: %d/%d, want 1/1", ev.count(EventPipelineOpened), ev.count(EventSegmentClosed))
	}
	jobs, err := e.cat.UploadJobs(context.Background(), catalog.UploadFilter{RecordingID: s.ID})
	if err != nil || len(jobs) != 1 || jobs[0].State != catalog.UploadQueued {
		t.Errorf("upload jobs = %+v, %v", jobs, err)
	}
	if _, err := e.Stop(context.Background(), s.ID); !errors.Is(err, ErrTerminal) {
		t.Errorf("stop of a completed session: %v, want ErrTerminal", err)
	}
	if _, err := e.Stop(context.Background(), "rec-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stop of an unknown session: %v, want ErrNotFound", err)
	}
	if _, err := e.Get(context.Background(), "rec-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get of an unknown session: %v, want ErrNotFound", err)
	}
	if list, err := e.List(context.Background(), ListFilter{Owner: "agent1"}); err != nil || len(list) != 1 || list[0].State != StateCompleted {
		t.Errorf("List = %+v, %v", list, err)
	}
	eventually(t, 2*time.Second, "the source to close", func() bool { return screen.Live() == 0 })
	if n := screen.Opened(); n != 1 {
		t.Errorf("sources opened = %d, want 1 (one track)", n)
	}
}

// Recordings of one owner's screen share one capture; other owners and displays get their
// own, and stopping one leaves the others recording.
func TestScriptedSharing(t *testing.T) {
	t.Parallel()
	screen := twoMonitors()
	e := scriptedEngine(t, Config{}, screen)
	ev := watchEvents(t, e)
	src := Source{Display: ":1"}
	a := start(t, e, StartRequest{Owner: "agent2", Frontend: "srs", Source: src})
	b := start(t, e, StartRequest{Owner: "agent2", Frontend: "cloud", Source: src})
	if n := ev.count(EventPipelineOpened); n != 1 || screen.Live() != 1 {
		t.Fatalf("one owner's two recordings: %d pipelines, %d sources, want 1 and 1", n, screen.Live())
	}
	c := start(t, e, StartRequest{Owner: "agent3", Frontend: "srs", Source: src})
	d := start(t, e, StartRequest{Owner: "agent2", Frontend: "cli", Source: Source{Display: ":2"}})
	if screen.Live() != 3 {
		t.Errorf("another owner and another display: %d sources open, want 3", screen.Live())
	}
	if b.ContactID <= a.ContactID || c.ContactID <= b.ContactID {
		t.Errorf("contact ids %d, %d, %d do not increase", a.ContactID, b.ContactID, c.ContactID)
	}
	time.Sleep(200 * time.Millisecond)
	stop(t, e, b.ID)
	if s, _ := e.Get(context.Background(), a.ID); s.State != StateRecording {
		t.Fatalf("stopping one recording changed the one sharing its capture: %s", s.State)
	}
	if screen.Live() != 3 {
		t.Errorf("a capture closed while a recording still uses it: %d sources open", screen.Live())
	}
	for _, s := range []Session{a, c, d} {
		if done := stop(t, e, s.ID); done.State != StateCompleted {
			t.Errorf("%s/%s: %s", s.Owner, s.Frontend, done.State)
		}
	}
	eventually(t, 2*time.Second, "every source to close", func() bool { return screen.Live() == 0 })
	if n := ev.count(EventPipelineOpened); n != 3 {
		t.Errorf("pipelines opened = %d, want 3", n)
	}
}

func TestScriptedMasking(t *testing.T) {
	t.Parallel()
	e := scriptedEngine(t, Config{FPS: 20}, twoMonitors())
	ev := watchEvents(t, e)
	s := start(t, e, StartRequest{Owner: "agent4", Frontend: "srs", Source: Source{Display: ":1"}})
	other := start(t, e, StartRequest{Owner: "agent5", Frontend: "srs", Source: Source{Display: ":2"}})
	time.Sleep(200 * time.Millisecond)
	maskCalled := time.Now()
	affected, err := e.Mask(context.Background(), MaskTarget{Owner: "agent4"}, true)
	maskReturned := time.Now()
	if err != nil || len(affected) != 1 || affected[0].ID != s.ID || affected[0].State != StateMasked {
		t.Fatalf("Mask(owner) = %+v, %v; want agent4's session, masked", affected, err)
	}
	if got, _ := e.Get(context.Background(), other.ID); got.State != StateRecording {
		t.Errorf("masking agent4 changed agent5's session: %s", got.State)
	}
	time.Sleep(300 * time.Millisecond)
	unmaskCalled := time.Now()
	if _, err := e.Mask(context.Background(), MaskTarget{Owner: "agent4"}, false); err != nil {
		t.Fatal(err)
	}
	unmaskReturned := time.Now()
	time.Sleep(200 * time.Millisecond)
	done := stop(t, e, s.ID)
	// Masked from a moment during the Mask call to one during the unmask call (intervals are
	// kept in whole milliseconds).
	since := func(at time.Time) time.Duration { return at.Sub(s.StartedAt) }
	within := func(d time.Duration, from, to time.Time) bool {
		return d >= since(from)-time.Millisecond && d <= since(to)+time.Millisecond
	}
	if len(done.MaskedIntervals) != 1 {
		t.Errorf("masked intervals %+v, want one", done.MaskedIntervals)
	} else if iv := done.MaskedIntervals[0]; !within(iv.Start, maskCalled, maskReturned) ||
		!within(iv.End, unmaskCalled, unmaskReturned) || !near(done.Masked, iv.End-iv.Start, time.Millisecond) {
		t.Errorf("masked %+v (total %s), want from within the Mask call (%s–%s) to within the unmask call (%s–%s)",
			iv, done.Masked, since(maskCalled), since(maskReturned), since(unmaskCalled), since(unmaskReturned))
	}
	wantStates(t, ev, s.ID, StateStarting, StateRecording, StateMasked, StateRecording, StateStopping, StateFinalizing, StateCompleted)

	// A display masked before a start: the session starts masked, from its very start.
	if _, err := e.Mask(context.Background(), MaskTarget{Display: ":3"}, true); err != nil {
		t.Fatal(err)
	}
	m := start(t, e, StartRequest{Owner: "agent6", Frontend: "srs", Source: Source{Display: ":3"}})
	if m.State != StateMasked {
		t.Fatalf("started on a masked display: %s, want masked", m.State)
	}
	time.Sleep(200 * time.Millisecond)
	mDone := stop(t, e, m.ID)
	if len(mDone.MaskedIntervals) != 1 || mDone.MaskedIntervals[0].Start != 0 || !near(mDone.Masked, mDone.Duration, 50*time.Millisecond) {
		t.Errorf("masked intervals %+v, masked %s of %s; want all of it", mDone.MaskedIntervals, mDone.Masked, mDone.Duration)
	}
	if _, err := e.Mask(context.Background(), MaskTarget{}, true); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("Mask without owner or display: %v, want ErrInvalidRequest", err)
	}
}

func TestScriptedLimits(t *testing.T) {
	t.Parallel()
	region := Source{Display: ":1", Region: image.Rect(0, 0, 64, 48)}
	t.Run("MaxSessions", func(t *testing.T) {
		t.Parallel()
		e := scriptedEngine(t, Config{MaxSessions: 1}, twoMonitors())
		s := start(t, e, StartRequest{Owner: "a", Frontend: "srs", Source: region})
		if _, err := e.Start(context.Background(), StartRequest{Owner: "b", Frontend: "srs", Source: region}); !errors.Is(err, ErrTooManySessions) {
			t.Errorf("start beyond max sessions: %v, want ErrTooManySessions", err)
		}
		stop(t, e, s.ID)
		start(t, e, StartRequest{Owner: "b", Frontend: "srs", Source: region}) // room again
	})
	t.Run("MaxDuration", func(t *testing.T) {
		t.Parallel()
		e := scriptedEngine(t, Config{MaxDuration: 400 * time.Millisecond}, twoMonitors())
		ev := watchEvents(t, e)
		s := start(t, e, StartRequest{Owner: "a", Frontend: "cloud", Source: region, Limits: Limits{MaxDuration: time.Hour}})
		eventually(t, 5*time.Second, "the session to complete by itself", func() bool {
			got, _ := e.Get(context.Background(), s.ID)
			return got.State == StateCompleted
		})
		got, _ := e.Get(context.Background(), s.ID)
		if got.Duration < 350*time.Millisecond || got.Duration > time.Second {
			t.Errorf("duration %s, want the engine's cap of 0.4 s (the request asked an hour)", got.Duration)
		}
		wantStates(t, ev, s.ID, StateStarting, StateRecording, StateStopping, StateFinalizing, StateCompleted)
	})
	t.Run("SpoolQuota", func(t *testing.T) {
		t.Parallel()
		e := scriptedEngine(t, Config{SpoolQuota: 1}, twoMonitors())
		first := stop(t, e, start(t, e, StartRequest{Owner: "a", Frontend: "srs", Source: region}).ID)
		if _, err := e.Start(context.Background(), StartRequest{Owner: "a", Frontend: "srs", Source: region}); !errors.Is(err, ErrSpoolQuota) {
			t.Errorf("start over quota: %v, want ErrSpoolQuota", err)
		}
		if _, err := os.Stat(first.Segments[0].Path); err != nil {
			t.Errorf("the quota deleted a recording: %v", err)
		}
	})
	t.Run("InvalidRequests", func(t *testing.T) {
		t.Parallel()
		e := scriptedEngine(t, Config{}, twoMonitors())
		for _, req := range []StartRequest{
			{Frontend: "srs"}, {Owner: "a"},
			{Owner: "a", Frontend: "srs", Limits: Limits{MaxDuration: -time.Second}},
			{Owner: "a", Frontend: "srs", Source: Source{Layout: "diagonal"}},
		} {
			if _, err := e.Start(context.Background(), req); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("Start(%+v) = %v, want ErrInvalidRequest", req, err)
			}
		}
		_, err := e.Start(context.Background(), StartRequest{Owner: "a", Frontend: "srs", Source: Source{Display: ":1", Monitors: capture.Selection{Indexes: []int{5}}}})
		if !errors.Is(err, capture.ErrUnknownMonitor) {
			t.Errorf("start on monitor 5 of 2: %v, want capture.ErrUnknownMonitor", err)
		}
	})
}

// A stop while the session is starting is busy; once it records, the stop goes through; a
// stop of an ended session is terminal.
func TestScriptedBusyAndTerminal(t *testing.T) {
	t.Parallel()
	screen := twoMonitors()
	screen.Hold = make(chan struct{})
	e := scriptedEngine(t, Config{}, screen)
	started := make(chan Session, 1)
	go func() {
		s, err := e.Start(context.Background(), StartRequest{Owner: "a", Frontend: "srs", Source: Source{Display: ":1"}})
		if err != nil {
			t.Errorf("Start: %v", err)
		}
		started <- s
	}()
	var id string
	eventually(t, 5*time.Second, "the session to be starting", func() bool {
		list, _ := e.List(context.Background(), ListFilter{Owner: "a", States: []State{StateStarting}})
		if len(list) == 1 {
			id = list[0].ID
		}
		return id != ""
	})
	if s, err := e.Stop(context.Background(), id); !errors.Is(err, ErrBusy) || s.State != StateStarting {
		t.Errorf("stop while starting = %s, %v; want starting, ErrBusy", s.State, err)
	}
	close(screen.Hold)
	s := <-started
	if s.ID != id || s.State != StateRecording {
		t.Fatalf("started %+v, want %s recording", s, id)
	}
	stop(t, e, id)
	if _, err := e.Stop(context.Background(), id); !errors.Is(err, ErrTerminal) {
		t.Errorf("second stop: %v, want ErrTerminal", err)
	}
}

// A capture that cannot open fails the start; one that fails while recording fails its
// sessions, and both say why.
func TestScriptedCaptureFailures(t *testing.T) {
	t.Parallel()
	openErr := errors.New("scripted: no such screen")
	e := scriptedEngine(t, Config{}, &capturetest.Screen{OpenErr: openErr})
	ev := watchEvents(t, e)
	s, err := e.Start(context.Background(), StartRequest{Owner: "a", Frontend: "srs"})
	if !errors.Is(err, openErr) || s.State != StateFailed || s.Error == "" {
		t.Errorf("start on a screen that cannot open = %+v, %v; want failed with its error", s, err)
	}
	wantStates(t, ev, s.ID, StateStarting, StateFailed)

	f := scriptedEngine(t, Config{}, &capturetest.Screen{FailAfter: 300 * time.Millisecond})
	fev := watchEvents(t, f)
	s = start(t, f, StartRequest{Owner: "a", Frontend: "srs"})
	eventually(t, 5*time.Second, "the session to fail", func() bool {
		got, _ := f.Get(context.Background(), s.ID)
		return got.State.Terminal()
	})
	got, _ := f.Get(context.Background(), s.ID)
	if got.State != StateFailed || got.Error == "" {
		t.Errorf("a capture failing mid-recording left the session %s (%q), want failed with the reason", got.State, got.Error)
	}
	eventually(t, 2*time.Second, "the pipeline to close", func() bool { return fev.count(EventPipelineClosed) == 1 })
}
