package pipeline

import (
	"testing"
	"time"
)

// step is one frame fed to a schedule and the decision expected for it.
type step struct {
	facts frameFacts
	want  frameDecision
}

// still, changed and masked are the facts of a frame at pts with no sink ending and no cut.
func still(pts int64) frameFacts   { return frameFacts{Pts: pts, Ending: noEnd, Cut: noEnd} }
func changed(pts int64) frameFacts { f := still(pts); f.Changed = true; return f }
func masked(f frameFacts) frameFacts {
	f.Masked = true
	return f
}
func withCut(f frameFacts, cut int64) frameFacts    { f.Cut = cut; return f }
func withEnding(f frameFacts, end int64) frameFacts { f.Ending = end; return f }
func encodes(s shot) frameDecision                  { return frameDecision{Encode: s} }
func convert(c conversion, s shot) frameDecision    { return frameDecision{Convert: c, Encode: s} }

var skip = frameDecision{}

func TestSchedule(t *testing.T) {
	const gap, interval = 1000, 100 // ms
	cases := []struct {
		name  string
		steps []step
	}{
		{"first frame is converted whole and encoded", []step{
			{changed(0), convert(convertWhole, shotPicture)},
		}},
		{"first frame is encoded even when the source reports no change", []step{
			{still(0), convert(convertWhole, shotPicture)},
		}},
		{"still frames are skipped until the gap", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{still(100), skip},
			{still(999), skip},
			{still(1000), encodes(shotPicture)},
			{still(1100), skip},
			{still(2000), encodes(shotPicture)},
		}},
		{"a change is converted where it changed and encoded", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{still(100), skip},
			{changed(200), convert(convertChanged, shotPicture)},
			{still(300), skip},
		}},
		{"masking encodes the slate at once, then only at the gap", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{masked(still(100)), encodes(shotSlate)},
			{masked(still(200)), skip},
			{masked(still(1100)), encodes(shotSlate)},
		}},
		{"changes while masked are not converted; unmasking converts the whole frame", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{masked(changed(100)), encodes(shotSlate)},
			{masked(changed(200)), skip},
			{still(300), convert(convertWhole, shotPicture)},
			{still(400), skip},
		}},
		{"unmasking without changes in between encodes the picture without converting", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{masked(still(100)), encodes(shotSlate)},
			{still(200), encodes(shotPicture)},
		}},
		{"masked from the first frame: the slate, and the picture is made on unmasking", []step{
			{masked(changed(0)), encodes(shotSlate)},
			{masked(still(100)), skip},
			{still(200), convert(convertWhole, shotPicture)},
		}},
		{"a cut since the last frame is encoded as the next segment's first frame", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{still(100), skip},
			{withCut(still(600), 500), encodes(shotPicture)},
			{still(700), skip},
		}},
		{"a cut right after the last frame", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{withCut(still(100), 1), encodes(shotPicture)},
		}},
		{"a cut is encoded once while it waits for the encoders", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{withCut(still(100), 50), encodes(shotPicture)},
			{withCut(still(101), 50), skip}, // read right after a late one
			{withCut(still(150), 50), skip},
			{withCut(still(1100), 50), encodes(shotPicture)},   // the gap
			{withCut(still(1200), 1150), encodes(shotPicture)}, // the next cut
		}},
		{"a cut or an end right after a frame waits half a frame time", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{changed(100), convert(convertChanged, shotPicture)},
			{withCut(still(101), 100), skip}, // read on time right after a late one
			{withEnding(still(102), 100), skip},
			{withEnding(withCut(still(149), 100), 100), skip},
			{withEnding(withCut(still(150), 100), 100), encodes(shotPicture)},
			{withCut(changed(151), 151), convert(convertChanged, shotPicture)}, // a change does not wait
		}},
		{"a cut still ahead changes nothing", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{withCut(still(100), 500), skip},
		}},
		{"a sink ending encodes a frame at or after its end, which ends it", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{withEnding(still(400), 300), encodes(shotPicture)},
		}},
		{"a sink ending while masked encodes the slate", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{masked(still(100)), encodes(shotSlate)},
			{withEnding(masked(still(400)), 300), encodes(shotSlate)},
		}},
		{"an end and a cut in one frame", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{withEnding(withCut(still(400), 200), 300), encodes(shotPicture)},
		}},
		{"a change and a cut in one frame", []step{
			{changed(0), convert(convertWhole, shotPicture)},
			{withCut(changed(400), 300), convert(convertChanged, shotPicture)},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSchedule(gap*time.Millisecond, interval*time.Millisecond)
			for i, st := range c.steps {
				got := s.frame(st.facts)
				got.Content = false // TestScheduleDrainsTheEncoder checks it
				if got != st.want {
					t.Fatalf("frame %d %+v: decision %+v, want %+v", i, st.facts, got, st.want)
				}
			}
		})
	}
}

func holding(f frameFacts) frameFacts { f.Holding = true; return f }

// While the encoder holds the last change (its lookahead), a still screen is encoded every
// drainGap instead of every MaxFrameGap, so the change reaches the file within a second; once
// it is out, only the gap applies again. Content marks the frames that showed something new.
func TestScheduleDrainsTheEncoder(t *testing.T) {
	s := newSchedule(time.Minute, 100*time.Millisecond)
	steps := []struct {
		facts   frameFacts
		encode  bool
		content bool
	}{
		{changed(0), true, true},
		{holding(still(66)), false, false},
		{holding(still(drainGap - 1)), false, false},
		{holding(still(drainGap)), true, false},
		{holding(still(drainGap + 66)), false, false},
		{holding(still(2 * drainGap)), true, false},
		{still(3 * drainGap), false, false}, // out: nothing more until the gap
		{still(10_000), false, false},
		{holding(changed(10_066)), true, true},
		{masked(still(10_132)), true, true},
		{withCut(still(10_200), 10_150), true, true}, // a file's first keyframe
		{withEnding(still(10_300), 10_250), true, true},
	}
	for i, st := range steps {
		d := s.frame(st.facts)
		if (d.Encode != shotNone) != st.encode || d.Content != st.content {
			t.Fatalf("frame %d %+v: decision %+v, want encode %v content %v", i, st.facts, d, st.encode, st.content)
		}
	}
}

func TestSchedulePts(t *testing.T) {
	s := newSchedule(time.Second, 100*time.Millisecond)
	if got := s.pts(-5); got != 0 {
		t.Errorf("pts(-5) before any frame = %d, want 0", got)
	}
	s.frame(changed(s.pts(40)))
	for _, c := range []struct{ ms, want int64 }{{10, 41}, {40, 41}, {41, 41}, {90, 90}} {
		if got := s.pts(c.ms); got != c.want {
			t.Errorf("pts(%d) after a frame at 40 = %d, want %d", c.ms, got, c.want)
		}
	}
}
