package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Wait returns once a session has ended, however it ended, with its final snapshot.
func TestWaitForOneSession(t *testing.T) {
	t.Parallel()
	e := scriptedEngine(t, Config{}, twoMonitors())
	ev := watchEvents(t, e)
	s := start(t, e, StartRequest{Owner: "agent", Frontend: "oem", Limits: Limits{MaxDuration: 500 * time.Millisecond}})

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if got, err := e.Wait(short, s.ID); !errors.Is(err, context.DeadlineExceeded) || got.ID != s.ID || got.State.Terminal() {
		t.Errorf("Wait with a short context = %s, %v; want the running session and the context's error", got.State, err)
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel2()
	got, err := e.Wait(ctx, s.ID) // it ends by itself, at its max duration
	if err != nil || got.State != StateCompleted || len(got.Segments) != 1 || !got.Segments[0].Closed {
		t.Fatalf("Wait = %+v, %v; want completed with its closed segment", got, err)
	}
	// Ended: Wait answers at once, from the catalog.
	if again, err := e.Wait(ctx, s.ID); err != nil || again.State != StateCompleted {
		t.Errorf("Wait on an ended session = %s, %v", again.State, err)
	}
	if _, err := e.Wait(ctx, "rec-none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Wait on an unknown session: %v, want ErrNotFound", err)
	}
	// Events may still be on their way to subscribers when Wait (or Stop) returns.
	eventually(t, 5*time.Second, "the completion event", func() bool { return ev.count(EventRecordingCompleted) == 1 })
}
