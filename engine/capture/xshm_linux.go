//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/asticode/go-astiav"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
	"golang.org/x/sys/unix"

	"github.com/screenrec/recorder/engine/internal/avext"
	"github.com/screenrec/recorder/internal/xgbext"
	"github.com/screenrec/recorder/internal/xgbquiet"
)

// shmSource grabs a root-window area into one persistent MIT-SHM image and uses the DAMAGE
// extension to learn what changed: an unchanged screen costs one round trip per frame, and a
// change costs a grab of the rows it touched. The pointer (XFIXES) is painted into the image
// and its old place repaired when it moves.
type shmSource struct {
	conn    *xgb.Conn
	root    xproto.Window
	grab    image.Rectangle // root coordinates
	w, h    int
	buf     []byte // the shared image, w*h*4 bytes of bgr0
	seg     shm.Seg
	dmg     damage.Damage
	region  xfixes.Region
	frame   *astiav.Frame // over buf
	pace    Pacer
	mouse   bool
	cursor  cursorState
	started bool
	once    sync.Once
}

// cursorState is the pointer as last painted into the image.
type cursorState struct {
	serial uint32
	rect   image.Rectangle // frame coordinates, not clipped; empty when not painted
}

var (
	_ Source       = (*shmSource)(nil)
	_ ChangeSource = (*shmSource)(nil)
)

// openShm opens the change-tracking source, or fails when the display cannot do it (no
// MIT-SHM, as for a remote display; no DAMAGE or XFIXES; a pixel layout other than 32-bit
// little-endian xRGB).
func openShm(t Track, o SourceOptions) (_ *shmSource, err error) {
	xgbquiet.Do()
	conn, err := xgb.NewConnDisplay(o.Display)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDisplayUnreachable, o.Display, err)
	}
	s := &shmSource{conn: conn, grab: t.Grab, w: t.Grab.Dx(), h: t.Grab.Dy(),
		pace: NewPacer(o.FPS), mouse: o.DrawMouse}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	setup := xproto.Setup(conn)
	screen := setup.DefaultScreen(conn)
	s.root = screen.Root
	if err := checkLayout(setup, screen); err != nil {
		return nil, err
	}
	for _, ext := range []struct {
		name string
		init func(*xgb.Conn) error
	}{{"MIT-SHM", shm.Init}, {"XFIXES", xfixes.Init}, {"DAMAGE", damage.Init}} {
		if err := xgbext.Init(conn, ext.name, ext.init); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOpen, err)
		}
	}
	// Both extensions refuse requests until the client has announced its version.
	if _, err := xfixes.QueryVersion(conn, 4, 0).Reply(); err != nil {
		return nil, fmt.Errorf("%w: XFIXES version: %w", ErrOpen, err)
	}
	if _, err := damage.QueryVersion(conn, 1, 1).Reply(); err != nil {
		return nil, fmt.Errorf("%w: DAMAGE version: %w", ErrOpen, err)
	}
	if err := s.attach(); err != nil {
		return nil, err
	}
	if s.dmg, err = damage.NewDamageId(conn); err != nil {
		return nil, fmt.Errorf("%w: damage id: %w", ErrOpen, err)
	}
	// NonEmpty: the server sends one event until the damage is fetched, not one per drawing
	// request; the region is fetched every frame anyway.
	if err := damage.CreateChecked(conn, s.dmg, xproto.Drawable(s.root), damage.ReportLevelNonEmpty).Check(); err != nil {
		return nil, fmt.Errorf("%w: create damage: %w", ErrOpen, err)
	}
	if s.region, err = xfixes.NewRegionId(conn); err != nil {
		return nil, fmt.Errorf("%w: region id: %w", ErrOpen, err)
	}
	if err := xfixes.CreateRegionChecked(conn, s.region, nil).Check(); err != nil {
		return nil, fmt.Errorf("%w: create region: %w", ErrOpen, err)
	}
	s.frame = astiav.AllocFrame()
	s.frame.SetWidth(s.w)
	s.frame.SetHeight(s.h)
	s.frame.SetPixelFormat(astiav.PixelFormatBgr0)
	avext.SetFrameData(s.frame, unsafe.Pointer(&s.buf[0]), s.w*4)
	return s, nil
}

