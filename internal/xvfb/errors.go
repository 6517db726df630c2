package xvfb

import "errors"

var (
	// ErrNotAvailable reports that a program the package needs (Xvfb or
	// xrandr) is not installed or not on PATH.
	ErrNotAvailable = errors.New("xvfb: required program not found")

	// ErrNoMonitors reports that Options.Monitors is empty.
	ErrNoMonitors = errors.New("xvfb: no monitors given")

	// ErrInvalidMonitor reports a monitor with an empty or duplicate name,
	// a non-positive size, a negative origin or a geometry that does not
	// fit the X protocol's 16-bit coordinates.
	ErrInvalidMonitor = errors.New("xvfb: invalid monitor")

	// ErrStartTimeout reports that Xvfb did not become ready in time.
	ErrStartTimeout = errors.New("xvfb: timed out waiting for Xvfb to become ready")

	// ErrNoFreeDisplay reports that every display number tried was taken.
	ErrNoFreeDisplay = errors.New("xvfb: no free display number found")

	// ErrExited reports that the Xvfb process exited on its own, either
	// during start-up or before Close was called.
	ErrExited = errors.New("xvfb: Xvfb exited unexpectedly")

	// ErrMonitorMismatch reports that the monitors the server lists differ
	// from the ones that were requested.
	ErrMonitorMismatch = errors.New("xvfb: monitor layout does not match the request")

	// ErrUnsupported reports that the platform cannot run Xvfb the way the
	// package needs (process groups are a Unix feature).
	ErrUnsupported = errors.New("xvfb: unsupported platform")
)
