package xvfb

import (
	"fmt"
	"image"
	"regexp"
	"strconv"
	"strings"
)

// Monitor is one RandR monitor: a named rectangle of the X screen, in
// root-window pixel coordinates.
type Monitor struct {
	Name          string
	X, Y          int
	Width, Height int
}

// ThreeMonitors is a realistic mixed-resolution desktop: a 1080p monitor
// with a 5:4 and a 4:3 monitor to its right, bottom edges not aligned.
// The screen is 4224x1080.
var ThreeMonitors = []Monitor{
	{Name: "M0", X: 0, Y: 0, Width: 1920, Height: 1080},
	{Name: "M1", X: 1920, Y: 0, Width: 1280, Height: 1024},
	{Name: "M2", X: 3200, Y: 0, Width: 1024, Height: 768},
}

// TwoMonitors is a light two-monitor layout (2560x720 screen), cheap enough
// for interactive demos such as `make run`.
var TwoMonitors = []Monitor{
	{Name: "M0", X: 0, Y: 0, Width: 1280, Height: 720},
	{Name: "M1", X: 1280, Y: 0, Width: 1280, Height: 720},
}

// maxCoord is the largest coordinate the X protocol can express (INT16).
const maxCoord = 1<<15 - 1

// Bounds returns the monitor's rectangle in root-window coordinates.
func (m Monitor) Bounds() image.Rectangle {
	return image.Rect(m.X, m.Y, m.X+m.Width, m.Y+m.Height)
}

// String formats the monitor like xrandr does, without physical sizes:
// "M0 1920x1080+0+0".
func (m Monitor) String() string {
	return fmt.Sprintf("%s %dx%d+%d+%d", m.Name, m.Width, m.Height, m.X, m.Y)
}

// xrandrGeometry returns the geometry argument of `xrandr --setmonitor`,
// including a physical size derived from 96 dpi. Applications (and
// xrandr itself) treat a 0 mm size as "unknown" and some compute DPI from
// it, so a plausible value is better than none.
func (m Monitor) xrandrGeometry() string {
	return fmt.Sprintf("%d/%dx%d/%d+%d+%d",
		m.Width, pxToMM(m.Width), m.Height, pxToMM(m.Height), m.X, m.Y)
}

// pxToMM converts pixels to millimetres at 96 dpi (25.4 mm per inch),
// rounding to the nearest millimetre.
func pxToMM(px int) int {
	return (px*254 + 480) / 960
}

// validateMonitors checks a requested layout and returns the size of the
// screen that holds it: the bounding box of all monitors, anchored at the
// origin.
func validateMonitors(monitors []Monitor) (width, height int, err error) {
	if len(monitors) == 0 {
		return 0, 0, ErrNoMonitors
	}
	seen := make(map[string]bool, len(monitors))
	for _, m := range monitors {
		switch {
		case m.Name == "" || strings.ContainsAny(m.Name, " \t\n"):
			return 0, 0, fmt.Errorf("%w: %q: name must be non-empty and contain no spaces", ErrInvalidMonitor, m.Name)
		case seen[m.Name]:
			return 0, 0, fmt.Errorf("%w: duplicate name %q", ErrInvalidMonitor, m.Name)
		case m.Width <= 0 || m.Height <= 0:
			return 0, 0, fmt.Errorf("%w: %v: size must be positive", ErrInvalidMonitor, m)
		case m.X < 0 || m.Y < 0:
			return 0, 0, fmt.Errorf("%w: %v: origin must not be negative", ErrInvalidMonitor, m)
		case m.X+m.Width > maxCoord || m.Y+m.Height > maxCoord:
			return 0, 0, fmt.Errorf("%w: %v: exceeds the X protocol's %d pixel limit", ErrInvalidMonitor, m, maxCoord)
		}
		seen[m.Name] = true
		width = max(width, m.X+m.Width)
		height = max(height, m.Y+m.Height)
	}
	return width, height, nil
}

// listMonitorsLine matches one monitor line of `xrandr --listmonitors`:
//
//	0: +*M0 1920/508x1080/286+0+0  screen
//
// The "+" marks an automatic monitor and "*" the primary one; neither is
// part of the name.
var listMonitorsLine = regexp.MustCompile(`^\s*\d+:\s+[+*]*(\S+)\s+(\d+)/\d+x(\d+)/\d+([+-]\d+)([+-]\d+)`)

// ParseListMonitors parses the output of `xrandr --listmonitors` into
// monitors, in the order xrandr lists them. It fails if the "Monitors: N"
// header is missing or does not match the number of monitor lines.
func ParseListMonitors(out string) ([]Monitor, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var want int
	if _, err := fmt.Sscanf(lines[0], "Monitors: %d", &want); err != nil {
		return nil, fmt.Errorf("xvfb: parse xrandr --listmonitors header %q: %w", lines[0], err)
	}
	monitors := make([]Monitor, 0, want)
	for _, line := range lines[1:] {
		m := listMonitorsLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("xvfb: parse xrandr --listmonitors line %q: unexpected format", line)
		}
		// The regexp guarantees the numeric groups are digits, so Atoi
		// can fail only on overflow, which xrandr cannot produce.
		w, _ := strconv.Atoi(m[2])
		h, _ := strconv.Atoi(m[3])
		x, _ := strconv.Atoi(m[4])
		y, _ := strconv.Atoi(m[5])
		monitors = append(monitors, Monitor{Name: m[1], X: x, Y: y, Width: w, Height: h})
	}
	if len(monitors) != want {
		return nil, fmt.Errorf("xvfb: xrandr --listmonitors announced %d monitors but listed %d", want, len(monitors))
	}
	return monitors, nil
}
