package xscene

import (
	"fmt"
	"image"
	"image/color"
	"sync"

	"github.com/jezek/xgb"

	"github.com/jezek/xgb/xproto"
	"github.com/screenrec/recorder/internal/xgbquiet"
)

// Painter draws into the root window of an X display over one persistent
// connection. Its methods are safe for concurrent use; they are
// serialised because they share one graphics context.
type Painter struct {
	mu     sync.Mutex
	conn   *xgb.Conn
	root   xproto.Window
	gc     xproto.Gcontext
	width  int
	height int
	depth  byte // of the root window, which PutImage must match
	format pixelFormat
	// maxRequest is the largest request in bytes the server accepts
	// without the BIG-REQUESTS extension, which xgb does not enable.
	maxRequest int
	// maxRects is how many rectangles fit in one PolyFillRectangle request.
	maxRects int
	closed   bool
}

// Connect opens a connection to display (e.g. ":57"; empty means
// $DISPLAY) and prepares to draw into the default screen's root window.
func Connect(display string) (*Painter, error) {
	xgbquiet.Do()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("xscene: connect to display %q: %w", display, err)
	}
	p, err := newPainter(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("xscene: display %q: %w", display, err)
	}
	return p, nil
}

// newPainter sets up a Painter on an open connection.
func newPainter(conn *xgb.Conn) (*Painter, error) {
	setup := xproto.Setup(conn)
	screen := setup.DefaultScreen(conn)
	format, err := newPixelFormat(setup, screen)
	if err != nil {
		return nil, err
	}
	gc, err := xproto.NewGcontextId(conn)
	if err != nil {
		return nil, fmt.Errorf("allocate graphics context id: %w", err)
	}
	// GraphicsExposures off: CopyArea would otherwise queue an event per
	// scroll that nobody reads.
	err = xproto.CreateGCChecked(conn, gc, xproto.Drawable(screen.Root),
		xproto.GcForeground|xproto.GcGraphicsExposures,
		[]uint32{screen.BlackPixel, 0}).Check()
	if err != nil {
		return nil, fmt.Errorf("create graphics context: %w", err)
	}
	// MaximumRequestLength is in 4-byte units.
	maxRequest := int(setup.MaximumRequestLength) * 4
	return &Painter{
		conn:       conn,
		root:       screen.Root,
		gc:         gc,
		width:      int(screen.WidthInPixels),
		height:     int(screen.HeightInPixels),
		depth:      screen.RootDepth,
		format:     format,
		maxRequest: maxRequest,
		// A PolyFillRectangle request has a 12-byte header and 8 bytes
		// per rectangle.
		maxRects: (maxRequest - 12) / 8,
	}, nil
}

// Close closes the connection. Further calls to the Painter's methods
// return ErrClosed. Close is idempotent and always returns nil; it
// returns an error only to satisfy io.Closer.
func (p *Painter) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.conn.Close()
	}
	return nil
}

// Size returns the size of the root window, as announced when the
// connection was made.
func (p *Painter) Size() (w, h int) {
	return p.width, p.height
}

// Bounds returns the root window's rectangle, whose origin is 0,0.
func (p *Painter) Bounds() image.Rectangle {
	return image.Rect(0, 0, p.width, p.height)
}

// clip limits r to the root window and reports ErrEmptyRect if nothing
// is left.
func (p *Painter) clip(r image.Rectangle) (image.Rectangle, error) {
	c := r.Intersect(p.Bounds())
	if c.Empty() {
		return c, fmt.Errorf("%w: %v (root is %dx%d)", ErrEmptyRect, r, p.width, p.height)
	}
	return c, nil
}

// Fill paints r (in root-window coordinates, clipped to the root) with
// the colour c, ignoring alpha. It is synchronous: when it returns, the
// server has drawn the pixels, so a capture started afterwards sees them.
func (p *Painter) Fill(r image.Rectangle, c color.RGBA) error {
	r, err := p.clip(r)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.fillRects(p.format.pixel(c), []xproto.Rectangle{xrect(r)})
	return p.roundTrip()
}

