package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/mux"
)

// A recording survives screen changes (RandR: a new screen size, monitors added, removed or
// moved). The capture looks at the screen every screenPoll, and at once when a grab fails (a
// shrunk screen fails the grab with BadMatch), and plans its tracks again (capture.Replan). A
// track whose area changed is captured again at its new geometry: when its size changed its
// encoder is reopened and every sink cuts a new segment there, a standalone file with the new
// size and its own monitors tag, so pixels stay 1:1 and no file mixes sizes. A track whose
// monitor was disconnected ends, and the files cut from then on leave it out; the others go
// on. When nothing is left to record, the capture ends with a sentence saying why.

// screenPoll is how often a capture looks for screen changes that do not fail its grabs (a
// larger screen, a monitor added). One look is one short X connection.
var screenPoll = time.Second

// screenChange is what a screen change means for one track.
type screenChange struct {
	track capture.Track // the track's new geometry
	gone  string        // or: why the track ends (its monitor was disconnected)
	err   error         // or: why the capture ends (capture.ErrScreenChanged)
}

// watchScreen re-plans the capture every screenPoll until it stops.
func (c *Capture) watchScreen(ctx context.Context) {
	tick := time.NewTicker(screenPoll)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.done:
			return
		case <-tick.C:
			// A display that cannot be reached is not a change: the grabs report it.
			_ = c.replan(ctx)
		}
	}
}

// replan discovers the screen and posts to each track what changed for it.
func (c *Capture) replan(ctx context.Context) error {
	c.planMu.Lock()
	defer c.planMu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	screen, err := c.spec.Backend.Discover(dctx, c.spec.Display)
	cancel()
	if err != nil {
		return err
	}
	c.mu.Lock()
	var old []capture.Track
	var live []*track
	for _, t := range c.tracks {
		if t.gone == "" {
			old, live = append(old, t.info), append(live, t)
		}
	}
	c.mu.Unlock()
	plan, err := capture.Replan(screen, c.spec.Monitors, c.spec.Layout, c.spec.Region, old)
	if err != nil {
		for _, t := range live {
			t.change.Store(&screenChange{err: err})
		}
		c.poke()
		return err
	}
	c.mu.Lock()
	c.screen = screen
	c.mu.Unlock()
	changed := false
	for i, t := range live {
		switch {
		case plan[i].Grab.Empty():
			t.change.Store(&screenChange{gone: fmt.Sprintf("monitor %s was disconnected", old[i].Name)})
		case !plan[i].Same(old[i]):
			t.change.Store(&screenChange{track: plan[i]})
		default:
			continue
		}
		changed = true
	}
	if changed {
		// Only then: a poke makes each sleeping track read a frame, which on a still screen
		// every second (the poll) was most of what it cost.
		c.poke()
	}
	return nil
}

// screenChanged re-plans after track t's grab failed, and reports whether the screen changed
// for t: then the failure was the change, and t follows it.
func (c *Capture) screenChanged(ctx context.Context, t *track) bool {
	_ = c.replan(ctx)
	return t.change.Load() != nil
}

// applyChange carries out a screen change on track idx, from the track's goroutine. flush
// ends the old encoder's output. It returns the pts where a new segment starts (-1: none,
// the track's size did not change), or done when the track has ended (err nil: its monitor
// was disconnected, the capture goes on).
func (c *Capture) applyChange(ctx context.Context, idx int, t *track, ch *screenChange, flush func() error) (cut int64, done bool, err error) {
	t.last.forget() // its frame belongs to the converter or slate about to be replaced
	if ch.err != nil {
		_ = flush()
		return -1, true, ch.err
	}
	if ch.gone != "" {
		if err := flush(); err != nil {
			return -1, true, err
		}
		c.mu.Lock()
		t.gone = ch.gone
		for _, s := range c.sinks {
			s.ended[idx] = true
		}
		c.reshape(idx, mux.Stream{TimeBase: encode.TimeBase})
		ended := c.allSinksEnded()
		c.mu.Unlock()
		if ended {
			c.Stop()
		}
		return -1, true, nil
	}
	next := ch.track
	src, err := c.spec.Backend.Open(ctx, next, capture.SourceOptions{Display: c.spec.Display, FPS: c.spec.FPS,
		DrawMouse: c.spec.DrawMouse, Method: c.spec.Method})
	if err != nil {
		_ = flush()
		return -1, true, fmt.Errorf("%w: %s could not be captured at %s: %w", capture.ErrScreenChanged, next.Name, geometry(next), err)
	}
	sw, sh := src.Size()
	w, h := encode.FitSize(sw, sh, c.spec.MaxWidth, c.spec.MaxHeight)
	if w == t.w && h == t.h {
		// Same size: the encoder and the files go on; only the source and what is blank change.
		conv, err := encode.NewConverter(sw, sh, src.PixelFormat(), w, h, t.enc.PixelFormat(), next.Blank)
		if err != nil {
			src.Close()
			_ = flush()
			return -1, true, err
		}
		t.src.Close()
		t.conv.Close()
		c.mu.Lock()
		t.src, t.conv, t.info = src, conv, next
		c.mu.Unlock()
		return -1, false, nil
	}
	if err := flush(); err != nil {
		src.Close()
		return -1, true, err
	}
	enc, err := encode.Open(c.encoder, encode.Params{Width: w, Height: h, FPS: c.spec.FPS, Options: c.spec.EncoderOptions})
	if err != nil {
		src.Close()
		return -1, true, err
	}
	conv, err := encode.NewConverter(sw, sh, src.PixelFormat(), w, h, enc.PixelFormat(), next.Blank)
	if err != nil {
		src.Close()
		enc.Close()
		return -1, true, err
	}
	oldSrc, oldConv, oldEnc := t.src, t.conv, t.enc
	if t.slate != nil {
		t.slate.Free()
		t.slate = nil
	}
	c.mu.Lock()
	t.src, t.conv, t.enc, t.info, t.w, t.h = src, conv, enc, next, w, h
	cut = c.reshape(idx, mux.Stream{Codec: enc.CodecContext(), TimeBase: encode.TimeBase, FPS: c.spec.FPS, Title: c.streams[idx].Title})
	c.mu.Unlock()
	oldSrc.Close()
	oldConv.Close()
	oldEnc.Close() // every sink's files now take the new stream
	return cut, false, nil
}

// reshape replaces track idx's stream and cuts a new segment in every sink now; it returns
// the cut's pts. c.mu is held.
func (c *Capture) reshape(idx int, st mux.Stream) int64 {
	streams := append([]mux.Stream(nil), c.streams...)
	streams[idx] = st
	c.streams = streams
	cut := c.now()
	tags := c.geometryTags()
	for _, s := range c.sinks {
		s.seg.Reshape(cut, streams, tags)
	}
	return cut
}

// allSinksEnded reports whether no sink is still recording any track. c.mu is held.
func (c *Capture) allSinksEnded() bool {
	for _, s := range c.sinks {
		if !s.allEnded() {
			return false
		}
	}
	return true
}

func geometry(t capture.Track) string {
	g := t.Grab
	return fmt.Sprintf("%dx%d+%d+%d", g.Dx(), g.Dy(), g.Min.X, g.Min.Y)
}
