// Package pipeline runs one recording: capture → convert → encode → mux, for one track or
// several, until its duration is reached, it is stopped or its context ends.
package pipeline

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/encode"
)

// Frame-rate bounds and default.
const (
	DefaultFPS = 10
	MinFPS     = 1
	MaxFPS     = 60
)

// Spec describes a recording.
type Spec struct {
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
func (s Spec) withDefaults() Spec {
	if s.FPS == 0 {
		s.FPS = DefaultFPS
	}
	if s.Layout == "" {
		s.Layout = capture.LayoutCanvas
	}
	if len(s.Encoders) == 0 {
		s.Encoders = encode.DefaultOrder
	}
	return s
}

// Validate checks every field that can be checked without touching the display, naming the
// field at fault.
func (s Spec) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidSpec, field, fmt.Sprintf(format, args...))
	}
	if s.FPS < MinFPS || s.FPS > MaxFPS {
		return bad("fps", "%d is out of range %d-%d", s.FPS, MinFPS, MaxFPS)
	}
	if _, err := capture.ParseLayout(string(s.Layout)); err != nil {
		return bad("layout", "%v", err)
	}
	if s.MaxWidth < 0 || s.MaxHeight < 0 || (s.MaxWidth > 0 && s.MaxWidth < 2) || (s.MaxHeight > 0 && s.MaxHeight < 2) {
		return bad("max-width/max-height", "%dx%d must be 0 (no limit) or at least 2", s.MaxWidth, s.MaxHeight)
	}
	for _, n := range s.Encoders {
		if _, err := encode.Lookup(n); err != nil {
			return bad("encoder", "%v", err)
		}
	}
	if s.Duration < 0 {
		return bad("duration", "%s is negative", s.Duration)
	}
	if s.SegmentEvery < 0 || (s.SegmentEvery > 0 && s.SegmentEvery < time.Second) {
		return bad("segment", "%s must be 0 (one file) or at least 1s", s.SegmentEvery)
	}
	if s.Out == "" {
		return bad("out", "no output path")
	}
	return checkWritableDir(s.Out)
}

// checkWritableDir fails early, before any device is opened, when out's folder is missing or
// not writable.
func checkWritableDir(out string) error {
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, out, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s: %s is not a folder", ErrOutput, out, dir)
	}
	probe, err := os.CreateTemp(dir, ".recorder-probe-*")
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, out, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return fmt.Errorf("%w: %s is a folder", ErrOutput, out)
	}
	return nil
}
