//go:build !linux

package capture

import (
	"context"
	"fmt"
	"runtime"
)

// Open reports that no capture device is wired up for this operating system yet (gdigrab or
// ddagrab on Windows and avfoundation on macOS are the planned ones).
func Open(ctx context.Context, t Track, o SourceOptions) (Source, error) {
	return nil, fmt.Errorf("%w (%s)", ErrUnsupportedPlatform, runtime.GOOS)
}
