package xscene

import (
	"image"
	"math/rand/v2"
)

// Layout of the idle scene's form, in pixels.
const (
	formPad      = 24  // between the window body's edge and the form
	labelColumn  = 140 // from a label's left edge to its field's
	fieldHeight  = 24
	fieldPitch   = 40 // from one field's top to the next one's
	fieldWidth   = 360
	maxFields    = 6
	buttonWidth  = 96
	buttonHeight = 28
	buttonGap    = 12
)

// The caret: a 2×16 bar, blinking with the period of the common desktop
// default (GTK, Windows) when idle.
const (
	caretWidth  = 2
	caretHeight = 16
	blinkMillis = 530
)

// formSeed fixes the lengths of the form's labels and values.
const formSeed = 0xf0f0

// idle is SceneIdle: a form drawn once, and a caret blinking in its
// focused field.
type idle struct {
	p     *Painter
	l     layers
	win   window
	fps   int
	caret image.Rectangle // where the caret blinks, root coordinates

	frame   int  // updates drawn
	phase   int  // blink periods elapsed at the last update
	visible bool // whether the caret is drawn now
}

// newIdle lays out SceneIdle over area (already clipped to the root); the
// caret blinks on the clock of fps updates per second.
func newIdle(p *Painter, area image.Rectangle, fps int) *idle {
	return &idle{p: p, l: newLayers(area), win: newWindow(area), fps: fps}
}

// start paints the window with the form and a visible caret.
func (s *idle) start() {
	s.win.paint(&s.l)
	s.caret = paintForm(&s.l, s.win.body)
	s.l.add(inkText, s.caret)
	s.visible = true
	s.l.flush(s.p)
}

// update toggles the caret when the frame clock enters a new blink period
// and draws nothing otherwise. Toggling on each new period rather than
// deriving visibility from the period's parity keeps the caret blinking
// even when fps is too low to see every period.
func (s *idle) update() {
	s.frame++
	phase := s.frame * 1000 / (s.fps * blinkMillis)
	if phase == s.phase {
		return
	}
	s.phase = phase
	s.visible = !s.visible
	ink := inkPaper
	if s.visible {
		ink = inkText
	}
	s.l.add(ink, s.caret)
	s.l.flush(s.p)
}

// paintForm queues a form inside body: up to maxFields rows of a label and
// a field, the second field focused (highlighted and empty) and the others
// holding a few words, and a primary and a secondary button below. It
// returns the rectangle of the focused field's caret.
func paintForm(l *layers, body image.Rectangle) (caret image.Rectangle) {
	rng := rand.New(rand.NewPCG(formSeed, 0))
	labelX := body.Min.X + formPad
	fieldX := labelX + labelColumn
	fw := clamp(body.Max.X-formPad-fieldX, 1, fieldWidth)
	rows := clamp((body.Dy()-2*formPad-buttonHeight)/fieldPitch, 1, maxFields)
	focus := min(1, rows-1)
	for i := range rows {
		y := body.Min.Y + formPad + i*fieldPitch
		field := image.Rect(fieldX, y, fieldX+fw, y+fieldHeight)
		textY := y + (fieldHeight-glyphHeight)/2
		l.add(inkText, image.Rect(labelX, textY, labelX+40+rng.IntN(80), textY+glyphHeight))
		if i == focus {
			l.add(inkFocus, field.Inset(-1)) // a 2 px ring
			l.add(inkPaper, field.Inset(1))
			cy := y + (fieldHeight-caretHeight)/2
			caret = image.Rect(fieldX+6, cy, fieldX+6+caretWidth, cy+caretHeight)
			continue
		}
		l.add(inkBorder, field)
		l.add(inkPaper, field.Inset(1))
		for x := fieldX + 6; ; {
			w := 12 + rng.IntN(48)
			if x+w > field.Max.X-6 {
				break
			}
			l.add(inkText, image.Rect(x, textY, x+w, textY+glyphHeight))
			x += w + wordGap
			if rng.IntN(3) == 0 {
				break
			}
		}
	}
	// Buttons right-aligned with the fields, below the last one.
	y := body.Min.Y + formPad + rows*fieldPitch
	x := fieldX + fw - buttonWidth
	submit := image.Rect(x, y, x+buttonWidth, y+buttonHeight)
	cancel := submit.Sub(image.Pt(buttonWidth+buttonGap, 0))
	label := image.Rect(0, 0, 48, glyphHeight)
	label = label.Add(image.Pt((buttonWidth-label.Dx())/2, (buttonHeight-label.Dy())/2))
	l.add(inkButton, submit)
	l.add(inkButtonText, label.Add(submit.Min))
	l.add(inkBorder, cancel)
	l.add(inkText, label.Add(cancel.Min))
	return caret
}

