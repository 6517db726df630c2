package xscene

import (
	"image"
	"math/rand/v2"
)

// Layout of the spreadsheet scene, in pixels.
const (
	sheetHeaderHeight = 22 // the column letters' row
	sheetRowHeader    = 40 // the row numbers' column
	sheetColWidth     = 96
	sheetRowHeight    = 22
	sheetCellPad      = 5
	sheetGlyph        = 6 // width of one typed digit
	// sheetEntryLen is how many keystrokes an entry takes before Enter.
	sheetEntryLen = 6
	// sheetRecalcEvery is how many entries pass between recalculations, which rewrite a
	// column of formulas below the edited cell.
	sheetRecalcEvery = 4
	sheetRecalcRows  = 16
)

// sheetSeed fixes the spreadsheet's content.
const sheetSeed = 0x5eed

// sheet is SceneSheet: a grid of cells holding right-aligned numbers; one keystroke per
// update is typed into the selected cell, Enter moves the selection down (to the next column
// at the bottom), and every few entries a column of results is recalculated.
type sheet struct {
	p     *Painter
	l     layers
	win   window
	grid  image.Rectangle // the cells, without the headers
	cols  int
	rows  int
	frame int

	selCol, selRow int
	typed          int // keystrokes of the current entry
	entries        int
}

func newSheet(p *Painter, area image.Rectangle) *sheet {
	w := newWindow(area)
	g := w.body
	g.Min.X += sheetRowHeader
	g.Min.Y += sheetHeaderHeight
	s := &sheet{p: p, l: newLayers(area), win: w, grid: g}
	s.cols = max(1, g.Dx()/sheetColWidth)
	s.rows = max(1, g.Dy()/sheetRowHeight)
	return s
}

// cell is the rectangle of cell (c, r), inside its grid lines.
func (s *sheet) cell(c, r int) image.Rectangle {
	x := s.grid.Min.X + c*sheetColWidth
	y := s.grid.Min.Y + r*sheetRowHeight
	return image.Rect(x+1, y+1, x+sheetColWidth, y+sheetRowHeight).Intersect(s.grid)
}

// paintValue queues cell (c, r) holding a number of n digits (0: empty), right-aligned.
func (s *sheet) paintValue(c, r, n int) {
	cr := s.cell(c, r)
	s.l.add(inkPaper, cr)
	if n == 0 {
		return
	}
	y := cr.Min.Y + (cr.Dy()-glyphHeight)/2
	x1 := cr.Max.X - sheetCellPad
	x0 := max(cr.Min.X+sheetCellPad, x1-n*(sheetGlyph+1))
	s.l.add(inkText, image.Rect(x0, y, x1, y+glyphHeight))
}

// valueAt is the digit count cell (c, r) shows after `version` recalculations.
func valueAt(c, r, version int) int {
	rng := rand.New(rand.NewPCG(sheetSeed, uint64(c)<<32|uint64(r)<<8|uint64(version)))
	if rng.IntN(6) == 0 {
		return 0
	}
	return 2 + rng.IntN(7)
}

// start paints the window, the headers, the grid and every value.
func (s *sheet) start() {
	s.win.paint(&s.l)
	b := s.win.body
	s.l.add(inkBorder, image.Rect(b.Min.X, b.Min.Y, b.Max.X, s.grid.Min.Y))
	s.l.add(inkBorder, image.Rect(b.Min.X, s.grid.Min.Y, s.grid.Min.X, b.Max.Y))
	for c := range s.cols {
		x := s.grid.Min.X + c*sheetColWidth + sheetColWidth/2
		s.l.add(inkChromeText, image.Rect(x-3, b.Min.Y+6, x+4, b.Min.Y+6+glyphHeight))
	}
	for r := range s.rows {
		y := s.grid.Min.Y + r*sheetRowHeight + (sheetRowHeight-glyphHeight)/2
		s.l.add(inkChromeText, image.Rect(b.Min.X+10, y, b.Min.X+10+7*(1+r%3), y+glyphHeight))
	}
	s.l.add(inkBorder, s.grid) // grid lines show between the cells
	for c := range s.cols {
		for r := range s.rows {
			s.paintValue(c, r, valueAt(c, r, 0))
		}
	}
	s.drawSelection(true)
	s.l.flush(s.p)
}

// drawSelection draws (or erases) the selection ring of the selected cell.
func (s *sheet) drawSelection(on bool) {
	cr := s.cell(s.selCol, s.selRow)
	ink := inkBorder
	if on {
		ink = inkFocus
	}
	ring := cr.Inset(-1).Intersect(s.grid)
	s.l.add(ink, image.Rect(ring.Min.X, ring.Min.Y, ring.Max.X, ring.Min.Y+2))
	s.l.add(ink, image.Rect(ring.Min.X, ring.Max.Y-2, ring.Max.X, ring.Max.Y))
	s.l.add(ink, image.Rect(ring.Min.X, ring.Min.Y, ring.Min.X+2, ring.Max.Y))
	s.l.add(ink, image.Rect(ring.Max.X-2, ring.Min.Y, ring.Max.X, ring.Max.Y))
	if !on { // the grid line and the cell's own paper
		s.l.add(inkPaper, cr)
	}
}

// update types one digit, or presses Enter: the selection moves down and, every few
// entries, the column to its right is recalculated.
func (s *sheet) update() {
	s.frame++
	if s.typed < sheetEntryLen {
		s.typed++
		s.paintValue(s.selCol, s.selRow, s.typed)
		s.l.flush(s.p)
		s.drawSelection(true)
		s.l.flush(s.p)
		return
	}
	s.typed = 0
	s.entries++
	s.drawSelection(false)
	s.paintValue(s.selCol, s.selRow, sheetEntryLen)
	if s.entries%sheetRecalcEvery == 0 {
		c := (s.selCol + 1) % s.cols
		for r := s.selRow; r < min(s.rows, s.selRow+sheetRecalcRows); r++ {
			s.paintValue(c, r, valueAt(c, r, s.entries))
		}
	}
	s.selRow++
	if s.selRow >= s.rows {
		s.selRow = 0
		s.selCol = (s.selCol + 1) % s.cols
	}
	s.paintValue(s.selCol, s.selRow, 0)
	s.l.flush(s.p)
	s.drawSelection(true)
	s.l.flush(s.p)
}
