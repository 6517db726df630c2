package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/internal/avext"
	"github.com/screenrec/recorder/engine/mux"
)

// track is one video of a capture: source → converter → encoder. Its goroutine owns src,
// conv, enc and slate; info, w, h and gone change with the screen (see screen.go) and are
// read by others under Capture.mu.
type track struct {
	info      capture.Track
	src       capture.Source
	conv      *encode.Converter
	enc       *encode.Encoder
	slate     *astiav.Frame // what masked frames show; made at the first masked frame
	fanout    *astiav.Packet
	w, h      int
	gone      string                       // why the track ended while the capture goes on
	change    atomic.Pointer[screenChange] // a new geometry for the track, taken by its goroutine
	frames    atomic.Int64
	dropped   atomic.Int64
	unchanged stillCount
	last      lastFrame     // the last encoded frame, for thumbnails (thumbnail.go)
	wake      chan struct{} // poke: something other than the screen needs the track's attention
}

// Capture grabs, converts and encodes one screen area once for every Sink attached to it.
// Timestamps are milliseconds since the capture started (encode.TimeBase), taken from the
// capture clock, so they map to wall-clock time exactly. When its last sink ends, it stops.
type Capture struct {
	spec     CaptureSpec
	screen   *capture.Screen // guarded by mu
	tracks   []*track
	start    time.Time
	skipped  []encode.Status
	encoder  string
	hardware bool
	streams  []mux.Stream // replaced, never changed in place: sinks hold it; guarded by mu
	mask     maskTimeline
	planMu   sync.Mutex // one re-plan at a time

	mu       sync.Mutex
	sinks    []*Sink
	stopping bool

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	err      error
}

// ErrCaptureStopped: a sink was attached to a capture that is stopping or stopped.
var ErrCaptureStopped = errors.New("capture is stopping")

// OpenCapture opens the display's capture devices and the encoders, and starts capturing
// until Stop. Errors are problems with the spec or the machine; nothing is left open when it
// fails.
func OpenCapture(ctx context.Context, spec CaptureSpec) (_ *Capture, err error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	screen, err := spec.Backend.Discover(ctx, spec.Display)
	if err != nil {
		return nil, err
	}
	display := screen.Display // $DISPLAY resolved
	spec.Display = display
	plan, err := capture.Plan(screen, spec.Monitors, spec.Layout, spec.Region)
	if err != nil {
		return nil, err
	}
	c := &Capture{spec: spec, screen: screen, stop: make(chan struct{}), done: make(chan struct{})}
	defer func() {
		if err != nil {
			c.closeTracks()
		}
	}()
	for i, pt := range plan {
		t := &track{info: pt, fanout: astiav.AllocPacket(), wake: make(chan struct{}, 1)}
		c.tracks = append(c.tracks, t)
		if t.src, err = spec.Backend.Open(ctx, pt, capture.SourceOptions{Display: display, FPS: spec.FPS,
			DrawMouse: spec.DrawMouse, Method: spec.Method}); err != nil {
			return nil, err
		}
		sw, sh := t.src.Size()
		t.w, t.h = encode.FitSize(sw, sh, spec.MaxWidth, spec.MaxHeight)
		p := encode.Params{Width: t.w, Height: t.h, FPS: spec.FPS, Options: spec.EncoderOptions}
		if i == 0 {
			t.enc, c.skipped, err = encode.OpenFirst(ctx, spec.Encoders, p)
			if err != nil {
				return nil, err
			}
			c.skipped = c.skipped[:len(c.skipped)-1] // the last one tried is the one used
		} else if t.enc, err = encode.Open(c.tracks[0].enc.Name(), p); err != nil {
			return nil, err
		}
		if t.conv, err = encode.NewConverter(sw, sh, t.src.PixelFormat(), t.w, t.h, t.enc.PixelFormat(), pt.Blank); err != nil {
			return nil, err
		}
		c.streams = append(c.streams, mux.Stream{Codec: t.enc.CodecContext(), TimeBase: encode.TimeBase, FPS: spec.FPS, Title: pt.Name})
	}
	c.encoder, c.hardware = c.tracks[0].enc.Name(), c.tracks[0].enc.Hardware()
	c.start = time.Now()
	// ctx bounds opening only: a capture outlives the request that opened it (an HTTP or
	// plugin RPC context ends as soon as Start answers) and runs until Stop.
	go c.run(context.WithoutCancel(ctx))
	go c.watchScreen(context.WithoutCancel(ctx))
	return c, nil
}

