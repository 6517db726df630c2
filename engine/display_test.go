package engine

import (
	"testing"
	"time"
)

// A service runs without $DISPLAY: Config.Display is what a request that names no display
// records.
func TestConfigDisplayIsTheDefaultDisplay(t *testing.T) {
	srv := testDisplay(t)
	t.Setenv("DISPLAY", "")
	e := newEngine(t, Config{Display: srv.Display})
	s := start(t, e, StartRequest{Owner: "agent", Frontend: "oem"})
	if s.Source.Display != srv.Display {
		t.Errorf("session records display %q, want %q", s.Source.Display, srv.Display)
	}
	time.Sleep(300 * time.Millisecond)
	got := stop(t, e, s.ID)
	if got.State != StateCompleted || len(got.Segments) != 1 || got.Segments[0].Bytes == 0 {
		t.Fatalf("stopped session = %+v", got)
	}
	// A request's own display still wins.
	s = start(t, e, StartRequest{Owner: "agent", Frontend: "other", Source: Source{Display: srv.Display + ".0"}})
	if s.Source.Display != srv.Display+".0" {
		t.Errorf("session records display %q, want the request's", s.Source.Display)
	}
	stop(t, e, s.ID)
}

// The default display also holds on a scripted screen (the short tier).
func TestConfigDisplayScripted(t *testing.T) {
	t.Parallel()
	e := scriptedEngine(t, Config{Display: ":7"}, twoMonitors())
	s := start(t, e, StartRequest{Owner: "agent", Frontend: "oem"})
	if s.Source.Display != ":7" {
		t.Errorf("session records display %q, want :7", s.Source.Display)
	}
	stop(t, e, s.ID)
}
