package xscene

import (
	"image"
	"math/rand/v2"
)

// Layout of a document, in pixels. A line of "text" is a row of dark bars
// as tall as lowercase letters with ascender/descender room around them,
// which is roughly what 12 pt text looks like to an encoder.
const (
	lineHeight  = 18
	glyphTop    = 4  // gap between the top of a line and its bars
	glyphHeight = 10 // height of a bar ("x-height plus a bit")
	wordGap     = 6
)

// documentSeed fixes the document's content, so every run draws the same
// pixels for the same scroll position.
const documentSeed = 0x5c12ee

// word is one bar of "text": its horizontal extent relative to the
// document's area and its ink.
type word struct {
	x0, x1 int
	ink    int
}

// document is an endless column of text lines shown in area; offset is
// the document row shown at the top of the area. What it shows is a pure
// function of the area's width and offset, which is what lets a scene
// repaint any part of it (to erase a moving object, or to fill the row
// scrolled in) without remembering pixels.
type document struct {
	area   image.Rectangle // root coordinates
	offset int
	words  []word // reused by paint, so a frame does not allocate
}

// appendLine appends the words of document line n to buf. Each line has
// its own generator seeded from (documentSeed, n), so a line's content
// does not depend on which lines were generated before it.
func (d *document) appendLine(buf []word, n int) []word {
	rng := rand.New(rand.NewPCG(documentSeed, uint64(n)))
	if rng.IntN(7) == 0 {
		return buf // blank line between paragraphs
	}
	width := d.area.Dx()
	margin := min(32, width/10)
	right := width - margin
	if rng.IntN(5) == 0 {
		// Last line of a paragraph: ragged and shorter.
		right = margin + (right-margin)*(25+rng.IntN(60))/100
	}
	for x := margin; ; {
		w := 8 + rng.IntN(64)
		if x+w > right {
			return buf
		}
		ink := inkText
		if rng.IntN(14) == 0 {
			ink = inkLink
		}
		buf = append(buf, word{x0: x, x1: x + w, ink: ink})
		x += w + wordGap
	}
}

// paint queues the document content that belongs in r (root coordinates,
// clipped to the document's area) at the current offset: paper, then the
// words on it.
func (d *document) paint(l *layers, r image.Rectangle) {
	r = r.Intersect(d.area)
	if r.Empty() {
		return
	}
	l.add(inkPaper, r)
	// Document rows covered by r.
	top := r.Min.Y - d.area.Min.Y + d.offset
	bottom := r.Max.Y - d.area.Min.Y + d.offset
	for n := top / lineHeight; n*lineHeight < bottom; n++ {
		glyph0 := n*lineHeight + glyphTop
		glyph1 := glyph0 + glyphHeight
		if glyph1 <= top || glyph0 >= bottom {
			continue
		}
		y0 := d.area.Min.Y + glyph0 - d.offset
		d.words = d.appendLine(d.words[:0], n)
		for _, w := range d.words {
			l.add(w.ink, image.Rect(d.area.Min.X+w.x0, y0, d.area.Min.X+w.x1, y0+glyphHeight).Intersect(r))
		}
	}
}