// slateOf returns track t's mask frame, making it the first time: most recordings are never
// masked, and a 4K frame is 12 MiB. Only t's own goroutine calls it.
func (c *Capture) slateOf(t *track) (*astiav.Frame, error) {
	if t.slate == nil {
		f, err := newSlate(t.w, t.h, t.enc.PixelFormat(), avext.YUVFromRGB(c.spec.MaskColor))
		if err != nil {
			return nil, err
		}
		t.slate = f
	}
	return t.slate, nil
}

func newSlate(w, h int, pf astiav.PixelFormat, c avext.YUV) (*astiav.Frame, error) {
	f := astiav.AllocFrame()
	f.SetWidth(w)
	f.SetHeight(h)
	f.SetPixelFormat(pf)
	if err := f.AllocBuffer(0); err != nil {
		f.Free()
		return nil, fmt.Errorf("%w: mask frame: %w", encode.ErrConvert, err)
	}
	if err := avext.FillRect(f, image.Rect(0, 0, w, h), c); err != nil {
		f.Free()
		return nil, err
	}
	return f, nil
}

// Spec is the capture's spec with defaults filled in.
func (c *Capture) Spec() CaptureSpec { return c.spec }

// Screen is the display as last discovered.
// It changes when the screen does (RandR).
func (c *Capture) Screen() *capture.Screen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.screen
}

// Encoder is the name of the encoder in use, and Skipped those tried before it.
func (c *Capture) Encoder() string { return c.encoder }

// Hardware reports whether the encoder in use is a hardware one.
func (c *Capture) Hardware() bool { return c.hardware }

// Skipped lists the encoders tried and skipped before the one in use, with the reasons.
func (c *Capture) Skipped() []encode.Status { return c.skipped }

// StartTime is the wall-clock time of timestamp 0.
func (c *Capture) StartTime() time.Time { return c.start }

// Done is closed when the capture has stopped and every sink is finalised.
func (c *Capture) Done() <-chan struct{} { return c.done }

// Err is why the capture stopped, nil for a requested stop; valid once Done is closed.
func (c *Capture) Err() error { <-c.done; return c.err }

// now is the current time in the capture's timestamps.
func (c *Capture) now() int64 { return time.Since(c.start).Milliseconds() }

// Stop stops capturing; every attached sink gets what was captured until now and is
// finalised. It is idempotent and does not wait: use Done.
func (c *Capture) Stop() {
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
	c.poke()
}

// poke wakes the tracks that sleep on a still screen (capture.ChangeWaiter): a sink was
// attached or stopped, the mask switched, the screen changed, or the capture stops. Each
// track then decides at once, as for any frame, what that needs.
func (c *Capture) poke() {
	for _, t := range c.tracks {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// wakeBy is when a track whose screen stays still must next read a frame: when the last
// encoded frame has lasted the frame gap, a segment must cut, or a sink's set duration ends.
// A cut whose keyframe the track has encoded already waits for the other tracks' (or its
// encoder): fanout pokes the tracks when the next cut is known.
func (c *Capture) wakeBy(s *schedule, holding bool) time.Time {
	cut := c.nextCut()
	if cut == s.cutDone {
		cut = noEnd
	}
	at := min(cut, c.endingBy(noEnd-1))
	if s.lastPts >= 0 && s.shown != shotNone {
		at = max(at, s.lastPts+s.spacing) // see schedule.frame
		at = min(at, s.lastPts+s.gap)
		if holding {
			// The encoder holds the last change: the schedule drains it every drainGap.
			at = min(at, s.lastPts+drainGap)
		}
	} else {
		at = 0
	}
	if at > c.now()+time.Hour.Milliseconds() {
		return time.Now().Add(time.Hour)
	}
	return c.start.Add(time.Duration(at) * time.Millisecond)
}

// SetMasked masks (or unmasks) every frame captured from now on and returns the moment it
// took effect.
func (c *Capture) SetMasked(on bool) time.Time {
	at := c.mask.set(on)
	c.poke()
	return at
}

// Masked reports whether frames captured now are masked.
func (c *Capture) Masked() bool { return c.mask.at(time.Now().UnixMicro()) }

// Sinks is how many sinks are attached and not finished.
func (c *Capture) Sinks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sinks)
}

