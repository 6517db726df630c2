package capture

import (
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"

	"github.com/screenrec/recorder/engine/api"
)

// Layout says how several monitors end up in a recording (see api.Layout).
type Layout = api.Layout

// The layouts.
const (
	LayoutCanvas = api.LayoutCanvas
	LayoutTracks = api.LayoutTracks
)

// Selection names the monitors to record (see api.Selection).
type Selection = api.Selection

// ParseLayout accepts "canvas" (also the empty string) or "tracks".
func ParseLayout(s string) (Layout, error) { return api.ParseLayout(s) }

// ParseSelection accepts "all" (or "") or a comma-separated list of monitor indexes ("0,2").
func ParseSelection(s string) (Selection, error) { return api.ParseSelection(s) }

// ParseRegion parses an X geometry "WxH+X+Y" in root coordinates.
func ParseRegion(s string) (image.Rectangle, error) {
	var w, h, x, y int
	if n, err := fmt.Sscanf(s, "%dx%d+%d+%d", &w, &h, &x, &y); err != nil || n != 4 ||
		fmt.Sprintf("%dx%d+%d+%d", w, h, x, y) != s {
		return image.Rectangle{}, fmt.Errorf("%w %q: want WxH+X+Y such as 1280x720+0+0", ErrBadRegion, s)
	}
	if w < 2 || h < 2 {
		return image.Rectangle{}, fmt.Errorf("%w %q: width and height must be at least 2", ErrBadRegion, s)
	}
	return image.Rect(x, y, x+w, y+h), nil
}

// Track is one video the recording produces: what it grabs and what it must paint black.
type Track struct {
	// Name labels the track (the monitor name, "canvas" or "region").
	Name string
	// Grab is the grabbed area in root coordinates; its width and height are even, as yuv420p
	// needs (an odd edge loses its last column or row).
	Grab image.Rectangle
	// Monitors are the monitors this track shows.
	Monitors []Monitor
	// Blank are areas of Grab, relative to Grab's origin, that no monitor covers. They are
	// painted black because what the root holds there is not on any screen.
	Blank []image.Rectangle
}

// Plan decides the tracks of a recording. A non-empty region overrides the monitor selection
// and must lie within the screen.
func Plan(s *Screen, sel Selection, layout Layout, region image.Rectangle) ([]Track, error) {
	if len(s.Monitors) == 0 {
		return nil, ErrNoMonitors
	}
	if !region.Empty() {
		if !region.In(s.Bounds()) {
			return nil, fmt.Errorf("%w: %dx%d+%d+%d is not within the %dx%d screen of %s", ErrOutsideScreen,
				region.Dx(), region.Dy(), region.Min.X, region.Min.Y, s.Width, s.Height, s.Display)
		}
		var covering []Monitor
		for _, m := range s.Monitors {
			if m.Rect().Overlaps(region) {
				covering = append(covering, m)
			}
		}
		return []Track{newTrack("region", region, covering)}, nil
	}
	mons, err := s.pick(sel)
	if err != nil {
		return nil, err
	}
	switch layout {
	case LayoutTracks:
		tracks := make([]Track, len(mons))
		for i, m := range mons {
			name := m.Name
			if name == "" {
				name = fmt.Sprintf("monitor%d", m.Index)
			}
			tracks[i] = newTrack(name, m.Rect(), []Monitor{m})
		}
		return tracks, nil
	case LayoutCanvas, "":
		box := image.Rectangle{}
		for _, m := range mons {
			box = box.Union(m.Rect())
		}
		name := "canvas"
		if len(mons) == 1 && mons[0].Name != "" {
			name = mons[0].Name
		}
		return []Track{newTrack(name, box, mons)}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrBadLayout, layout)
}

func (s *Screen) pick(sel Selection) ([]Monitor, error) {
	if sel.All() {
		return s.Monitors, nil
	}
	out := make([]Monitor, 0, len(sel.Indexes))
	for _, ix := range sel.Indexes {
		if ix < 0 || ix >= len(s.Monitors) {
			return nil, fmt.Errorf("%w %d: %s has monitors 0-%d", ErrUnknownMonitor, ix, s.Display, len(s.Monitors)-1)
		}
		out = append(out, s.Monitors[ix])
	}
	return out, nil
}

