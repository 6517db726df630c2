package pipeline

import (
	"context"
	"image/color"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/internal/mediatest"
)

// With the default frame gap (10 s, DefaultMaxFrameGap) a still screen is encoded when the
// recording starts (its first picture, and the frames that let it out of the encoder's
// lookahead), with no keep-alive frame after that until the stop; yet what a crash would
// leave spans the still screen, and the file lasts as long as the recording: the muxer
// extends the last frame on disk at every sync. Nor is the screen read then: the screen's
// layout, polled every second, wakes the capture only when it changed.
func TestStillScreenDefaultGapEncodesNoKeepAlive(t *testing.T) {
	t.Parallel()
	srv, _, _ := paintedDisplay(t, 0, color.RGBA{250, 250, 250, 255})
	out := filepath.Join(t.TempDir(), "still.mp4")
	reads := &readTimes{}
	rec, err := Start(context.Background(), Spec{CaptureSpec: CaptureSpec{Display: srv.Display, FPS: 10,
		Monitors: capture.Selection{Indexes: []int{0}}, Method: capture.MethodXShm, Observer: reads}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	began := rec.sink.StartTime()
	// What a crash would leave now: the file cut back to its last complete fragment, as
	// recovery does.
	crashed := func() time.Duration {
		t.Helper()
		res, err := mux.Inspect(out) // what Repair would keep, the file left as it is
		if err != nil {
			t.Fatal(err)
		}
		return res.Duration
	}
	// Well past the first frame's lookahead drain (within a second), short of the gap.
	const still = 6 * time.Second
	var left time.Duration
	for deadline := time.Now().Add(still + 30*time.Second); ; time.Sleep(100 * time.Millisecond) {
		if left = crashed(); left >= still {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the start a crash would leave %s of a still screen, want ≥ %s", time.Since(began), left, still)
		}
	}
	stopAt := time.Since(began).Seconds()
	rec.Stop()
	sum, err := rec.Wait()
	if err != nil {
		t.Fatal(err)
	}
	times, err := mediatest.FrameTimes(context.Background(), out, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) == 0 {
		t.Fatalf("no frame in the file (track %+v)", sum.Tracks[0])
	}
	// The drain of the first picture ends within a second (4 frames a second, a 2-frame
	// lookahead); 2.5 s leaves room for a loaded machine. A frame before the stop after that
	// is a keep-alive (a frame the end asks for comes at or after the stop).
	var keepAlive []float64
	for _, ft := range times {
		if ft > times[0]+2.5 && ft < stopAt {
			keepAlive = append(keepAlive, ft)
		}
	}
	if len(keepAlive) > 0 {
		t.Errorf("frames at %v s of a still screen recorded until %.3f s with the default gap %v, want none after %.3f s (all frames %v)",
			keepAlive, stopAt, DefaultMaxFrameGap, times[0]+2.5, times)
	}
	var idleReads []float64
	all := reads.since(began)
	for _, r := range all {
		if r > times[0]+2.5 && r < stopAt {
			idleReads = append(idleReads, r)
		}
	}
	if len(idleReads) > 0 {
		t.Errorf("the still screen was read at %v s, want no read between %.3f s and the stop at %.3f s (all reads %v)",
			idleReads, times[0]+2.5, stopAt, all)
	}
	p, err := mediatest.ProbeFile(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Format.Duration; d < sum.Duration-0.15 {
		t.Errorf("the file lasts %.3f s, the recording %.3f s (frames %v)", d, sum.Duration, times)
	}
}

// readTimes is a FrameObserver that keeps when each frame was read.
type readTimes struct {
	mu sync.Mutex
	at []time.Time
}

func (r *readTimes) Captured(time.Duration) {
	r.mu.Lock()
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
}

func (r *readTimes) Encoded(time.Duration) {}

// since is when each frame was read, in seconds after t.
func (r *readTimes) since(t time.Time) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []float64
	for _, at := range r.at {
		s = append(s, math.Round(at.Sub(t).Seconds()*1000)/1000)
	}
	return s
}
