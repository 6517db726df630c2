//go:build !linux

package capture

import (
	"context"
	"fmt"

	"github.com/kbinani/screenshot"
)

// Discover lists the monitors through the operating system's display API. Windows and macOS
// report bounds in desktop coordinates, which is what their capture devices take.
func Discover(ctx context.Context, display string) (*Screen, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := screenshot.NumActiveDisplays()
	if n == 0 {
		return nil, ErrNoMonitors
	}
	s := &Screen{Display: display}
	var all = screenshot.GetDisplayBounds(0)
	for i := 0; i < n; i++ {
		b := screenshot.GetDisplayBounds(i)
		all = all.Union(b)
		s.Monitors = append(s.Monitors, Monitor{Index: i, Name: fmt.Sprintf("display%d", i),
			X: b.Min.X, Y: b.Min.Y, Width: b.Dx(), Height: b.Dy(), Primary: i == 0})
	}
	s.Width, s.Height = all.Dx(), all.Dy()
	return s, nil
}
