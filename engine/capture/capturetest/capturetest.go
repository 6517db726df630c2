// Package capturetest is a scripted screen for tests: a capture.Backend whose sources show
// solid colours that change at given times, paced at the capture's frame rate like a real
// display, so that the engine's session rules and the pipeline's frame decisions are tested
// without an X server. Give it to the engine with engine.WithCaptureBackend, or to a pipeline
// through CaptureSpec.Backend.
//
// It is a test seam, not an adapter API: only tests import it.
package capturetest

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/internal/avext"
)

// ErrScripted is the error of a source scripted to fail (Screen.FailAfter).
var ErrScripted = errors.New("capturetest: scripted read failure")

// DefaultDisplay is the display name Discover reports when asked for the default display.
const DefaultDisplay = ":scripted"

// Step is the colour of the whole screen from At (since a source opened) on.
type Step struct {
	At     time.Duration
	Colour color.RGBA
}

// Screen is a scripted display. Set its fields before use; it is safe for concurrent use.
type Screen struct {
	// Monitors are the screen's monitors in root coordinates (default: one 320x240 monitor).
	// Index is filled in.
	Monitors []capture.Monitor
	// Steps are the screen's colours over time, ordered by At (default: grey all along).
	Steps []Step
	// Hold, when set, makes Discover wait until it is closed (or its ctx ends): a capture
	// that is slow to open, for what happens while a session is starting.
	Hold chan struct{}
	// OpenErr, when set, makes Open fail with it.
	OpenErr error
	// FailAfter, when positive, makes a source's reads fail with ErrScripted this long after
	// it opened.
	FailAfter time.Duration

	mu     sync.Mutex
	opened int
	live   int
}

var _ capture.Backend = (*Screen)(nil)

// DefaultMonitor is the monitor of a Screen that names none.
var DefaultMonitor = capture.Monitor{Name: "TEST-1", Width: 320, Height: 240, Primary: true}

// Grey is the colour of a Screen with no steps.
var Grey = color.RGBA{128, 128, 128, 255}

// Discover reports the scripted monitors on display (DefaultDisplay when empty).
func (s *Screen) Discover(ctx context.Context, display string) (*capture.Screen, error) {
	if s.Hold != nil {
		select {
		case <-s.Hold:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if display == "" {
		display = DefaultDisplay
	}
	mons := s.Monitors
	if len(mons) == 0 {
		mons = []capture.Monitor{DefaultMonitor}
	}
	out := &capture.Screen{Display: display}
	for i, m := range mons {
		m.Index = i
		out.Monitors = append(out.Monitors, m)
		out.Width, out.Height = max(out.Width, m.X+m.Width), max(out.Height, m.Y+m.Height)
	}
	return out, nil
}

// Open opens a source over the track's area. With capture.MethodX11Grab it is a plain
// capture.Source (every frame whole), otherwise a capture.ChangeSource.
func (s *Screen) Open(ctx context.Context, t capture.Track, o capture.SourceOptions) (capture.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.OpenErr != nil {
		return nil, s.OpenErr
	}
	if o.FPS <= 0 {
		return nil, fmt.Errorf("capturetest: fps %d", o.FPS)
	}
	f := astiav.AllocFrame()
	f.SetWidth(t.Grab.Dx())
	f.SetHeight(t.Grab.Dy())
	f.SetPixelFormat(astiav.PixelFormatBgr0)
	if err := f.AllocBuffer(0); err != nil {
		f.Free()
		return nil, fmt.Errorf("capturetest: frame: %w", err)
	}
	s.mu.Lock()
	s.opened++
	s.live++
	s.mu.Unlock()
	src := &source{screen: s, frame: f, w: t.Grab.Dx(), h: t.Grab.Dy(), opened: time.Now(),
		pace: capture.NewPacer(o.FPS)}
	if o.Method == capture.MethodX11Grab {
		return wholeSource{src}, nil
	}
	return src, nil
}

// Opened is how many sources were opened so far.
func (s *Screen) Opened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}

// Live is how many sources are open now.
func (s *Screen) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// colourAt is the screen's colour d after a source opened.
func (s *Screen) colourAt(d time.Duration) color.RGBA {
	c := Grey
	for _, st := range s.Steps {
		if st.At > d {
			break
		}
		c = st.Colour
	}
	return c
}

// source is one track's scripted source.
type source struct {
	screen  *Screen
	frame   *astiav.Frame
	w, h    int
	opened  time.Time
	pace    capture.Pacer
	shown   color.RGBA
	started bool
	once    sync.Once
}

var _ capture.ChangeSource = (*source)(nil)

func (s *source) Size() (int, int) { return s.w, s.h }

func (s *source) PixelFormat() astiav.PixelFormat { return astiav.PixelFormatBgr0 }

// ReadChange waits until the next frame is due and paints the screen's colour, reporting the
// whole frame as changed when the colour changed.
func (s *source) ReadChange(ctx context.Context) (capture.Change, error) {
	missed, err := s.pace.Wait(ctx)
	if err != nil {
		return capture.Change{}, err
	}
	at := time.Now()
	since := at.Sub(s.opened)
	if fa := s.screen.FailAfter; fa > 0 && since >= fa {
		return capture.Change{}, ErrScripted
	}
	var rects []image.Rectangle
	if c := s.screen.colourAt(since); !s.started || c != s.shown {
		whole := image.Rect(0, 0, s.w, s.h)
		if err := avext.FillBGR0(s.frame, whole, c); err != nil {
			return capture.Change{}, err
		}
		s.shown, s.started, rects = c, true, []image.Rectangle{whole}
	}
	s.frame.SetPts(at.UnixMicro())
	return capture.Change{Frame: s.frame, Rects: rects, Missed: missed, Took: time.Since(at)}, nil
}

// Read copies the next frame into f.
func (s *source) Read(ctx context.Context, f *astiav.Frame) error {
	ch, err := s.ReadChange(ctx)
	if err != nil {
		return err
	}
	f.Unref()
	if err := f.Ref(ch.Frame); err != nil {
		return fmt.Errorf("capturetest: ref frame: %w", err)
	}
	return nil
}

func (s *source) Close() error {
	s.once.Do(func() {
		s.frame.Free()
		s.screen.mu.Lock()
		s.screen.live--
		s.screen.mu.Unlock()
	})
	return nil
}

// wholeSource is a source without change tracking, as x11grab is.
type wholeSource struct{ s *source }

func (w wholeSource) Read(ctx context.Context, f *astiav.Frame) error { return w.s.Read(ctx, f) }
func (w wholeSource) Size() (int, int)                                { return w.s.Size() }
func (w wholeSource) PixelFormat() astiav.PixelFormat                 { return w.s.PixelFormat() }
func (w wholeSource) Close() error                                    { return w.s.Close() }
