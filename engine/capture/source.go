package capture

import (
	"context"
	"image"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/api"
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

// Change is one frame of a ChangeSource and what changed in it.
type Change struct {
	// Frame is the source's own frame, updated in place: valid until the next read. Its pts
	// are wall-clock microseconds (TimeBase).
	Frame *astiav.Frame
	// Rects are the areas, in frame coordinates, that changed since the previous read (the
	// whole frame on the first read); none when the screen did not change.
	Rects []image.Rectangle
	// Missed is how many frame times went by unread since the previous read: the reader was
	// late, and the screen may have shown something in between that no frame holds.
	Missed int
	// Still is how many frame times went by unread while, as the X server's damage reports
	// say, nothing changed: the reader was late but lost nothing (they are unchanged frames,
	// not missed ones). A source without damage reports cannot know and counts them Missed.
	Still int
	// Took is how long bringing the frame up to date took, from when it was due.
	Took time.Duration
}

// ChangeSource is a Source that knows what changed on screen, so that an unchanged frame
// need not be converted or encoded, and a changed one only where it changed.
type ChangeSource interface {
	Source
	// ReadChange waits until the next frame is due and returns it with its changes.
	ReadChange(ctx context.Context) (Change, error)
}

// ChangeWaiter is a ChangeSource that learns of changes as they happen (X DAMAGE events), so
// that a reader need not read a still screen frame by frame: it sleeps in WaitChange until
// something changes or it has something of its own to do.
type ChangeWaiter interface {
	ChangeSource
	// WaitChange blocks until the screen (or the pointer drawn into it) may have changed
	// since the last read, until, wake receives, or ctx ends. The next ReadChange is then due
	// at once and counts no frame as missed for the time slept: WaitChange returns how many
	// frame times it slept through (unchanged frames, not read).
	WaitChange(ctx context.Context, until time.Time, wake <-chan struct{}) (unchanged int)
}

// Capture methods for SourceOptions.Method.
const (
	// MethodAuto uses MethodXShm where the display allows it, else MethodX11Grab.
	MethodAuto = api.CaptureAuto
	// MethodXShm is the engine's own change-tracking source (MIT-SHM, DAMAGE, XFIXES): an
	// unchanged screen costs almost nothing.
	MethodXShm = api.CaptureXShm
	// MethodX11Grab is FFmpeg's x11grab device: every frame is grabbed whole.
	MethodX11Grab = api.CaptureX11Grab
)

// Methods lists the valid capture methods.
func Methods() []string { return api.CaptureMethods() }

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
	// Method is how to capture: MethodAuto ("" too), MethodXShm or MethodX11Grab.
	Method string
}
