package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/pipeline"
)

// ThumbnailQuality is the JPEG quality of thumbnails: enough to tell windows apart.
const ThumbnailQuality = 70

// Thumbnail returns a JPEG of what track idx of a running session shows now, at most
// maxWidth pixels wide (0: full size). It is made from the last frame the pipeline encoded —
// no extra capture, and nothing is done when nobody asks. A masked session gives its mask,
// never the screen. Errors: ErrNotFound (no running session, or no such track), ErrBusy (the
// track has no frame yet: ask again), ErrClosed.
func (e *Engine) Thumbnail(ctx context.Context, id string, idx, maxWidth int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	s := e.live(id)
	if s == nil {
		return nil, fmt.Errorf("%w: %s is not running", ErrNotFound, id)
	}
	s.mu.Lock()
	c := s.capture
	s.mu.Unlock()
	st, _ := s.m.State()
	if c == nil || st.Terminal() {
		return nil, fmt.Errorf("%w: %s has no picture yet (%s)", ErrBusy, id, st)
	}
	img, err := c.Thumbnail(idx, maxWidth)
	switch {
	case errors.Is(err, pipeline.ErrNoTrack):
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, id, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrBusy, id, err)
	}
	if st == StateMasked {
		// The capture's mask follows the session's; this holds while they are in step.
		img = pipeline.Solid(img.Rect.Dx(), img.Rect.Dy(), e.cfg.MaskColor)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: ThumbnailQuality}); err != nil {
		return nil, fmt.Errorf("engine: thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

// Counters returns the engine's running totals (frames, bytes, …) as of now; see
// api.Counters.
func (e *Engine) Counters(ctx context.Context) (api.Counters, error) {
	if err := ctx.Err(); err != nil {
		return api.Counters{}, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return api.Counters{}, ErrClosed
	}
	r := e.retired
	live := make([]*session, 0, len(e.sessions))
	for _, s := range e.sessions {
		live = append(live, s)
	}
	caps := make([]*pipeline.Capture, 0, len(e.liveCaptures))
	for c := range e.liveCaptures {
		caps = append(caps, c)
	}
	e.mu.Unlock()
	now := time.Now()
	out := api.Counters{At: now}
	for _, s := range live {
		if st, _ := s.m.State(); !st.Terminal() {
			out.Sessions++
		}
		n := s.counts(now)
		r.encoded += n.encoded
		r.written += n.written
	}
	for _, c := range caps {
		n := readCapture(c)
		r.dropped += n.dropped
		r.skipped += n.skipped
	}
	out.Frames, out.Bytes, out.Dropped, out.Unchanged = r.encoded, r.written, r.dropped, r.skipped
	return out, nil
}