func (c *Capture) run(ctx context.Context) {
	defer close(c.done)
	errs := make([]error, len(c.tracks))
	var wg sync.WaitGroup
	for i, t := range c.tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = c.runTrack(ctx, i, t); errs[i] != nil {
				c.Stop() // one failed track ends the capture
			}
		}()
	}
	wg.Wait()
	c.err = errors.Join(errs...)
	c.mu.Lock()
	c.stopping = true
	sinks := c.sinks
	c.sinks = nil
	c.mu.Unlock()
	for _, s := range sinks {
		s.finish(c.err)
	}
	c.closeTracks()
}

func (c *Capture) runTrack(ctx context.Context, idx int, t *track) error {
	if cs, ok := t.src.(capture.ChangeSource); ok {
		return c.runChanges(ctx, idx, t, cs)
	}
	raw := astiav.AllocFrame()
	defer raw.Free()
	startUs := c.start.UnixMicro()
	intervalMs := int64(1000 / c.spec.FPS)
	lastPts := int64(-1)
	enc := c.newTrackEncoder(idx, t)
	emit := enc.emit
	for {
		select {
		case <-c.stop:
			return t.enc.Flush(emit)
		default:
		}
		if ch := t.change.Swap(nil); ch != nil {
			cut, done, err := c.applyChange(ctx, idx, t, ch, func() error { return t.enc.Flush(emit) })
			if done || err != nil {
				return err
			}
			if cut >= 0 {
				lastPts = max(lastPts, cut-1) // the new encoder starts at the cut
			}
			if _, ok := t.src.(capture.ChangeSource); ok {
				return c.runChanges(ctx, idx, t, t.src.(capture.ChangeSource))
			}
		}
		if err := t.src.Read(ctx, raw); err != nil {
			if ctx.Err() != nil {
				return t.enc.Flush(emit)
			}
			if c.screenChanged(ctx, t) {
				continue // the track follows the screen (above)
			}
			_ = t.enc.Flush(emit) // keep what was encoded before the failure
			return err
		}
		ts := raw.Pts()
		// x11grab stamps frames with the wall clock, so pts are the time since the capture
		// started and a sink's file maps to its start_time tag exactly.
		pts := max(0, (ts-startUs)/1000)
		if pts <= lastPts {
			pts = lastPts + 1
		} else if lastPts >= 0 && pts-lastPts > intervalMs*3/2 {
			t.dropped.Add((pts-lastPts)/intervalMs - 1)
		}
		lastPts = pts
		var frame *astiav.Frame
		var err error
		converted := time.Now()
		if c.mask.at(ts) {
			frame, err = c.slateOf(t)
		} else {
			frame, err = t.last.convert(func() (*astiav.Frame, error) { return t.conv.Convert(raw) })
		}
		raw.Unref()
		if err != nil {
			return err
		}
		if o := c.spec.Observer; o != nil {
			o.Captured(time.Since(converted))
		}
		if err := enc.encode(frame, pts); err != nil {
			return err
		}
	}
}

// trackEncoder encodes one track's frames for the sinks: it forces a keyframe where a sink
// needs one (its start, a segment cut) and reports encode times.
type trackEncoder struct {
	c       *Capture
	t       *track
	emit    func(*astiav.Packet) error
	lastCut int64 // the cut a keyframe was last forced for
}

func (c *Capture) newTrackEncoder(idx int, t *track) *trackEncoder {
	intervalMs := int64(1000 / c.spec.FPS)
	return &trackEncoder{c: c, t: t, lastCut: -1, emit: func(p *astiav.Packet) error {
		// The muxer needs a duration for a fragment's last sample, and the first fragment is
		// flushed after one frame; FFmpeg 5.1's libx264 leaves it 0: use the frame interval.
		if p.Duration() <= 0 {
			p.SetDuration(intervalMs)
		}
		return c.fanout(idx, t, p)
	}}
}

// encode encodes f at pts and hands its packets to the sinks.
func (e *trackEncoder) encode(f *astiav.Frame, pts int64) error {
	f.SetPts(pts)
	cut := e.c.nextCut()
	key := pts >= cut && cut != e.lastCut
	if key {
		e.lastCut = cut
	}
	e.t.last.keep(f)
	began := time.Now()
	if err := e.t.enc.Encode(f, key, e.emit); err != nil {
		return err
	}
	if o := e.c.spec.Observer; o != nil {
		o.Encoded(time.Since(began))
	}
	e.t.frames.Add(1)
	return nil
}

