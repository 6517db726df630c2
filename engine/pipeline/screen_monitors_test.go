package pipeline

import (
	"image"
	"strings"
	"testing"

	"github.com/screenrec/recorder/engine/capture"
)

// A canvas of all monitors follows the monitors themselves, not only the screen's size: a
// monitor removed narrows the canvas to the ones left, a monitor added widens it again, each
// in a new segment tagged with the monitors it shows; the recording never fails. (The
// screen's size stays 640x240 throughout: only the RandR monitors change.)
func TestCanvasFollowsMonitors(t *testing.T) {
	t.Parallel()
	st := startScreenTest(t, capture.LayoutCanvas)
	both := st.recorded()

	st.xrandr("--delmonitor", "M1")
	st.waitFor("the canvas to narrow to M0", func() bool { return st.c.Tracks()[0].Width == 320 })
	st.paint(image.Rect(0, 0, 320, 240), green)
	st.paint(image.Rect(320, 0, 640, 240), yellow) // on the screen, on no monitor
	alone := st.recorded()

	st.xrandr("--setmonitor", "M2", "320/85x240/64+320+0", "none")
	st.waitFor("the canvas to widen to M0 and M2", func() bool { return st.c.Tracks()[0].Width == 640 })
	st.paint(image.Rect(0, 0, 320, 240), red)
	st.paint(image.Rect(320, 0, 640, 240), yellow)
	again := st.recorded()

	select {
	case <-st.c.Done():
		t.Fatalf("capture ended during the monitor changes: %v", st.c.Err())
	default:
	}
	segs := st.finish()
	if err := st.c.Err(); err != nil {
		t.Errorf("capture ended with %v", err)
	}
	if len(segs) != 3 {
		t.Fatalf("%d segments (%+v), want 3: both monitors, M0 alone, M0 and M2", len(segs), segs)
	}
	for i, want := range []struct {
		w          int
		has, hasNo []string
	}{
		{640, []string{"M0 320x240+0+0", "M1 320x240+320+0"}, []string{"M2"}},
		{320, []string{"M0 320x240+0+0"}, []string{"M1", "M2"}},
		{640, []string{"M0 320x240+0+0", "M2 320x240+320+0"}, []string{"M1"}},
	} {
		p := probe(t, segs[i].Path)
		if vs := p.VideoStreams(); len(vs) != 1 || vs[0].Width != want.w || vs[0].Height != 240 {
			t.Errorf("segment %d: streams %+v, want one of %dx240", i+1, vs, want.w)
		}
		m := p.Format.Tags[MetaMonitors]
		for _, s := range want.has {
			if !strings.Contains(m, s) {
				t.Errorf("segment %d: monitors tag %q lacks %q", i+1, m, s)
			}
		}
		for _, s := range want.hasNo {
			if strings.Contains(m, s) {
				t.Errorf("segment %d: monitors tag %q names %s", i+1, m, s)
			}
		}
	}
	first := frameAt(t, segs[0], 0, both)
	wantColour(t, "both monitors, M0", first, 100, 120, red)
	wantColour(t, "both monitors, M1", first, 500, 120, blue)
	mid := frameAt(t, segs[1], 0, alone)
	if b := mid.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
		t.Errorf("M0 alone: frame %v, want 320x240", b)
	}
	wantColour(t, "M0 alone", mid, 100, 120, green)
	end := frameAt(t, segs[2], 0, again)
	wantColour(t, "M0 and M2, M0", end, 100, 120, red)
	wantColour(t, "M0 and M2, M2", end, 500, 120, yellow)
}
