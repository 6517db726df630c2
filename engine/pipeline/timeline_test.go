package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/internal/mediatest"
)

// A still screen captured by xshm is encoded only every MaxFrameGap, and a masked interval
// shows the slate; x11grab encodes every frame time. Either way every track of the file is
// one continuous timeline, checked box by box: each fragment starts (tfdt) where the earlier
// samples end, no sample is a placeholder of a millisecond or less, and the file lasts as long
// as the recording.
func TestTimelineStillAndMasked(t *testing.T) {
	t.Parallel()
	srv := startDisplay(t)
	for _, method := range []string{capture.MethodXShm, capture.MethodX11Grab} {
		t.Run(method, func(t *testing.T) {
			const fps = 10
			out := filepath.Join(t.TempDir(), "still.mp4")
			rec, err := Start(context.Background(), Spec{CaptureSpec: CaptureSpec{Display: srv.Display, Layout: capture.LayoutTracks,
				FPS: fps, Method: method, MaxFrameGap: 400 * time.Millisecond}, Out: out})
			if err != nil {
				t.Fatal(err)
			}
			began := rec.sink.StartTime()
			at := func(d time.Duration) { time.Sleep(time.Until(began.Add(d))) }
			at(800 * time.Millisecond)
			rec.capture.SetMasked(true)
			at(1400 * time.Millisecond)
			rec.capture.SetMasked(false)
			at(2500 * time.Millisecond)
			rec.Stop()
			sum, err := rec.Wait()
			if err != nil {
				t.Fatal(err)
			}
			tls, err := mediatest.ReadTimelines(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(tls) != len(sum.Tracks) || len(tls) < 2 {
				t.Fatalf("%d tracks in the file, %d in the summary; want the same, at least 2", len(tls), len(sum.Tracks))
			}
			length := time.Duration(sum.Duration * float64(time.Second))
			for _, tl := range tls {
				bad := tl.Gaps()
				starts, durs := tl.Samples()
				for i, d := range durs {
					// The last one lasts until the stop, which may come right after it.
					if d < 2*time.Millisecond && i < len(durs)-1 {
						bad = append(bad, fmt.Sprintf("sample %d at %s lasts %s", i+1, starts[i], d))
					}
				}
				if end := tl.End(); end < length-time.Second/fps || end > length+time.Second/fps {
					bad = append(bad, fmt.Sprintf("it ends at %s, the recording lasts %s", end, length))
				}
				if len(bad) > 0 {
					var list []string
					for i := range starts {
						list = append(list, fmt.Sprintf("%s+%s", starts[i], durs[i]))
					}
					t.Errorf("track %d: %s\nsamples: %s", tl.TrackID, strings.Join(bad, "; "), strings.Join(list, " "))
				}
			}
		})
	}
}