func newTrack(name string, area image.Rectangle, mons []Monitor) Track {
	area.Max.X -= area.Dx() % 2
	area.Max.Y -= area.Dy() % 2
	covered := make([]image.Rectangle, 0, len(mons))
	for _, m := range mons {
		covered = append(covered, m.Rect().Intersect(area).Sub(area.Min))
	}
	return Track{Name: name, Grab: area, Monitors: mons,
		Blank: Uncovered(image.Rect(0, 0, area.Dx(), area.Dy()), covered)}
}

// Uncovered returns disjoint rectangles that together are the part of area no rectangle in
// covered overlaps.
func Uncovered(area image.Rectangle, covered []image.Rectangle) []image.Rectangle {
	free := []image.Rectangle{area}
	for _, c := range covered {
		var next []image.Rectangle
		for _, f := range free {
			next = append(next, subtract(f, c)...)
		}
		free = next
	}
	return free
}

// subtract returns up to four rectangles covering a minus b.
func subtract(a, b image.Rectangle) []image.Rectangle {
	in := a.Intersect(b)
	if in.Empty() {
		return []image.Rectangle{a}
	}
	var out []image.Rectangle
	add := func(r image.Rectangle) {
		if !r.Empty() {
			out = append(out, r)
		}
	}
	add(image.Rect(a.Min.X, a.Min.Y, a.Max.X, in.Min.Y)) // above
	add(image.Rect(a.Min.X, in.Max.Y, a.Max.X, a.Max.Y)) // below
	add(image.Rect(a.Min.X, in.Min.Y, in.Min.X, in.Max.Y))
	add(image.Rect(in.Max.X, in.Min.Y, a.Max.X, in.Max.Y))
	return out
}

// Replan plans a recording again on a changed screen s, keeping the tracks of the plan old
// it is recording with: the result holds, for each old track, its new geometry, or a zero
// Track (empty Grab) when the monitor it showed is gone. Tracks are matched by name, the
// monitor's, so a tracks layout follows its monitors wherever they now are, and monitors
// added since are not recorded (a recording's tracks are fixed). A canvas or a region has one
// track, planned as at the start; a canvas of all monitors grows and shrinks with them. The
// error, ErrScreenChanged, is a sentence for the user: nothing is left to record.
func Replan(s *Screen, sel Selection, layout Layout, region image.Rectangle, old []Track) ([]Track, error) {
	if !region.Empty() || layout != LayoutTracks {
		plan, err := Plan(s, sel, layout, region)
		switch {
		case errors.Is(err, ErrOutsideScreen):
			return nil, fmt.Errorf("%w: the screen is now %dx%d and the recorded area %dx%d+%d+%d is no longer on it",
				ErrScreenChanged, s.Width, s.Height, region.Dx(), region.Dy(), region.Min.X, region.Min.Y)
		case errors.Is(err, ErrUnknownMonitor) || errors.Is(err, ErrNoMonitors):
			return nil, fmt.Errorf("%w: %s", ErrScreenChanged, disconnected(old))
		case err != nil:
			return nil, err
		}
		if len(old) == 1 {
			plan[0].Name = old[0].Name // a file's track keeps its title
		}
		return plan, nil
	}
	all, err := Plan(s, Selection{}, LayoutTracks, image.Rectangle{})
	if err != nil && !errors.Is(err, ErrNoMonitors) {
		return nil, err
	}
	out := make([]Track, len(old))
	found := 0
	for i, o := range old {
		for _, t := range all {
			if t.Name == o.Name {
				out[i] = t
				found++
			}
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("%w: %s", ErrScreenChanged, disconnected(old))
	}
	return out, nil
}

// disconnected says the monitors of tracks were disconnected, as a sentence.
func disconnected(tracks []Track) string {
	var names []string
	for _, t := range tracks {
		for _, m := range t.Monitors {
			n := m.Name
			if n == "" {
				n = fmt.Sprint(m.Index)
			}
			names = append(names, n)
		}
	}
	if len(names) == 1 {
		return "monitor " + names[0] + " was disconnected"
	}
	return "monitors " + strings.Join(names, ", ") + " were disconnected"
}

// Same reports whether two tracks grab the same area with the same monitors.
func (t Track) Same(o Track) bool {
	return t.Name == o.Name && t.Grab == o.Grab && slices.Equal(t.Monitors, o.Monitors) && slices.Equal(t.Blank, o.Blank)
}
