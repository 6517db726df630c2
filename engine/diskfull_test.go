package engine

import (
	"context"
	"errors"
	"image/color"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/capture/capturetest"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/tmpfs"
)

// A spool on a small real tmpfs, filled by an outside writer while a session records.

// assertCutFile checks that a session's files end at a complete fragment and decode cleanly.
func assertCutFile(t *testing.T, s Session) {
	t.Helper()
	if len(s.Segments) == 0 {
		t.Fatalf("session %s has no segments", s.ID)
	}
	for _, sg := range s.Segments {
		res, err := mux.Inspect(sg.Path)
		if err != nil || res.Truncated != 0 || res.Fragments == 0 {
			t.Errorf("%s: %+v, %v; want complete fragments and nothing to cut", sg.Path, res, err)
		}
		if msgs, err := mediatest.DecodeErrors(context.Background(), sg.Path); err != nil || msgs != "" {
			t.Errorf("%s does not decode cleanly: %v %s", sg.Path, err, msgs)
		}
		t.Logf("%s: %d bytes, %d fragments, %v of media", sg.Path, res.Size, res.Fragments, res.Duration)
	}
}

// startAgain checks that a start works again, without a restart, once space is back.
func startAgain(t *testing.T, e *Engine, filler string) {
	t.Helper()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s, err := e.Start(context.Background(), StartRequest{Owner: "agent2", Frontend: "cli"})
	if err != nil {
		t.Fatalf("start after space came back: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := stop(t, e, s.ID); got.State != StateCompleted {
		t.Fatalf("recording after space came back: %+v", got)
	}
}

// TestDiskBelowFloorEndsRecording: min_free_disk is kept while recording. When an outside
// writer takes the disk below the floor, the running session ends cleanly (its file complete,
// with its trailer) and fails with the reason, persisted while the floor leaves room for it;
// starts are refused until space comes back.
func TestDiskBelowFloorEndsRecording(t *testing.T) {
	mediatest.SkipIfUnavailable(t)
	spool := tmpfs.MountForTest(t, 24<<20)
	const floor = 8 << 20
	e := scriptedEngine(t, Config{SpoolDir: spool, MinFreeDisk: floor}, &capturetest.Screen{})
	s, err := e.Start(context.Background(), StartRequest{Owner: "agent1", Frontend: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	filler := tmpfs.Fill(t, spool, floor-1<<20)
	filled := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := e.Wait(ctx, s.ID)
	if err != nil {
		t.Fatalf("the session did not end below the floor: %v (%+v)", err, got)
	}
	t.Logf("the API showed the end %v after the disk went below the floor", time.Since(filled).Round(time.Millisecond))
	if got.State != StateFailed || !strings.Contains(got.Error, "free disk space below the configured floor") {
		t.Fatalf("session below the floor = %s %q, want failed with the reason", got.State, got.Error)
	}
	// Read from the catalog (the session has ended): the state and reason are persisted.
	if got.EndedAt.IsZero() || got.Duration < 500*time.Millisecond {
		t.Errorf("catalog row: ended %v, duration %v", got.EndedAt, got.Duration)
	}
	assertCutFile(t, got)
	for _, sg := range got.Segments {
		if res, _ := mux.Inspect(sg.Path); !res.Complete {
			t.Errorf("%s ended without its trailer: not a clean end (%+v)", sg.Path, res)
		}
	}
	if _, err := e.Start(context.Background(), StartRequest{Owner: "agent2", Frontend: "cli"}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("start below the floor = %v, want ErrDiskFull", err)
	}
	startAgain(t, e, filler)
}

// flashingScreen changes colour every frame time for a minute: frames that are encoded and
// written all along, so a full disk's last page is soon used up.
func flashingScreen() *capturetest.Screen {
	sc := &capturetest.Screen{Monitors: []capture.Monitor{{Name: "BIG-1", Width: 1280, Height: 720, Primary: true}}}
	for i := range 600 {
		sc.Steps = append(sc.Steps, capturetest.Step{At: time.Duration(i) * 100 * time.Millisecond,
			Colour: color.RGBA{uint8(i * 37), uint8(i * 91), uint8(i * 13), 255}})
	}
	return sc
}

// TestDiskFullWriteFails: with no floor (min_free_disk negative), the write itself fails
// with ENOSPC: the session fails at once with the real cause, its file cut back to its last
// complete fragment.
func TestDiskFullWriteFails(t *testing.T) {
	mediatest.SkipIfUnavailable(t)
	spool := tmpfs.MountForTest(t, 24<<20)
	e := scriptedEngine(t, Config{SpoolDir: spool, MinFreeDisk: -1}, flashingScreen())
	s, err := e.Start(context.Background(), StartRequest{Owner: "agent1", Frontend: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	filler := tmpfs.Fill(t, spool, 0)
	filled := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var live Session
	eventually(t, 10*time.Second, "the session to fail", func() bool {
		live, _ = e.Get(ctx, s.ID)
		return live.State == StateFailed
	})
	t.Logf("the API showed failed %v after the disk filled", time.Since(filled).Round(time.Millisecond))
	if !strings.Contains(live.Error, syscall.ENOSPC.Error()) || strings.Contains(live.Error, "Unknown error") {
		t.Fatalf("reason %q, want the real cause (%q)", live.Error, syscall.ENOSPC.Error())
	}
	got, err := e.Wait(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertCutFile(t, got)
	startAgain(t, e, filler)
	// Read back from the catalog once space is back: what did the full disk let it keep?
	row, err := e.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("catalog row after the full disk: state %s, error %q", row.State, row.Error)
}
