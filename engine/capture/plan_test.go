package capture

import (
	"errors"
	"image"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestParseSelection(t *testing.T) {
	tests := []struct {
		in      string
		want    []int // nil means all
		wantErr bool
		str     string
	}{
		{in: "", want: nil, str: "all"},
		{in: "all", want: nil, str: "all"},
		{in: "  all ", want: nil, str: "all"},
		{in: "0", want: []int{0}, str: "0"},
		{in: "0,2", want: []int{0, 2}, str: "0,2"},
		{in: " 2, 0 ,2", want: []int{0, 2}, str: "0,2"},
		{in: "3,1,2,1", want: []int{1, 2, 3}, str: "1,2,3"},
		{in: "-1", wantErr: true},
		{in: "a", wantErr: true},
		{in: "1,,2", wantErr: true},
		{in: "1,", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "ALL", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			sel, err := ParseSelection(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrBadSelection) {
					t.Fatalf("ParseSelection(%q) error = %v, want one wrapping ErrBadSelection", tc.in, err)
				}
				if !strings.Contains(err.Error(), tc.in) {
					t.Errorf("error %q does not quote the input %q", err, tc.in)
				}
				if sel.Indexes != nil {
					t.Errorf("ParseSelection(%q) returned indexes %v with an error", tc.in, sel.Indexes)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSelection(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(sel.Indexes, tc.want) {
				t.Errorf("ParseSelection(%q).Indexes = %#v, want %#v", tc.in, sel.Indexes, tc.want)
			}
			if sel.All() != (tc.want == nil) {
				t.Errorf("ParseSelection(%q).All() = %v", tc.in, sel.All())
			}
			if got := sel.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			// String must round-trip through ParseSelection.
			again, err := ParseSelection(sel.String())
			if err != nil || !reflect.DeepEqual(again.Indexes, sel.Indexes) {
				t.Errorf("round trip of %q: %v, %v", sel.String(), again.Indexes, err)
			}
		})
	}
}

func TestParseLayout(t *testing.T) {
	tests := []struct {
		in      string
		want    Layout
		wantErr bool
	}{
		{"", LayoutCanvas, false},
		{"canvas", LayoutCanvas, false},
		{"tracks", LayoutTracks, false},
		{"Canvas", "", true},
		{"grid", "", true},
		{" tracks", "", true},
	}
	for _, tc := range tests {
		got, err := ParseLayout(tc.in)
		if tc.wantErr {
			if !errors.Is(err, ErrBadLayout) {
				t.Errorf("ParseLayout(%q) error = %v, want ErrBadLayout", tc.in, err)
			}
			if got != "" {
				t.Errorf("ParseLayout(%q) = %q with an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseLayout(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRegion(t *testing.T) {
	tests := []struct {
		in      string
		want    image.Rectangle
		wantErr bool
	}{
		{in: "1280x720+0+0", want: image.Rect(0, 0, 1280, 720)},
		{in: "640x480+100+50", want: image.Rect(100, 50, 740, 530)},
		{in: "2x2+7+9", want: image.Rect(7, 9, 9, 11)},
		{in: "1280x720", wantErr: true},
		{in: "1280x720+0", wantErr: true},
		{in: "0x5+0+0", wantErr: true},
		{in: "1x720+0+0", wantErr: true},
		{in: "720x1+0+0", wantErr: true},
		{in: "12x12+1+1junk", wantErr: true},
		{in: " 12x12+1+1", wantErr: true},
		{in: "12x12+01+1", wantErr: true},
		{in: "", wantErr: true},
		{in: "axb+c+d", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRegion(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrBadRegion) {
					t.Fatalf("ParseRegion(%q) error = %v, want ErrBadRegion", tc.in, err)
				}
				if got != (image.Rectangle{}) {
					t.Errorf("ParseRegion(%q) = %v with an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRegion(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

// checkPartition asserts pixel by pixel that got is a set of non-empty, disjoint rectangles
// inside area whose union is exactly the pixels of area no rectangle of covered contains.
func checkPartition(t *testing.T, area image.Rectangle, covered, got []image.Rectangle) {
	t.Helper()
	for _, r := range got {
		if r.Empty() {
			t.Errorf("result holds an empty rectangle %v", r)
		}
		if !r.In(area) {
			t.Errorf("result rectangle %v is not inside area %v", r, area)
		}
	}
	bad := 0
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			p := image.Pt(x, y)
			isCovered := false
			for _, c := range covered {
				if p.In(c) {
					isCovered = true
					break
				}
			}
			n := 0
			for _, r := range got {
				if p.In(r) {
					n++
				}
			}
			want := 1
			if isCovered {
				want = 0
			}
			if n != want {
				bad++
				if bad <= 5 {
					t.Errorf("pixel %v (covered=%v) is in %d result rectangles, want %d", p, isCovered, n, want)
				}
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d bad pixels in all", bad)
	}
}

func TestUncovered(t *testing.T) {
	// Three monitors 1920x1080, 1280x1024, 1024x768 side by side, scaled down by 64
	// (1920/64=30, 1080/64≈17, 1280/64=20, 1024/64=16, 768/64=12).
	l := []image.Rectangle{image.Rect(0, 0, 30, 17), image.Rect(30, 0, 50, 16), image.Rect(50, 0, 66, 12)}
	tests := []struct {
		name    string
		area    image.Rectangle
		covered []image.Rectangle
		want    int // expected uncovered pixel count
	}{
		{"no cover", image.Rect(0, 0, 10, 8), nil, 80},
		{"disjoint cover", image.Rect(0, 0, 10, 8), []image.Rectangle{image.Rect(20, 20, 30, 30)}, 80},
		{"full cover", image.Rect(0, 0, 10, 8), []image.Rectangle{image.Rect(0, 0, 10, 8)}, 0},
		{"over cover", image.Rect(2, 3, 10, 8), []image.Rectangle{image.Rect(-5, -5, 50, 50)}, 0},
		{"full cover in pieces", image.Rect(0, 0, 10, 8), []image.Rectangle{image.Rect(0, 0, 5, 8), image.Rect(5, 0, 10, 8)}, 0},
		{"hole in the middle", image.Rect(0, 0, 10, 8), []image.Rectangle{image.Rect(3, 2, 6, 5)}, 80 - 9},
		{"corner", image.Rect(0, 0, 10, 8), []image.Rectangle{image.Rect(7, 6, 12, 12)}, 80 - 6},
		{"overlapping covers", image.Rect(0, 0, 10, 8), []image.Rectangle{image.Rect(1, 1, 6, 6), image.Rect(4, 4, 9, 7)}, 80 - 25 - 15 + 4},
		{"empty cover", image.Rect(0, 0, 4, 4), []image.Rectangle{{}}, 16},
		{"offset area", image.Rect(5, 5, 15, 9), []image.Rectangle{image.Rect(0, 0, 8, 7)}, 40 - 6},
		{"L-shaped monitors", image.Rect(0, 0, 66, 17), l, 66*17 - (30*17 + 20*16 + 16*12)},
		{"L-shaped monitors, outer two", image.Rect(0, 0, 66, 17), []image.Rectangle{l[0], l[2]}, 66*17 - (30*17 + 16*12)},
		{"L-shaped monitors, reversed", image.Rect(0, 0, 66, 17), []image.Rectangle{l[2], l[1], l[0]}, 66*17 - (30*17 + 20*16 + 16*12)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Uncovered(tc.area, tc.covered)
			checkPartition(t, tc.area, tc.covered, got)
			n := 0
			for _, r := range got {
				n += r.Dx() * r.Dy()
			}
			if n != tc.want {
				t.Errorf("uncovered area = %d pixels, want %d (rects %v)", n, tc.want, got)
			}
		})
	}
}

// sameRegion reports whether a and b cover exactly the same pixels, and whether a's rectangles
// are disjoint. It checks one point per cell of the grid all rectangle edges make, which is
// exact because every rectangle is uniform over such a cell.
func sameRegion(a, b []image.Rectangle) (same, disjoint bool) {
	var xs, ys []int
	for _, r := range append(append([]image.Rectangle{}, a...), b...) {
		xs = append(xs, r.Min.X, r.Max.X)
		ys = append(ys, r.Min.Y, r.Max.Y)
	}
	sort.Ints(xs)
	sort.Ints(ys)
	count := func(rs []image.Rectangle, p image.Point) int {
		n := 0
		for _, r := range rs {
			if p.In(r) {
				n++
			}
		}
		return n
	}
	same, disjoint = true, true
	for _, y := range ys {
		for _, x := range xs {
			p := image.Pt(x, y)
			na, nb := count(a, p), count(b, p)
			if na > 1 {
				disjoint = false
			}
			if (na > 0) != (nb > 0) {
				same = false
			}
		}
	}
	return same, disjoint
}

func threeMonitors() *Screen {
	return &Screen{Display: ":9", Width: 4224, Height: 1080, Monitors: []Monitor{
		{Index: 0, Name: "DP-1", X: 0, Y: 0, Width: 1920, Height: 1080, Primary: true},
		{Index: 1, Name: "HDMI-1", X: 1920, Y: 0, Width: 1280, Height: 1024},
		{Index: 2, Name: "DP-2", X: 3200, Y: 0, Width: 1024, Height: 768},
	}}
}

func TestPlan(t *testing.T) {
	three := threeMonitors()
	m0, m1, m2 := three.Monitors[0], three.Monitors[1], three.Monitors[2]
	odd := &Screen{Display: ":1", Width: 1023, Height: 767, Monitors: []Monitor{
		{Index: 0, Name: "odd", Width: 1023, Height: 767}}}
	// Monitor 1 starts at (1000,200); there is nothing above it or below monitor 0.
	offset := &Screen{Display: ":2", Width: 3000, Height: 1200, Monitors: []Monitor{
		{Index: 0, Name: "left", X: 0, Y: 0, Width: 1000, Height: 1000},
		{Index: 1, Name: "right", X: 1000, Y: 200, Width: 2000, Height: 1000},
	}}
	unnamed := &Screen{Display: ":3", Width: 200, Height: 100, Monitors: []Monitor{
		{Index: 0, Width: 100, Height: 100}, {Index: 1, X: 100, Width: 100, Height: 100}}}

	type want struct {
		name     string
		grab     image.Rectangle
		monitors []Monitor
		blank    []image.Rectangle // compared as a pixel set
	}
	tests := []struct {
		name   string
		screen *Screen
		sel    string
		layout Layout
		region image.Rectangle
		want   []want
	}{
		{name: "canvas of all three", screen: three, sel: "all", layout: LayoutCanvas,
			want: []want{{"canvas", image.Rect(0, 0, 4224, 1080), []Monitor{m0, m1, m2},
				[]image.Rectangle{image.Rect(1920, 1024, 3200, 1080), image.Rect(3200, 768, 4224, 1080)}}}},
		{name: "empty layout means canvas", screen: three, sel: "", layout: "",
			want: []want{{"canvas", image.Rect(0, 0, 4224, 1080), []Monitor{m0, m1, m2},
				[]image.Rectangle{image.Rect(1920, 1024, 3200, 1080), image.Rect(3200, 768, 4224, 1080)}}}},
		{name: "tracks of all three", screen: three, sel: "all", layout: LayoutTracks,
			want: []want{
				{"DP-1", m0.Rect(), []Monitor{m0}, nil},
				{"HDMI-1", m1.Rect(), []Monitor{m1}, nil},
				{"DP-2", m2.Rect(), []Monitor{m2}, nil},
			}},
		{name: "subset 1", screen: three, sel: "1", layout: LayoutCanvas,
			want: []want{{"HDMI-1", image.Rect(1920, 0, 3200, 1024), []Monitor{m1}, nil}}},
		{name: "subset 0,2 canvas", screen: three, sel: "0,2", layout: LayoutCanvas,
			want: []want{{"canvas", image.Rect(0, 0, 4224, 1080), []Monitor{m0, m2},
				[]image.Rectangle{image.Rect(1920, 0, 3200, 1080), image.Rect(3200, 768, 4224, 1080)}}}},
		{name: "subset 1,2 canvas is relative to its origin", screen: three, sel: "1,2", layout: LayoutCanvas,
			want: []want{{"canvas", image.Rect(1920, 0, 4224, 1024), []Monitor{m1, m2},
				[]image.Rectangle{image.Rect(1280, 768, 2304, 1024)}}}},
		{name: "subset 2,0 tracks", screen: three, sel: "2,0", layout: LayoutTracks,
			want: []want{{"DP-1", m0.Rect(), []Monitor{m0}, nil}, {"DP-2", m2.Rect(), []Monitor{m2}, nil}}},
		{name: "region inside one monitor", screen: three, sel: "all", layout: LayoutTracks,
			region: image.Rect(100, 100, 740, 580),
			want:   []want{{"region", image.Rect(100, 100, 740, 580), []Monitor{m0}, nil}}},
		{name: "region across monitors and a gap", screen: three, sel: "0", layout: LayoutCanvas,
			region: image.Rect(2800, 600, 4000, 1000),
			want: []want{{"region", image.Rect(2800, 600, 4000, 1000), []Monitor{m1, m2},
				[]image.Rectangle{image.Rect(400, 168, 1200, 400)}}}},
		{name: "region of odd size", screen: three, sel: "all", layout: LayoutCanvas,
			region: image.Rect(1, 1, 1282, 722),
			want:   []want{{"region", image.Rect(1, 1, 1281, 721), []Monitor{m0}, nil}}},
		{name: "whole screen region", screen: three, sel: "all", layout: LayoutCanvas,
			region: three.Bounds(),
			want: []want{{"region", image.Rect(0, 0, 4224, 1080), []Monitor{m0, m1, m2},
				[]image.Rectangle{image.Rect(1920, 1024, 3200, 1080), image.Rect(3200, 768, 4224, 1080)}}}},
		{name: "odd monitor canvas", screen: odd, sel: "all", layout: LayoutCanvas,
			want: []want{{"odd", image.Rect(0, 0, 1022, 766), odd.Monitors, nil}}},
		{name: "odd monitor tracks", screen: odd, sel: "0", layout: LayoutTracks,
			want: []want{{"odd", image.Rect(0, 0, 1022, 766), odd.Monitors, nil}}},
		{name: "monitor at non-zero origin", screen: offset, sel: "1", layout: LayoutCanvas,
			want: []want{{"right", image.Rect(1000, 200, 3000, 1200), []Monitor{offset.Monitors[1]}, nil}}},
		{name: "monitor at non-zero origin, tracks", screen: offset, sel: "all", layout: LayoutTracks,
			want: []want{
				{"left", image.Rect(0, 0, 1000, 1000), []Monitor{offset.Monitors[0]}, nil},
				{"right", image.Rect(1000, 200, 3000, 1200), []Monitor{offset.Monitors[1]}, nil},
			}},
		{name: "canvas with non-zero origin monitor", screen: offset, sel: "all", layout: LayoutCanvas,
			want: []want{{"canvas", image.Rect(0, 0, 3000, 1200), offset.Monitors,
				[]image.Rectangle{image.Rect(0, 1000, 1000, 1200), image.Rect(1000, 0, 3000, 200)}}}},
		{name: "unnamed monitors tracks", screen: unnamed, sel: "all", layout: LayoutTracks,
			want: []want{
				{"monitor0", image.Rect(0, 0, 100, 100), unnamed.Monitors[:1], nil},
				{"monitor1", image.Rect(100, 0, 200, 100), unnamed.Monitors[1:], nil},
			}},
		{name: "unnamed single monitor canvas", screen: unnamed, sel: "1", layout: LayoutCanvas,
			want: []want{{"canvas", image.Rect(100, 0, 200, 100), unnamed.Monitors[1:], nil}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := ParseSelection(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Plan(tc.screen, sel, tc.layout, tc.region)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Plan returned %d tracks, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Name != w.name {
					t.Errorf("track %d name = %q, want %q", i, g.Name, w.name)
				}
				if g.Grab != w.grab {
					t.Errorf("track %d grab = %v, want %v", i, g.Grab, w.grab)
				}
				if g.Grab.Dx()%2 != 0 || g.Grab.Dy()%2 != 0 {
					t.Errorf("track %d grab %v has an odd size", i, g.Grab)
				}
				if !reflect.DeepEqual(g.Monitors, w.monitors) {
					t.Errorf("track %d monitors = %v, want %v", i, g.Monitors, w.monitors)
				}
				if len(w.blank) == 0 {
					if len(g.Blank) != 0 {
						t.Errorf("track %d blank = %v, want none", i, g.Blank)
					}
					continue
				}
				same, disjoint := sameRegion(g.Blank, w.blank)
				if !same {
					t.Errorf("track %d blank = %v, want the area of %v", i, g.Blank, w.blank)
				}
				if !disjoint {
					t.Errorf("track %d blank rectangles %v overlap", i, g.Blank)
				}
				size := image.Rect(0, 0, g.Grab.Dx(), g.Grab.Dy())
				for _, b := range g.Blank {
					if b.Empty() || !b.In(size) {
						t.Errorf("track %d blank %v is empty or outside %v", i, b, size)
					}
				}
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	three := threeMonitors()
	tests := []struct {
		name    string
		screen  *Screen
		sel     Selection
		layout  Layout
		region  image.Rectangle
		wantErr error
		mention []string
	}{
		{name: "unknown monitor", screen: three, sel: Selection{Indexes: []int{0, 3}}, layout: LayoutCanvas,
			wantErr: ErrUnknownMonitor, mention: []string{"monitor 3", ":9", "0-2"}},
		{name: "unknown monitor, tracks", screen: three, sel: Selection{Indexes: []int{7}}, layout: LayoutTracks,
			wantErr: ErrUnknownMonitor, mention: []string{"monitor 7"}},
		{name: "region past the right edge", screen: three, layout: LayoutCanvas,
			region: image.Rect(3000, 500, 4280, 1220), wantErr: ErrOutsideScreen,
			mention: []string{"1280x720+3000+500", "4224x1080", ":9"}},
		{name: "region at negative origin", screen: three, layout: LayoutCanvas,
			region: image.Rect(-2, 0, 100, 100), wantErr: ErrOutsideScreen},
		{name: "region past the bottom", screen: three, layout: LayoutCanvas,
			region: image.Rect(0, 1000, 100, 1082), wantErr: ErrOutsideScreen},
		{name: "no monitors", screen: &Screen{Display: ":0", Width: 100, Height: 100}, layout: LayoutCanvas,
			wantErr: ErrNoMonitors},
		{name: "bad layout", screen: three, layout: "grid", wantErr: ErrBadLayout, mention: []string{"grid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Plan(tc.screen, tc.sel, tc.layout, tc.region)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Plan error = %v, want %v", err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("Plan returned tracks %v with an error", got)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestMonitorString(t *testing.T) {
	m := Monitor{Index: 2, Name: "DP-2", X: 3200, Y: 10, Width: 1024, Height: 768}
	if got, want := m.String(), "2:DP-2 1024x768+3200+10"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := m.Rect(), image.Rect(3200, 10, 4224, 778); got != want {
		t.Errorf("Rect() = %v, want %v", got, want)
	}
}

func TestResolveDisplay(t *testing.T) {
	t.Setenv("DISPLAY", ":42")
	if d, err := ResolveDisplay(":7"); d != ":7" || err != nil {
		t.Errorf("ResolveDisplay(:7) = %q, %v", d, err)
	}
	if d, err := ResolveDisplay(""); d != ":42" || err != nil {
		t.Errorf("ResolveDisplay(\"\") with DISPLAY=:42 = %q, %v", d, err)
	}
	t.Setenv("DISPLAY", "")
	if d, err := ResolveDisplay(""); !errors.Is(err, ErrNoDisplay) || d != "" {
		t.Errorf("ResolveDisplay(\"\") without DISPLAY = %q, %v; want ErrNoDisplay", d, err)
	}
}

func TestReplan(t *testing.T) {
	two := &Screen{Display: ":9", Width: 640, Height: 240, Monitors: []Monitor{
		{Index: 0, Name: "M0", Width: 320, Height: 240}, {Index: 1, Name: "M1", X: 320, Width: 320, Height: 240}}}
	one := &Screen{Display: ":9", Width: 320, Height: 240, Monitors: two.Monitors[:1]}
	tracks, err := Plan(two, Selection{}, LayoutTracks, image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Replan(one, Selection{}, LayoutTracks, image.Rectangle{}, tracks)
	if err != nil || len(got) != 2 || !got[0].Same(tracks[0]) || !got[1].Grab.Empty() {
		t.Errorf("tracks after M1 left = %+v, %v; want M0 unchanged and M1 gone", got, err)
	}
	if _, err := Replan(&Screen{Width: 320, Height: 240, Monitors: []Monitor{{Name: "X", Width: 320, Height: 240}}},
		Selection{}, LayoutTracks, image.Rectangle{}, tracks); !errors.Is(err, ErrScreenChanged) ||
		err.Error() != "the screen changed: monitors M0, M1 were disconnected" {
		t.Errorf("every monitor gone: %v", err)
	}
	canvas, _ := Plan(two, Selection{}, LayoutCanvas, image.Rectangle{})
	got, err = Replan(one, Selection{}, LayoutCanvas, image.Rectangle{}, canvas)
	if err != nil || len(got) != 1 || got[0].Grab != image.Rect(0, 0, 320, 240) || got[0].Name != canvas[0].Name {
		t.Errorf("canvas after M1 left = %+v, %v", got, err)
	}
	region := image.Rect(400, 0, 600, 200)
	if _, err := Replan(one, Selection{}, LayoutCanvas, region, nil); !errors.Is(err, ErrScreenChanged) ||
		!strings.Contains(err.Error(), "no longer on it") {
		t.Errorf("region off the screen: %v", err)
	}
}
