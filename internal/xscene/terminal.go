package xscene

import (
	"image"
	"image/color"
)

// Terminal colours: light text on a dark background, some lines green.
var (
	terminalBackground = color.RGBA{0x1e, 0x1f, 0x22, 0xff}
	terminalText       = color.RGBA{0xc8, 0xcc, 0xd2, 0xff}
	terminalGreen      = color.RGBA{0x6a, 0xc4, 0x6a, 0xff}
)

// newTerminal lays out SceneTerminal over area: a window whose body is a terminal printing
// one line of output per update (a build log), scrolling a whole line at a time once full.
// It is the scrolling document recoloured and moved a line per update instead of 2 px.
func newTerminal(p *Painter, area image.Rectangle) *scroller {
	w := newWindow(area)
	l := newLayers(area)
	l.colors[inkPaper] = terminalBackground
	l.colors[inkText] = terminalText
	l.colors[inkLink] = terminalGreen
	return &scroller{p: p, l: l, doc: document{area: w.body}, chrome: &w, step: lineHeight}
}
