package engine

import (
	"context"
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture/capturetest"
	"github.com/screenrec/recorder/internal/mediatest"
)

// Every track of every file is one continuous timeline, checked box by box: each fragment
// starts (tfdt) where the earlier samples end, each sample lasts until the next one (no
// placeholder durations of a millisecond or less), and the files last as long as the
// recording. The scripted screen is still between colour changes, so the change-tracking
// capture encodes a frame only at a change or after the frame gap; a masked interval in the
// middle shows the slate; two monitors make two tracks.
func TestTimelineContinuous(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		segment time.Duration
	}{
		{"one file", 0},
		{"segments", time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const fps = 20
			screen := twoMonitors()
			screen.Steps = []capturetest.Step{
				{At: 0, Colour: color.RGBA{R: 200, A: 255}},
				{At: 600 * time.Millisecond, Colour: color.RGBA{G: 200, A: 255}},
				{At: 2300 * time.Millisecond, Colour: color.RGBA{B: 200, A: 255}},
			}
			e := scriptedEngine(t, Config{FPS: fps, SegmentDuration: tc.segment}, screen)
			s := start(t, e, StartRequest{Owner: "agent-tl", Frontend: "cli", Source: Source{Display: ":1", Layout: LayoutTracks}})
			at := func(d time.Duration) { time.Sleep(time.Until(s.StartedAt.Add(d))) }
			at(1000 * time.Millisecond)
			if _, err := e.Mask(context.Background(), MaskTarget{Owner: "agent-tl"}, true); err != nil {
				t.Fatal(err)
			}
			at(1700 * time.Millisecond)
			if _, err := e.Mask(context.Background(), MaskTarget{Owner: "agent-tl"}, false); err != nil {
				t.Fatal(err)
			}
			at(3200 * time.Millisecond)
			done := stop(t, e, s.ID)
			if len(done.Segments) == 0 {
				t.Fatalf("no segments: %+v", done)
			}
			if tc.segment > 0 && len(done.Segments) < 3 {
				t.Errorf("%d segments of %s for %s, want at least 3", len(done.Segments), tc.segment, done.Duration)
			}
			frame := time.Second / fps
			var total time.Duration
			for _, sg := range done.Segments {
				tls, err := mediatest.ReadTimelines(sg.Path)
				if err != nil {
					t.Fatal(err)
				}
				if len(tls) != 2 {
					t.Fatalf("segment %d has %d tracks, want 2 (one per monitor)", sg.Index, len(tls))
				}
				for _, tl := range tls {
					what := fmt.Sprintf("segment %d track %d", sg.Index, tl.TrackID)
					checkTimeline(t, what, tl, 2*time.Millisecond)
					if end, first := tl.End(), tls[0].End(); end != first {
						t.Errorf("%s ends at %s, track %d at %s: the tracks of a file must end together", what, end, tls[0].TrackID, first)
					}
				}
				if tc.segment > 0 && sg.Index < len(done.Segments) && tls[0].End() != tc.segment {
					t.Errorf("segment %d lasts %s, want exactly %s (its cut)", sg.Index, tls[0].End(), tc.segment)
				}
				total += tls[0].End()
			}
			if !near(total, done.Duration, frame) {
				t.Errorf("the files last %s, the recording %s: want the same within a frame (%s)", total, done.Duration, frame)
			}
		})
	}
}

// checkTimeline fails the test if tl has a gap between fragments or a sample shorter than
// shortest (but the last), listing its samples.
func checkTimeline(t *testing.T, what string, tl *mediatest.Timeline, shortest time.Duration) {
	t.Helper()
	bad := tl.Gaps()
	starts, durs := tl.Samples()
	t.Logf("%s: %d samples, ends at %s", what, len(durs), tl.End())
	for i, d := range durs {
		// The last one lasts until the stop, which may come right after it.
		if d < shortest && i < len(durs)-1 {
			bad = append(bad, fmt.Sprintf("sample %d at %s lasts %s", i+1, starts[i], d))
		}
	}
	if len(bad) > 0 {
		var list []string
		for i := range starts {
			list = append(list, fmt.Sprintf("%s+%s", starts[i], durs[i]))
		}
		t.Errorf("%s: %s\nsamples: %s", what, strings.Join(bad, "; "), strings.Join(list, " "))
	}
}
