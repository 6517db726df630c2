// Package pipeline runs captures and the recordings made of them: a Capture grabs, converts
// and encodes a screen area (one track or several) once, and any number of Sinks write its
// packets to their own MP4 files, each from its own start to its own stop. Recording is the
// one-shot combination of the two that `recorder record` uses.
package pipeline

import (
	"fmt"
	"image"
	"image/color"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/encode"
)

// Frame-rate bounds and default.
const (
	DefaultFPS = api.DefaultFPS
	MinFPS     = api.MinFPS
	MaxFPS     = api.MaxFPS
)

// CaptureSpec describes what is captured and how it is encoded: everything that recordings
// sharing one capture and one encode must agree on.
type CaptureSpec struct {
	// Display is the X display (empty: $DISPLAY).
	Display string
	// Monitors selects monitors (empty: all).
	Monitors capture.Selection
	// Layout is canvas (default) or tracks.
	Layout capture.Layout
	// Region, when not empty, records this root-window area instead of monitors.
	Region image.Rectangle
	// FPS is the capture rate (default 10, 1–60).
	FPS int
	// MaxWidth and MaxHeight downscale each track to fit, keeping its aspect (0: no limit).
	MaxWidth, MaxHeight int
	// DrawMouse paints the pointer.
	DrawMouse bool
	// Encoders is the order in which encoders are tried (empty: encode.DefaultOrder).
	Encoders []string
	// EncoderOptions override the chosen encoder's private options.
	EncoderOptions map[string]string
	// MaskColor is what masked frames show (default black).
	MaskColor color.RGBA
	// Method is how the screen is grabbed: capture.MethodAuto (default), MethodXShm or
	// MethodX11Grab.
	Method string
	// Observer, when set, is told how long each frame's capture and encode took.
	Observer FrameObserver
	// MaxFrameGap bounds how long an unchanged screen goes without an encoded frame, where
	// the source tracks changes (default DefaultMaxFrameGap, 10 s). It does not bound what a
	// crash loses: the muxer extends a still stream's last sample on disk at every sync, so a
	// crash loses about a second of a still screen whatever the gap.
	MaxFrameGap time.Duration
	// Backend finds the screen and opens its sources (nil: capture.System, the display
	// server). Tests set a scripted one; it is not part of Key, as one program uses one.
	Backend capture.Backend
}

// FrameObserver learns per-frame timings. Capture goroutines call it for every frame, so it
// must be quick and safe for concurrent use.
type FrameObserver interface {
	// Captured: grabbing a frame and converting what changed in it took d (with x11grab, the
	// conversion only: its grab includes waiting for the frame to be due).
	Captured(d time.Duration)
	// Encoded: encoding one frame took d.
	Encoded(d time.Duration)
}

// DefaultMaxFrameGap is the default CaptureSpec.MaxFrameGap.
const DefaultMaxFrameGap = api.DefaultMaxFrameGap

// Spec describes a one-shot recording to a file.
type Spec struct {
	CaptureSpec
	// Out is the output file (with SegmentEvery, the pattern of segment names).
	Out string
	// SegmentEvery rotates to a new standalone file this often (0: one file).
	SegmentEvery time.Duration
	// Duration ends the recording after this long (0: until stopped).
	Duration time.Duration
	// Metadata are extra container tags (e.g. recording_id, owner).
	Metadata map[string]string
}

// withDefaults returns s with defaults filled in.
func (s CaptureSpec) withDefaults() CaptureSpec {
	if s.FPS == 0 {
		s.FPS = DefaultFPS
	}
	if s.Layout == "" {
		s.Layout = capture.LayoutCanvas
	}
	if len(s.Encoders) == 0 {
		s.Encoders = encode.DefaultOrder
	}
	if s.MaskColor == (color.RGBA{}) {
		s.MaskColor = color.RGBA{A: 255}
	}
	if s.Method == "" {
		s.Method = capture.MethodAuto
	}
	if s.MaxFrameGap == 0 {
		s.MaxFrameGap = DefaultMaxFrameGap
	}
	if s.Backend == nil {
		s.Backend = capture.System
	}
	return s
}

// Key identifies what the capture records and how: two recordings with equal keys can share
// one capture and one encode.
func (s CaptureSpec) Key() string {
	s = s.withDefaults()
	opts := make([]string, 0, len(s.EncoderOptions))
	for k, v := range s.EncoderOptions {
		opts = append(opts, k+"="+v)
	}
	sort.Strings(opts)
	return fmt.Sprintf("display=%s monitors=%s layout=%s region=%v fps=%d max=%dx%d mouse=%v encoders=%s opts=%s mask=%v method=%s gap=%s",
		s.Display, s.Monitors, s.Layout, s.Region, s.FPS, s.MaxWidth, s.MaxHeight, s.DrawMouse,
		strings.Join(s.Encoders, ","), strings.Join(opts, ","), s.MaskColor, s.Method, s.MaxFrameGap)
}

// ValidateFPS checks a frame rate given explicitly (where 0 does not mean the default).
func ValidateFPS(fps int) error {
	if fps < MinFPS || fps > MaxFPS {
		return invalid("fps", "%d is out of range %d-%d", fps, MinFPS, MaxFPS)
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidSpec, field, fmt.Sprintf(format, args...))
}

// Validate checks every field that can be checked without touching the display, naming the
// field at fault. Zero values stand for their defaults.
func (s CaptureSpec) Validate() error {
	s = s.withDefaults()
	if err := ValidateFPS(s.FPS); err != nil {
		return err
	}
	if _, err := capture.ParseLayout(string(s.Layout)); err != nil {
		return invalid("layout", "%v", err)
	}
	if s.MaxWidth < 0 || s.MaxHeight < 0 || (s.MaxWidth > 0 && s.MaxWidth < 2) || (s.MaxHeight > 0 && s.MaxHeight < 2) {
		return invalid("max-width/max-height", "%dx%d must be 0 (no limit) or at least 2", s.MaxWidth, s.MaxHeight)
	}
	for _, n := range s.Encoders {
		if _, err := encode.Lookup(n); err != nil {
			return invalid("encoder", "%v", err)
		}
	}
	if !slices.Contains(capture.Methods(), s.Method) {
		return invalid("capture-method", "%q is not one of %s", s.Method, strings.Join(capture.Methods(), ", "))
	}
	if s.MaxFrameGap < 0 {
		return invalid("max-frame-gap", "%s is negative", s.MaxFrameGap)
	}
	return nil
}

// Validate checks the capture and the output fields.
func (s Spec) Validate() error {
	if err := s.CaptureSpec.Validate(); err != nil {
		return err
	}
	if s.Duration < 0 {
		return invalid("duration", "%s is negative", s.Duration)
	}
	return SinkConfig{Out: s.Out, SegmentEvery: s.SegmentEvery}.Validate()
}