// runChanges is runTrack for a source that reports what changed: a schedule decides, frame
// by frame, what is converted and encoded (see schedule). The files then have a variable
// frame rate; each frame lasts until the next.
func (c *Capture) runChanges(ctx context.Context, idx int, t *track, cs capture.ChangeSource) error {
	enc := c.newTrackEncoder(idx, t)
	emit := enc.emit
	startUs := c.start.UnixMicro()
	interval := time.Second / time.Duration(c.spec.FPS)
	sched := newSchedule(c.spec.MaxFrameGap, interval)
	w, h := t.src.Size()
	var picture *astiav.Frame // the converted screen, kept up to date while unmasked
	still := false            // the last frame read showed no change
	lastContent := int64(-1)  // pts of the last encoded frame that showed something new
	// holding: the encoder holds a frame that shows something the files do not have yet.
	// Frames of a still screen after it it may hold as long as it likes: the muxer extends
	// the last picture on disk as time goes by (mux.Options.Now).
	holding := func() bool { return lastContent >= 0 && t.enc.HoldsUntil(lastContent) }
	// encodeShot encodes what s names at pts.
	encodeShot := func(s shot, pts int64) error {
		f := picture
		if s == shotSlate {
			var err error
			if f, err = c.slateOf(t); err != nil {
				return err
			}
		}
		return enc.encode(f, pts)
	}
	for {
		select {
		case <-c.stop:
			// Stopped: sinks end now, or earlier if they were stopped before; their files'
			// last frames last until then (see Sink.finish).
			return t.enc.Flush(emit)
		default:
		}
		if sc := t.change.Swap(nil); sc != nil {
			cut, done, err := c.applyChange(ctx, idx, t, sc, func() error { return t.enc.Flush(emit) })
			if done || err != nil {
				return err
			}
			next, ok := t.src.(capture.ChangeSource)
			if !ok {
				return c.runTrack(ctx, idx, t)
			}
			// The picture was the old converter's: the next frame is converted whole.
			cs, picture = next, nil
			w, h = t.src.Size()
			sched.restart(cut)
			lastContent = -1
			enc = c.newTrackEncoder(idx, t)
			emit = enc.emit
		}
		if w, ok := cs.(capture.ChangeWaiter); ok && still {
			// A still screen: sleep until it changes or something else is due, instead of
			// reading it frame by frame.
			t.unchanged.sleeping(interval)
			t.unchanged.woke(int64(w.WaitChange(ctx, c.wakeBy(sched, holding()), t.wake)))
			select {
			case <-c.stop:
				continue
			default:
			}
			if t.change.Load() != nil {
				continue
			}
		}
		ch, err := cs.ReadChange(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return t.enc.Flush(emit)
			}
			if c.screenChanged(ctx, t) {
				continue // the track follows the screen (above)
			}
			_ = t.enc.Flush(emit) // keep what was encoded before the failure
			return err
		}
		still = len(ch.Rects) == 0
		t.dropped.Add(int64(ch.Missed))
		t.unchanged.add(int64(ch.Still))
		ts := ch.Frame.Pts()
		pts := sched.pts((ts - startUs) / 1000)
		d := sched.frame(frameFacts{Pts: pts, Changed: len(ch.Rects) > 0, Masked: c.mask.at(ts),
			Ending: c.endingBy(pts), Cut: c.nextCut(), Holding: holding()})
		converted := time.Now()
		if d.Convert != convertNone {
			rects := ch.Rects
			if d.Convert == convertWhole {
				rects = []image.Rectangle{image.Rect(0, 0, w, h)}
			}
			if picture, err = t.last.convert(func() (*astiav.Frame, error) { return t.conv.Update(ch.Frame, rects) }); err != nil {
				return err
			}
		}
		if o := c.spec.Observer; o != nil {
			o.Captured(ch.Took + time.Since(converted))
		}
		if d.Encode == shotNone {
			t.unchanged.add(1)
			continue
		}
		if err := encodeShot(d.Encode, pts); err != nil {
			return err
		}
		if d.Content {
			lastContent = pts
		}
	}
}

