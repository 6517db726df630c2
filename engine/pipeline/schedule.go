package pipeline

import (
	"math"
	"time"
)

// noEnd stands for "no end" and "no cut" in a schedule's times.
const noEnd = math.MaxInt64

// drainGap is how often a still screen is encoded while the encoder holds a frame that shows
// something new (a change, the mask, a cut's keyframe): libx264's 2-frame lookahead then lets
// it out within 2 × 350 ms, and the muxer writes it within another 250 ms (half a fragment),
// under the second a crash may lose. Once it is out, the frames the encoder still holds show
// the same picture: the muxer extends the last one on disk as time goes by (mux.Options.Now),
// and a still screen costs one frame per MaxFrameGap. 350 ms rather than less: a blinking
// caret (every 500–600 ms) then needs one frame besides each blink, not two, as the next
// blink pushes the last one out.
const drainGap = 350 // ms

// shot is what a change-tracking track encodes for a frame time.
type shot uint8

const (
	shotNone    shot = iota // nothing
	shotPicture             // the converted screen
	shotSlate               // the mask colour
)

// conversion is how much of a captured frame the track converts.
type conversion uint8

const (
	convertNone    conversion = iota // none: unchanged, or masked
	convertChanged                   // the changed areas only
	convertWhole                     // the whole frame: the picture missed changes
)

// frameFacts is what a capture knows about one frame of a change-tracking source when it
// decides what to do with it. Times are capture timestamps in milliseconds.
type frameFacts struct {
	// Pts is the frame's timestamp, from schedule.pts.
	Pts int64
	// Changed: the source reports areas that changed since the previous frame.
	Changed bool
	// Masked: the frame was captured while the capture was masked.
	Masked bool
	// Ending is the earliest end at or before Pts of a sink still recording, or noEnd.
	Ending int64
	// Cut is the earliest timestamp at which a sink needs a keyframe (its start or its next
	// segment), or noEnd. It stays the same until every track's keyframe is out of its
	// encoder; the track's first frame at or after it is that keyframe.
	Cut int64
	// Holding: the encoder holds a frame that showed something new (its lookahead). Only
	// more frames bring it out, so a still screen is encoded every drainGap rather than
	// every MaxFrameGap: what is on disk then lags the screen by at most the lookahead ×
	// drainGap (1 s), as a crash may lose.
	Holding bool
}

// frameDecision is what the capture does with a frame, in order: convert the frame, then
// encode Encode at the frame's Pts (when not shotNone). A frame lasts until the next one, or
// until its file's end (a sink's end, a segment cut, the stop), which the muxer is told: no
// frame is repeated to close a file.
type frameDecision struct {
	Convert conversion
	Encode  shot
	// Content: the encoded frame must reach the files soon: it shows something the previous
	// one did not (a change, the mask switched, the first picture), starts a file or segment
	// (a forced keyframe) or ends a sink.
	Content bool
}

// schedule makes the per-frame decisions of a change-tracking track: a frame is converted only
// where it changed, and encoded only when something changed, the mask switched, a keyframe is
// due, a sink needs its last frame, the encoder still holds the last change (every drainGap),
// or the screen has been still for the frame gap. It is pure
// (no clock, no I/O): the capture feeds it each frame's facts and carries out its decisions.
type schedule struct {
	gap        int64 // the longest a still screen goes without an encoded frame, ms
	spacing    int64 // the least time after an encoded frame for one only a cut or end needs, ms
	lastPts    int64 // of the last encoded frame; -1 before the first
	shown      shot  // what the last encoded frame showed
	stale      bool  // the picture misses changes (none converted yet, or made while masked)
	lastMasked bool
	cutDone    int64 // the cut whose keyframe was encoded; -1 for none
}

// newSchedule makes the schedule of a track captured every interval.
func newSchedule(gap, interval time.Duration) *schedule {
	return &schedule{gap: gap.Milliseconds(), spacing: interval.Milliseconds() / 2, lastPts: -1, stale: true, cutDone: -1}
}

// pts is the timestamp of a frame captured at ms: never negative, and after the last encoded
// frame's.
func (s *schedule) pts(ms int64) int64 { return max(0, ms, s.lastPts+1) }

// frame decides what to do with one frame.
func (s *schedule) frame(f frameFacts) frameDecision {
	var d frameDecision
	changed := false
	if f.Masked {
		s.stale = s.stale || f.Changed
	} else if s.stale || f.Changed {
		d.Convert = convertChanged
		if s.stale {
			d.Convert = convertWhole
		}
		s.stale, changed = false, true
	}
	// A cut needs one frame, its keyframe: the frames after it until the cut is done (every
	// track's keyframe out of its encoder) are the screen's as any other, encoded at a change
	// or the gaps. Encoding each of them too encoded a still screen at the capture rate for
	// as long as the encoders held the keyframes.
	cut := f.Cut <= f.Pts && f.Cut != s.cutDone
	shows := changed || f.Masked != s.lastMasked || s.shown == shotNone
	// A frame only a cut or a sink's end asks for shows what the last one did: right after
	// it (a frame read on time after a late one comes a millisecond later), it would make
	// that one a sample of a millisecond in every other sink's file. It waits for the next
	// frame at least half a frame time later; the new file's first frame is stamped at its
	// start all the same, and the ending sink writes nothing from its end on.
	bookkeeping := (cut || f.Ending != noEnd) && (s.lastPts < 0 || f.Pts-s.lastPts >= s.spacing)
	content := shows || bookkeeping
	need := content || f.Pts-s.lastPts >= s.gap || f.Holding && f.Pts-s.lastPts >= drainGap
	s.lastMasked = f.Masked
	if !need {
		return d
	}
	d.Content = content
	d.Encode = shotPicture
	if f.Masked {
		d.Encode = shotSlate
	}
	s.lastPts, s.shown = f.Pts, d.Encode
	if f.Cut <= f.Pts {
		s.cutDone = f.Cut // the trackEncoder makes this frame the cut's keyframe
	}
	return d
}

// restart begins again after the track's source and converter were replaced (a screen
// change): nothing is shown yet and the picture must be converted whole. With cut ≥ 0 a new
// encoder starts there, so no frame may come before it.
func (s *schedule) restart(cut int64) {
	s.shown, s.stale, s.lastMasked, s.cutDone = shotNone, true, false, -1
	if cut >= 0 {
		s.lastPts = max(s.lastPts, cut-1)
	}
}
