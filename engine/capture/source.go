package capture

import (
	"context"

	"github.com/asticode/go-astiav"
)

// Source delivers the raw frames of one track, paced at the requested frame rate.
type Source interface {
	// Read replaces f's content with the next frame. Its pts are wall-clock microseconds
	// (TimeBase); Read blocks until the frame is due.
	Read(ctx context.Context, f *astiav.Frame) error
	// Size is the frame size, equal to the track's Grab size.
	Size() (width, height int)
	// PixelFormat is the raw frames' pixel format.
	PixelFormat() astiav.PixelFormat
	// Close releases the device; it is idempotent.
	Close() error
}

// TimeBase is the time base of Source frame timestamps: microseconds.
var TimeBase = astiav.NewRational(1, 1_000_000)

// SourceOptions are the capture settings shared by every track of a recording.
type SourceOptions struct {
	// Display is the display to grab, e.g. ":0".
	Display string
	// FPS is the capture rate in frames per second.
	FPS int
	// DrawMouse paints the mouse pointer into the frames.
	DrawMouse bool
}
