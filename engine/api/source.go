package api

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Layout says how several monitors end up in a recording.
type Layout string

const (
	// LayoutCanvas records the bounding box of the selected monitors as one video; areas that no
	// selected monitor covers are black.
	LayoutCanvas Layout = "canvas"
	// LayoutTracks records each selected monitor as its own video track in the same file.
	LayoutTracks Layout = "tracks"
)

// ParseLayout accepts "canvas" (also the empty string) or "tracks".
func ParseLayout(s string) (Layout, error) {
	switch Layout(s) {
	case "", LayoutCanvas:
		return LayoutCanvas, nil
	case LayoutTracks:
		return LayoutTracks, nil
	}
	return "", fmt.Errorf("%w %q: want canvas or tracks", ErrBadLayout, s)
}

// Selection names the monitors to record: all of them, or a set of indexes.
type Selection struct {
	// Indexes are monitor indexes in ascending order; empty means all monitors.
	Indexes []int
}

// All reports whether the selection means every monitor.
func (s Selection) All() bool { return len(s.Indexes) == 0 }

// String formats the selection as ParseSelection accepts it.
func (s Selection) String() string {
	if s.All() {
		return "all"
	}
	parts := make([]string, len(s.Indexes))
	for i, ix := range s.Indexes {
		parts[i] = strconv.Itoa(ix)
	}
	return strings.Join(parts, ",")
}

// MarshalText writes the selection as ParseSelection reads it ("all", "0,2").
func (s Selection) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a selection as ParseSelection does.
func (s *Selection) UnmarshalText(b []byte) error {
	v, err := ParseSelection(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSelection accepts "all" (or "") or a comma-separated list of monitor indexes ("0,2").
func ParseSelection(s string) (Selection, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return Selection{}, nil
	}
	seen := map[int]bool{}
	var sel Selection
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 0 {
			return Selection{}, fmt.Errorf("%w %q: want all or monitor indexes such as 0,2", ErrBadSelection, s)
		}
		if !seen[n] {
			seen[n] = true
			sel.Indexes = append(sel.Indexes, n)
		}
	}
	sort.Ints(sel.Indexes)
	return sel, nil
}