// fillRects queues PolyFillRectangle requests that paint rects with the
// pixel value. Requests are unchecked: errors surface in the next
// roundTrip. The caller holds p.mu.
func (p *Painter) fillRects(pixel uint32, rects []xproto.Rectangle) {
	if len(rects) == 0 {
		return
	}
	xproto.ChangeGC(p.conn, p.gc, xproto.GcForeground, []uint32{pixel})
	for len(rects) > 0 {
		n := min(len(rects), p.maxRects)
		xproto.PolyFillRectangle(p.conn, xproto.Drawable(p.root), p.gc, rects[:n])
		rects = rects[n:]
	}
}

// putImage queues PutImage requests that draw data, ZPixmap scanlines of
// stride bytes covering r (already clipped to the root), in bands of as
// many rows as fit in one request. The caller holds p.mu.
func (p *Painter) putImage(r image.Rectangle, data []byte, stride int) {
	const header = 24 // bytes of a PutImage request before its data
	rows := max(1, (p.maxRequest-header)/stride)
	for y := 0; y < r.Dy(); y += rows {
		n := min(rows, r.Dy()-y)
		xproto.PutImage(p.conn, xproto.ImageFormatZPixmap, xproto.Drawable(p.root), p.gc,
			uint16(r.Dx()), uint16(n), int16(r.Min.X), int16(r.Min.Y+y), 0, p.depth,
			data[y*stride:(y+n)*stride])
	}
}

// locked runs queue, which sends requests, with p.mu held and then waits
// for the server to process them (see roundTrip). It is how every frame of
// a scene is drawn.
func (p *Painter) locked(queue func()) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	queue()
	return p.roundTrip()
}

// roundTrip waits until the server has processed every request sent so
// far and returns the first X error any of them caused. Unchecked
// requests report errors through the event queue; the server answers in
// order, so after the reply all of them have been queued. Draining the
// queue also keeps it from filling up and stalling xgb's reader. The
// caller holds p.mu.
func (p *Painter) roundTrip() error {
	if _, err := xproto.GetInputFocus(p.conn).Reply(); err != nil {
		return fmt.Errorf("xscene: round trip: %w", err)
	}
	var first error
	for {
		ev, xerr := p.conn.PollForEvent()
		if ev == nil && xerr == nil {
			return first
		}
		if xerr != nil && first == nil {
			first = fmt.Errorf("xscene: X error: %w", xerr)
		}
	}
}

// Capture reads back the pixels of r (in root-window coordinates, clipped
// to the root). The image's bounds are the clipped rectangle, so it is
// indexed with root coordinates too; alpha is always opaque.
func (p *Painter) Capture(r image.Rectangle) (*image.RGBA, error) {
	r, err := p.clip(r)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	reply, err := xproto.GetImage(p.conn, xproto.ImageFormatZPixmap, xproto.Drawable(p.root),
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), ^uint32(0)).Reply()
	if err != nil {
		return nil, fmt.Errorf("xscene: GetImage %v: %w", r, err)
	}
	return p.format.decode(reply.Data, r)
}

// Pixel returns the colour of the root-window pixel at x, y.
func (p *Painter) Pixel(x, y int) (color.RGBA, error) {
	img, err := p.Capture(image.Rect(x, y, x+1, y+1))
	if err != nil {
		return color.RGBA{}, err
	}
	return img.RGBAAt(x, y), nil
}

// xrect converts a rectangle already clipped to the root window, whose
// coordinates therefore fit the protocol's 16-bit fields.
func xrect(r image.Rectangle) xproto.Rectangle {
	return xproto.Rectangle{
		X: int16(r.Min.X), Y: int16(r.Min.Y),
		Width: uint16(r.Dx()), Height: uint16(r.Dy()),
	}
}
