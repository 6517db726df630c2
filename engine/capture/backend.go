package capture

import "context"

// Backend is where captures come from: it finds a display's monitors and opens a track's
// source. System, the display server, is the default; tests give a scripted screen
// (capture/capturetest) so that what a recording does with frames is tested without one.
type Backend interface {
	// Discover lists the monitors of display (empty: $DISPLAY), as Discover does.
	Discover(ctx context.Context, display string) (*Screen, error)
	// Open opens the source of one track, as Open does.
	Open(ctx context.Context, t Track, o SourceOptions) (Source, error)
}

// System is the operating system's display server: the package's Discover and Open.
var System Backend = system{}

type system struct{}

func (system) Discover(ctx context.Context, display string) (*Screen, error) {
	display, err := ResolveDisplay(display)
	if err != nil {
		return nil, err
	}
	return Discover(ctx, display)
}

func (system) Open(ctx context.Context, t Track, o SourceOptions) (Source, error) {
	return Open(ctx, t, o)
}