// Layout of the typing scene, in pixels. Glyphs sit on a baseline
// glyphBase below the top of their line; most are x-height tall, some
// have an ascender or a descender.
const (
	boxPad       = 12 // between the window body's edge and the text box
	textPad      = 8  // inside the text box, around the text
	glyphBase    = 14
	xHeight      = 7
	ascender     = 3
	descender    = 3
	glyphSpacing = 1
	spaceWidth   = 5
	maxWordLen   = 8
	// paragraphOdds is 1 in how many words ends a paragraph.
	paragraphOdds = 40
)

// typingSeed fixes the typed text; each page has its own generator seeded
// from (typingSeed, page).
const typingSeed = 0x7e27

// glyph is one typed character: a bar of width w spanning rows top..bottom
// of its line.
type glyph struct {
	w, top, bottom int
}

// typing is SceneTyping: a text box into which one keystroke is typed
// per update.
type typing struct {
	p    *Painter
	l    layers
	win  window
	box  image.Rectangle // the paper inside the text box's border
	text image.Rectangle // where lines of text go

	page   int
	rng    *rand.Rand
	line   int     // current line, counted from the top of text
	x      int     // pen position, root coordinates
	inWord bool    // whether the next keystroke belongs to word
	word   []glyph // the word being typed
	typed  int     // how many glyphs of word are typed

	caret image.Rectangle // where the caret is drawn now
}

// newTyping lays out SceneTyping over area (already clipped to the root).
func newTyping(p *Painter, area image.Rectangle) *typing {
	w := newWindow(area)
	box := w.body.Inset(boxPad)
	return &typing{
		p:    p,
		l:    newLayers(area),
		win:  w,
		box:  box.Inset(1),
		text: box.Inset(1 + textPad),
		page: -1,
	}
}

// start paints the window and an empty text box.
func (s *typing) start() {
	s.win.paint(&s.l)
	s.l.add(inkBorder, s.box.Inset(-1))
	s.newPage()
	s.moveCaret()
	s.l.flush(s.p)
}

// update types one keystroke: the next glyph of the current word, or the
// space or paragraph break after it, or the first glyph of a new word
// (wrapping it to the next line if it does not fit). When the next word
// would start below the box, the update clears the box instead. Only the
// glyph and the caret's old and new places change, except on a new page.
func (s *typing) update() {
	s.l.add(inkPaper, s.caret)
	switch {
	case s.inWord && s.typed == len(s.word):
		s.inWord = false
		if s.rng.IntN(paragraphOdds) == 0 {
			s.line += 2
			s.x = s.text.Min.X
		} else {
			s.x += spaceWidth
		}
	case !s.inWord:
		s.startWord()
		if s.lineTop()+lineHeight > s.text.Max.Y {
			s.newPage()
			break
		}
		fallthrough
	default:
		g := s.word[s.typed]
		top := s.lineTop()
		s.l.add(inkText, image.Rect(s.x, top+g.top, s.x+g.w, top+g.bottom).Intersect(s.box))
		s.x += g.w + glyphSpacing
		s.typed++
	}
	s.moveCaret()
	s.l.flush(s.p)
}

// startWord makes up the next word and wraps the line if the word does
// not fit on what is left of it.
func (s *typing) startWord() {
	s.word = s.word[:0]
	width := -glyphSpacing
	for range 1 + s.rng.IntN(maxWordLen) {
		g := glyph{w: 4 + s.rng.IntN(5), top: glyphBase - xHeight, bottom: glyphBase}
		switch s.rng.IntN(8) {
		case 0, 1:
			g.top -= ascender
		case 2:
			g.bottom += descender
		}
		s.word = append(s.word, g)
		width += g.w + glyphSpacing
	}
	s.typed, s.inWord = 0, true
	if s.x > s.text.Min.X && s.x+width > s.text.Max.X {
		s.line++
		s.x = s.text.Min.X
	}
}

// newPage clears the text box and starts the next page of text at its top.
func (s *typing) newPage() {
	s.page++
	s.rng = rand.New(rand.NewPCG(typingSeed, uint64(s.page)))
	s.line, s.x = 0, s.text.Min.X
	s.inWord = false
	s.l.add(inkPaper, s.box)
}

// lineTop returns the root y coordinate of the top of the current line.
func (s *typing) lineTop() int {
	return s.text.Min.Y + s.line*lineHeight
}

// moveCaret queues the caret at the pen position, centred on its line.
func (s *typing) moveCaret() {
	y := s.lineTop() + (lineHeight-caretHeight)/2
	s.caret = image.Rect(s.x, y, s.x+caretWidth, y+caretHeight).Intersect(s.box)
	s.l.add(inkText, s.caret)
}
