package xscene

import "image"

// Window decoration sizes, in pixels.
const (
	titleHeight = 28
	maxMargin   = 32 // desktop visible around the window
)

// window is the static frame of the benchmark scenes: an application
// window with a title bar on a desktop background. Only its body changes
// while a scene plays, as on a real desktop, where an encoder that tracks
// damage can skip the rest.
type window struct {
	area  image.Rectangle // the scene's area, the desktop
	title image.Rectangle
	body  image.Rectangle // below the title bar
}

// newWindow lays out a window inside area, scaled down for small areas so
// that the body keeps most of the space.
func newWindow(area image.Rectangle) window {
	frame := area.Inset(clamp(min(area.Dx(), area.Dy())/24, 0, maxMargin))
	title, body := frame, frame
	title.Max.Y = frame.Min.Y + clamp(frame.Dy()/10, 0, titleHeight)
	body.Min.Y = title.Max.Y
	return window{area: area, title: title, body: body}
}

// paint queues the desktop, the title bar with a title and three window
// buttons, and the body's plain face.
func (w window) paint(l *layers) {
	l.add(inkDesk, w.area)
	l.add(inkChrome, w.title)
	t := w.title
	h := t.Dy() / 2
	y := t.Min.Y + (t.Dy()-h)/2
	l.add(inkChromeText, image.Rect(t.Min.X+12, y+h/4, t.Min.X+12+min(220, t.Dx()/3), y+h-h/4))
	for i := 1; i <= 3; i++ {
		x := t.Max.X - i*(h+8)
		l.add(inkChromeText, image.Rect(x, y, x+h, y+h))
	}
	l.add(inkWindow, w.body)
}