// endingBy is the earliest end at or before pts of a sink still recording, or MaxInt64.
func (c *Capture) endingBy(pts int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := int64(noEnd)
	for _, s := range c.sinks {
		if at := s.stopAt.Load(); at <= pts && !s.allEnded() {
			end = min(end, at)
		}
	}
	return end
}

// nextCut is the earliest pts at which some sink needs a keyframe (its start or its next
// segment).
func (c *Capture) nextCut() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextCutLocked()
}

// nextCutLocked is nextCut with c.mu held.
func (c *Capture) nextCutLocked() int64 {
	cut := int64(noEnd)
	for _, s := range c.sinks {
		cut = min(cut, s.seg.NextCut())
	}
	return cut
}

// fanout hands a packet of track idx to every sink.
func (c *Capture) fanout(idx int, t *track, p *astiav.Packet) error {
	c.mu.Lock()
	var ended []*Sink
	cut := c.nextCutLocked()
	for _, s := range c.sinks {
		if err := t.fanout.Ref(p); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("%w: %w", encode.ErrEncode, err)
		}
		if s.write(idx, t.fanout) {
			ended = append(ended, s)
		}
		t.fanout.Unref()
	}
	if len(ended) > 0 {
		c.detach(ended)
	}
	idle := len(c.sinks) == 0 && len(ended) > 0
	// A cut is done (every track's keyframe written) and the next one set: the tracks that
	// sleep on a still screen learn when to wake for it.
	cutMoved := c.nextCutLocked() != cut
	c.mu.Unlock()
	if cutMoved {
		c.poke()
	}
	for _, s := range ended {
		go s.finish(nil)
	}
	if idle {
		c.Stop() // the last sink has ended
	}
	return nil
}

// detach removes sinks; c.mu must be held.
func (c *Capture) detach(gone []*Sink) {
	kept := c.sinks[:0]
	for _, s := range c.sinks {
		keep := true
		for _, g := range gone {
			keep = keep && s != g
		}
		if keep {
			kept = append(kept, s)
		}
	}
	clear(c.sinks[len(kept):])
	c.sinks = kept
}

func (c *Capture) closeTracks() {
	for _, t := range c.tracks {
		t.last.forget()
		if t.conv != nil {
			t.conv.Close()
		}
		if t.enc != nil {
			t.enc.Close()
		}
		if t.src != nil {
			t.src.Close()
		}
		if t.slate != nil {
			t.slate.Free()
		}
		t.fanout.Free()
	}
}

// Tracks describes the capture's tracks (names, grabbed areas, encoded sizes).
func (c *Capture) Tracks() []TrackInfo {
	return c.trackInfos(func(int, *track) int64 { return 0 })
}

// trackInfos describes the capture's tracks with per-track frame counts given by count.
func (c *Capture) trackInfos(count func(i int, t *track) int64) []TrackInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TrackInfo, len(c.tracks))
	for i, t := range c.tracks {
		g := t.info.Grab
		out[i] = TrackInfo{Name: t.info.Name, Grab: fmt.Sprintf("%dx%d+%d+%d", g.Dx(), g.Dy(), g.Min.X, g.Min.Y),
			Width: t.w, Height: t.h, Monitors: len(t.info.Monitors), Frames: count(i, t), Dropped: t.dropped.Load(),
			Unchanged: t.unchanged.load(), Ended: t.gone}
	}
	return out
}

// maskTimeline records when masking was switched on and off, in capture-clock microseconds,
// so each frame is masked by when it was captured, not by when it is encoded.
type maskTimeline struct {
	mu      sync.Mutex
	changes []maskChange
}

type maskChange struct {
	at int64
	on bool
}

// maxMaskChanges bounds the history; frames are encoded well within the last few changes.
const maxMaskChanges = 32

func (m *maskTimeline) set(on bool) time.Time {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changes = append(m.changes, maskChange{at: now.UnixMicro(), on: on})
	if len(m.changes) > maxMaskChanges {
		m.changes = append(m.changes[:0], m.changes[len(m.changes)-maxMaskChanges:]...)
	}
	return now
}

func (m *maskTimeline) at(us int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.changes) - 1; i >= 0; i-- {
		if m.changes[i].at <= us {
			return m.changes[i].on
		}
	}
	return false
}