// checkLayout accepts the one pixel layout the source converts: 32 bits per pixel, least
// significant byte first, 8-bit red, green and blue (bgr0 in memory), which is what Xvfb and
// every common 24-bit desktop use.
func checkLayout(setup *xproto.SetupInfo, screen *xproto.ScreenInfo) error {
	if setup.ImageByteOrder != xproto.ImageOrderLSBFirst {
		return fmt.Errorf("%w: image byte order is MSB first", ErrOpen)
	}
	bpp := 0
	for _, f := range setup.PixmapFormats {
		if f.Depth == screen.RootDepth {
			bpp = int(f.BitsPerPixel)
		}
	}
	if bpp != 32 {
		return fmt.Errorf("%w: depth %d has %d bits per pixel, want 32", ErrOpen, screen.RootDepth, bpp)
	}
	for _, d := range screen.AllowedDepths {
		for _, v := range d.Visuals {
			if v.VisualId == screen.RootVisual {
				if v.RedMask != 0xff0000 || v.GreenMask != 0xff00 || v.BlueMask != 0xff {
					return fmt.Errorf("%w: visual masks %#x %#x %#x are not xRGB", ErrOpen, v.RedMask, v.GreenMask, v.BlueMask)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("%w: root visual not found", ErrOpen)
}

// attach creates the shared image and lets the server write into it.
func (s *shmSource) attach() error {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, s.w*s.h*4, unix.IPC_CREAT|0o600)
	if err != nil {
		return fmt.Errorf("%w: shmget %d bytes: %w", ErrOpen, s.w*s.h*4, err)
	}
	buf, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return fmt.Errorf("%w: shmat: %w", ErrOpen, err)
	}
	s.buf = buf
	if s.seg, err = shm.NewSegId(s.conn); err == nil {
		err = shm.AttachChecked(s.conn, s.seg, uint32(id), false).Check()
	}
	// Marked for removal once both sides are attached: the kernel frees it when the last one
	// detaches, even if this process is killed.
	_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	if err != nil {
		return fmt.Errorf("%w: MIT-SHM attach (a remote display cannot share memory): %w", ErrOpen, err)
	}
	return nil
}

func (s *shmSource) Size() (int, int) { return s.w, s.h }

func (s *shmSource) PixelFormat() astiav.PixelFormat { return astiav.PixelFormatBgr0 }

// Read copies the next frame into f.
func (s *shmSource) Read(ctx context.Context, f *astiav.Frame) error {
	if _, err := s.ReadChange(ctx); err != nil {
		return err
	}
	f.Unref()
	if err := f.Ref(s.frame); err != nil { // copies: the shared image has no buffer to share
		return fmt.Errorf("%w: copy frame: %w", ErrRead, err)
	}
	f.SetPts(s.frame.Pts())
	return nil
}

// ReadChange waits until the next frame is due and brings the image up to date.
func (s *shmSource) ReadChange(ctx context.Context) (Change, error) {
	missed, err := s.pace.Wait(ctx)
	if err != nil {
		return Change{}, err
	}
	at := time.Now()
	// Events are not needed (the region is fetched every frame) but must be read, or xgb's
	// queue fills; errors of unchecked requests arrive here too.
	for {
		ev, xerr := s.conn.PollForEvent()
		if xerr != nil {
			return Change{}, fmt.Errorf("%w: %s", ErrRead, xerr)
		}
		if ev == nil {
			break
		}
	}
	damage.Subtract(s.conn, s.dmg, xfixes.Region(0), s.region)
	regionC := xfixes.FetchRegion(s.conn, s.region)
	var cursorC xfixes.GetCursorImageCookie
	if s.mouse {
		cursorC = xfixes.GetCursorImage(s.conn)
	}
	region, err := regionC.Reply()
	if err != nil {
		return Change{}, fmt.Errorf("%w: fetch damage: %w", ErrRead, err)
	}
	var changed []image.Rectangle
	bounds := image.Rect(0, 0, s.w, s.h)
	if !s.started {
		changed = append(changed, bounds)
		s.started = true
	} else {
		for _, r := range region.Rectangles {
			rr := image.Rect(int(r.X), int(r.Y), int(r.X)+int(r.Width), int(r.Y)+int(r.Height)).
				Intersect(s.grab).Sub(s.grab.Min)
			if !rr.Empty() {
				changed = append(changed, rr)
			}
		}
	}
	var cur *xfixes.GetCursorImageReply
	if s.mouse {
		if cur, err = cursorC.Reply(); err != nil {
			return Change{}, fmt.Errorf("%w: cursor: %w", ErrRead, err)
		}
	}
	grab := changed
	var newCursor image.Rectangle
	moved := false
	if cur != nil {
		newCursor = image.Rect(int(cur.X)-int(cur.Xhot), int(cur.Y)-int(cur.Yhot),
			int(cur.X)-int(cur.Xhot)+int(cur.Width), int(cur.Y)-int(cur.Yhot)+int(cur.Height)).Sub(s.grab.Min)
		moved = newCursor != s.cursor.rect || cur.CursorSerial != s.cursor.serial
		if moved && !s.cursor.rect.Empty() {
			grab = append(grab, s.cursor.rect.Intersect(bounds)) // repairs where it was
		}
	}
	bands := rowBands(grab, s.h)
	if err := s.grabRows(bands); err != nil {
		return Change{}, err
	}
	if cur != nil {
		repainted := moved
		for _, b := range bands {
			repainted = repainted || (b[0] < newCursor.Max.Y && b[1] > newCursor.Min.Y)
		}
		if repainted {
			if moved && !s.cursor.rect.Empty() {
				changed = append(changed, s.cursor.rect.Intersect(bounds))
			}
			s.paintCursor(cur, newCursor)
			if vis := newCursor.Intersect(bounds); !vis.Empty() {
				changed = append(changed, vis)
			}
			s.cursor = cursorState{serial: cur.CursorSerial, rect: newCursor}
		}
	}
	s.frame.SetPts(at.UnixMicro())
	return Change{Frame: s.frame, Rects: changed, Missed: missed, Took: time.Since(at)}, nil
}

// rowBands returns the sorted, merged row ranges [y0,y1) that rects cover within [0,h).
// Rows closer than a few pixels are merged: one request costs more than a few rows.
func rowBands(rects []image.Rectangle, h int) [][2]int {
	var bands [][2]int
	for _, r := range rects {
		y0, y1 := max(0, r.Min.Y), min(h, r.Max.Y)
		if y0 < y1 {
			bands = append(bands, [2]int{y0, y1})
		}
	}
	slices.SortFunc(bands, func(a, b [2]int) int { return a[0] - b[0] })
	out := bands[:0]
	for _, b := range bands {
		if n := len(out); n > 0 && b[0] <= out[n-1][1]+8 {
			out[n-1][1] = max(out[n-1][1], b[1])
			continue
		}
		out = append(out, b)
	}
	return out
}

// grabRows copies full-width row bands of the area into the shared image, in place.
func (s *shmSource) grabRows(bands [][2]int) error {
	cookies := make([]shm.GetImageCookie, 0, len(bands))
	for _, b := range bands {
		cookies = append(cookies, shm.GetImage(s.conn, xproto.Drawable(s.root), int16(s.grab.Min.X),
			int16(s.grab.Min.Y+b[0]), uint16(s.w), uint16(b[1]-b[0]), 0xffffffff,
			xproto.ImageFormatZPixmap, s.seg, uint32(b[0]*s.w*4)))
	}
	var errs []error
	for _, c := range cookies {
		if _, err := c.Reply(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: grab: %w", ErrRead, err)
	}
	return nil
}

// paintCursor blends the pointer image (premultiplied ARGB) over the image at r, as x11grab
// does.
func (s *shmSource) paintCursor(cur *xfixes.GetCursorImageReply, r image.Rectangle) {
	vis := r.Intersect(image.Rect(0, 0, s.w, s.h))
	cw := int(cur.Width)
	for y := vis.Min.Y; y < vis.Max.Y; y++ {
		row := s.buf[(y*s.w+vis.Min.X)*4 : (y*s.w+vis.Max.X)*4]
		src := cur.CursorImage[(y-r.Min.Y)*cw+vis.Min.X-r.Min.X:]
		for i := 0; i < len(row); i += 4 {
			p := src[i/4]
			a := p >> 24
			if a == 0 {
				continue
			}
			for c := 0; c < 3; c++ {
				v := (p >> (8 * c)) & 0xff
				row[i+c] = byte(v + (uint32(row[i+c])*(255-a)+127)/255)
			}
		}
	}
}

// Close releases the shared image, the damage object and the connection; it is idempotent.
func (s *shmSource) Close() error {
	s.once.Do(func() {
		if s.frame != nil {
			s.frame.Free()
		}
		if s.conn != nil {
			s.conn.Close() // the server frees the connection's damage, region and segment
		}
		if s.buf != nil {
			_ = unix.SysvShmDetach(s.buf)
		}
	})
	return nil
}
