// Package capture finds the monitors of a display, plans which screen areas a recording grabs
// and reads raw frames from them through FFmpeg's platform capture devices.
package capture

import (
	"fmt"
	"image"
	"os"
)

// Monitor is one physical or virtual monitor in absolute root-window coordinates.
type Monitor struct {
	// Index is the monitor's position in Screen.Monitors (ordered left to right, then top to bottom).
	Index int `json:"index"`
	// Name is what the display server calls the monitor (e.g. "DP-1"); may be empty.
	Name string `json:"name"`
	// X and Y are the top-left corner in root coordinates, never relative to the primary monitor.
	X int `json:"x"`
	Y int `json:"y"`
	// Width and Height are the monitor's size in pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Primary reports whether this is the display's primary monitor.
	Primary bool `json:"primary"`
}

// Rect returns the monitor's area in root coordinates.
func (m Monitor) Rect() image.Rectangle {
	return image.Rect(m.X, m.Y, m.X+m.Width, m.Y+m.Height)
}

// String formats the monitor as "index:name WxH+X+Y".
func (m Monitor) String() string {
	return fmt.Sprintf("%d:%s %dx%d+%d+%d", m.Index, m.Name, m.Width, m.Height, m.X, m.Y)
}

// Screen is a display with its root size and monitors.
type Screen struct {
	// Display is the display the screen was found on (e.g. ":0").
	Display string `json:"display"`
	// Width and Height are the size of the root window.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Monitors are ordered left to right, then top to bottom.
	Monitors []Monitor `json:"monitors"`
}

// Bounds returns the root window's area.
func (s *Screen) Bounds() image.Rectangle { return image.Rect(0, 0, s.Width, s.Height) }

// ResolveDisplay returns display, or $DISPLAY when display is empty.
func ResolveDisplay(display string) (string, error) {
	if display != "" {
		return display, nil
	}
	if d := os.Getenv("DISPLAY"); d != "" {
		return d, nil
	}
	return "", ErrNoDisplay
}
