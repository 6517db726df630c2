package capture

import (
	"errors"

	"github.com/screenrec/recorder/engine/api"
)

// Sentinel errors of the capture stage. Callers classify with errors.Is.
var (
	// ErrUnsupportedPlatform: screen capture is not available on this operating system.
	ErrUnsupportedPlatform = errors.New("screen capture is not supported on this platform")
	// ErrNoDisplay: no display was named and DISPLAY is unset.
	ErrNoDisplay = errors.New("no display: set DISPLAY or pass a display such as :0")
	// ErrDisplayUnreachable: the X server could not be reached.
	ErrDisplayUnreachable = errors.New("display unreachable")
	// ErrNoMonitors: the display reports no usable monitor.
	ErrNoMonitors = errors.New("display has no monitors")
	// ErrUnknownMonitor: a selection names a monitor index the display does not have.
	ErrUnknownMonitor = errors.New("unknown monitor")
	// ErrBadSelection: a monitor selection could not be parsed.
	ErrBadSelection = api.ErrBadSelection
	// ErrBadLayout: the layout is neither canvas nor tracks.
	ErrBadLayout = api.ErrBadLayout
	// ErrOutsideScreen: a capture region does not lie within the screen.
	ErrOutsideScreen = errors.New("region outside the screen")
	// ErrBadRegion: a region could not be parsed or is too small.
	ErrBadRegion = errors.New("bad region")
	// ErrOpen: the capture device could not be opened.
	ErrOpen = errors.New("cannot open capture device")
	// ErrRead: the capture device failed while reading a frame.
	ErrRead = errors.New("capture read failed")
	// ErrScreenChanged: the screen changed (RandR) so that what a recording captures is no
	// longer on it: its region left the screen, or every monitor it showed was disconnected.
	ErrScreenChanged = errors.New("the screen changed")
)
