//go:build linux

package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"slices"
	"sync"
	"sync/atomic"
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
	"github.com/screenrec/recorder/internal/xmotion"
)

// shmSource grabs a root-window area into one persistent MIT-SHM image and learns what
// changed from DAMAGE events, read by a goroutine of its own as the server sends them: an
// unchanged screen costs no request at all, and a change costs a grab of the rows it touched.
// The pointer (XFIXES) is painted into the image and its old place repaired when it moves; its
// position is the one thing asked for every frame (X reports pointer motion to a client only
// over windows that let it through, and xgb cannot read XInput2's generic events).
//
// Without DAMAGE (a server started with it disabled) the source polls: it grabs the whole
// area every frame and compares it with the previous one, so still frames are still skipped.
type shmSource struct {
	conn    *xgb.Conn
	root    xproto.Window
	grab    image.Rectangle // root coordinates
	w, h    int
	buf     []byte // the shared image, w*h*4 bytes of bgr0
	prev    []byte // polling only: the image as last read
	seg     shm.Seg
	dmg     damage.Damage // 0 when polling
	damage  xgbext.Ext
	xfixes  xgbext.Ext
	frame   *astiav.Frame // over buf
	pace    Pacer
	mouse   bool
	cursor  cursorState
	image   *xfixes.GetCursorImageReply // the pointer's image as last fetched
	started bool
	// polledOnce: polling has compared a first grab.
	polledOnce bool
	once       sync.Once
	done       chan struct{} // closed when the event reader has ended

	mu          sync.Mutex        // guards what the event reader collects:
	damaged     []image.Rectangle // frame coordinates, since the last read
	settle      []image.Rectangle // damaged at the last read: grabbed once more (capture goroutine only)
	shapeChange bool              // the pointer's image changed since the last read
	readErr     error             // the connection failed or an X error arrived
	closing     bool
	notify      chan struct{} // signalled when any of the above is recorded
	markSeen    uint32        // the last marker event read (see sync)
	marked      *sync.Cond    // on mu: markSeen or ended changed
	ended       bool          // the event reader has ended

	marker   xproto.Window // an unmapped window of this client that marker events go to
	markSent uint32

	// roundTrips counts requests ReadChange waited on a reply for: what a still screen costs.
	roundTrips atomic.Int64

	// motion reports pointer moves (XInput2 raw motion) while the pointer is drawn, so that a
	// still screen need not ask where the pointer is every frame time; nil when the display
	// cannot (then it is asked every frame interval).
	motion *xmotion.Watcher
	moved  bool // on mu: the pointer moved since the last read
}

// warpCheck is how often a still screen with the pointer drawn asks where the pointer is
// although no motion was reported: a client warping it (XWarpPointer) makes no raw motion.
const warpCheck = time.Second

// cursorState is the pointer as last painted into the image.
type cursorState struct {
	serial uint32
	rect   image.Rectangle // frame coordinates, not clipped; empty when not painted
}

var (
	_ Source       = (*shmSource)(nil)
	_ ChangeSource = (*shmSource)(nil)
	_ ChangeWaiter = (*shmSource)(nil)
)

// maxDamaged bounds the damaged areas kept between two reads; more are merged into their
// bounding box (a busy frame is grabbed nearly whole anyway).
const maxDamaged = 256

// openShm opens the change-tracking source, or fails when the display cannot do it (no
// MIT-SHM, as for a remote display; no XFIXES; a pixel layout other than 32-bit little-endian
// xRGB). Without DAMAGE it polls.
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
	if _, err := xgbext.Init(conn, "MIT-SHM"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	if s.xfixes, err = xgbext.Init(conn, "XFIXES"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	// Extensions refuse requests until the client has announced its version.
	if _, err := xfixes.QueryVersion(conn, 4, 0).Reply(); err != nil {
		return nil, fmt.Errorf("%w: XFIXES version: %w", ErrOpen, err)
	}
	if s.damage, err = xgbext.Init(conn, "DAMAGE"); err == nil {
		if _, err := damage.QueryVersion(conn, 1, 1).Reply(); err != nil {
			return nil, fmt.Errorf("%w: DAMAGE version: %w", ErrOpen, err)
		}
	} else if !errors.Is(err, xgbext.ErrMissing) {
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	if err := s.attach(); err != nil {
		return nil, err
	}
	if s.damage.Major != 0 {
		if s.dmg, err = damage.NewDamageId(conn); err != nil {
			return nil, fmt.Errorf("%w: damage id: %w", ErrOpen, err)
		}
		// DeltaRectangles: an event for each area the damage grows by, so nothing need be
		// fetched; the damage is emptied (Subtract) whenever areas are taken, or drawing over
		// an area already damaged would go unreported.
		if err := damage.CreateChecked(conn, s.dmg, xproto.Drawable(s.root), damage.ReportLevelDeltaRectangles).Check(); err != nil {
			return nil, fmt.Errorf("%w: create damage: %w", ErrOpen, err)
		}
		if s.marker, err = xproto.NewWindowId(conn); err != nil {
			return nil, fmt.Errorf("%w: window id: %w", ErrOpen, err)
		}
		if err := xproto.CreateWindowChecked(conn, 0, s.marker, s.root, 0, 0, 1, 1, 0,
			xproto.WindowClassInputOnly, 0, 0, nil).Check(); err != nil {
			return nil, fmt.Errorf("%w: marker window: %w", ErrOpen, err)
		}
	} else {
		s.prev = make([]byte, len(s.buf))
	}
	if s.mouse {
		if err := xfixes.SelectCursorInputChecked(conn, s.root, xfixes.CursorNotifyMaskDisplayCursor).Check(); err != nil {
			return nil, fmt.Errorf("%w: select cursor changes: %w", ErrOpen, err)
		}
	}
	s.frame = astiav.AllocFrame()
	s.frame.SetWidth(s.w)
	s.frame.SetHeight(s.h)
	s.frame.SetPixelFormat(astiav.PixelFormatBgr0)
	avext.SetFrameData(s.frame, unsafe.Pointer(&s.buf[0]), s.w*4)
	// Started last: it reads the fields set above. Events sent before wait in xgb's queue.
	s.done = make(chan struct{})
	s.notify = make(chan struct{}, 1)
	go s.readEvents()
	if s.mouse && s.dmg != 0 {
		display := o.Display
		if display == "" {
			display = os.Getenv("DISPLAY") // as xgb reads it
		}
		// Without it (no XInput 2, a display name it does not dial) the pointer is asked for
		// every frame interval instead: slower, not wrong.
		s.motion, _ = xmotion.Watch(display, s.pointerMoved)
	}
	return s, nil
}

// Polling reports whether the source polls (the display has no DAMAGE).
func (s *shmSource) Polling() bool { return s.dmg == 0 }

// readEvents collects what the server reports, until the connection closes: the areas
// damaged, a pointer image change, the errors of requests not waited on.
func (s *shmSource) readEvents() {
	defer close(s.done)
	for {
		ev, xerr := s.conn.WaitForEvent()
		s.mu.Lock()
		switch {
		case ev == nil && xerr == nil:
			if !s.closing && s.readErr == nil {
				s.readErr = errors.New("connection to the X server lost")
			}
			s.ended = true
			s.markedCond().Broadcast()
			s.mu.Unlock()
			s.signal()
			return
		case xerr != nil:
			if s.readErr == nil {
				s.readErr = xerr
			}
		default:
			if e, ok := s.damage.Event(ev); ok {
				if n, ok := e.(damage.NotifyEvent); ok && n.Damage == s.dmg {
					s.addDamage(n.Area)
				}
			} else if e, ok := s.xfixes.Event(ev); ok {
				if _, ok := e.(xfixes.CursorNotifyEvent); ok {
					s.shapeChange = true
				}
			} else if m, ok := ev.(xproto.ClientMessageEvent); ok && m.Window == s.marker && s.marker != 0 {
				s.markSeen = m.Data.Data32[0]
				s.markedCond().Broadcast()
			}
		}
		pending := len(s.damaged) > 0 || s.shapeChange || s.readErr != nil
		s.mu.Unlock()
		if pending {
			s.signal()
		}
	}
}

// pointerMoved records a pointer move and wakes WaitChange.
func (s *shmSource) pointerMoved() {
	s.mu.Lock()
	s.moved = true
	s.mu.Unlock()
	s.signal()
}

// watchingMotion reports whether pointer moves are reported (see motion).
func (s *shmSource) watchingMotion() bool {
	if s.motion == nil {
		return false
	}
	select {
	case <-s.motion.Done():
		return false // its connection failed: ask every frame interval
	default:
		return true
	}
}

// markedCond is s.marked, made on first use; s.mu is held.
func (s *shmSource) markedCond() *sync.Cond {
	if s.marked == nil {
		s.marked = sync.NewCond(&s.mu)
	}
	return s.marked
}

// sync returns once every event the server sent before now has been read: it sends itself a
// marker event (through the server, so it comes after them) and waits for the reader to see
// it. A frame read with no damage reported uses it, so that a change just drawn is not missed
// because its event was still on the way; a still screen is read at most once a frame gap
// (see WaitChange), so this costs about one exchange with the server then.
func (s *shmSource) sync() {
	s.markSent++
	ev := xproto.ClientMessageEvent{Format: 32, Window: s.marker,
		Data: xproto.ClientMessageDataUnionData32New([]uint32{s.markSent, 0, 0, 0, 0})}
	xproto.SendEvent(s.conn, false, s.marker, 0, string(ev.Bytes()))
	s.roundTrips.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for int32(s.markSeen-s.markSent) < 0 && !s.ended {
		s.markedCond().Wait()
	}
}

// signal wakes WaitChange.
func (s *shmSource) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// WaitChange sleeps until a change is reported, until, wake, or ctx. With the pointer drawn
// it also returns when the pointer moved: reported by XInput2 raw motion (and looked for
// every warpCheck, as a warp makes none), or else looked for every frame interval (core
// motion events reach no client over other clients' windows). Polling (no DAMAGE), it returns
// at once.
func (s *shmSource) WaitChange(ctx context.Context, until time.Time, wake <-chan struct{}) int {
	if s.dmg == 0 {
		return 0
	}
	slept := false
	for {
		s.mu.Lock()
		pending := len(s.damaged) > 0 || len(s.settle) > 0 || s.shapeChange || s.moved || s.readErr != nil
		s.mu.Unlock()
		if pending {
			break
		}
		d := time.Until(until)
		if s.mouse && s.image != nil {
			if s.watchingMotion() {
				d = min(d, warpCheck)
			} else {
				d = min(d, s.pace.Interval)
			}
		}
		if d <= 0 {
			break
		}
		slept = true
		t := time.NewTimer(d)
		select {
		case <-s.notify:
			t.Stop()
			continue // it may have been signalled for what the last read took
		case <-wake:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
			if time.Now().Before(until) && s.mouse && s.image != nil {
				s.roundTrips.Add(1)
				p, err := xproto.QueryPointer(s.conn, s.root).Reply()
				if err == nil && (!p.SameScreen || (p.RootX == s.image.X && p.RootY == s.image.Y)) {
					continue // not moved: sleep on
				}
				// Moved (ReadChange paints it where it went), or an error ReadChange reports.
			}
		}
		break
	}
	if !slept {
		return 0 // not idle: lateness is the pacer's to count as missed frames
	}
	return s.pace.Resync()
}

// addDamage records a damaged root area; s.mu is held.
func (s *shmSource) addDamage(a xproto.Rectangle) {
	r := image.Rect(int(a.X), int(a.Y), int(a.X)+int(a.Width), int(a.Y)+int(a.Height)).
		Intersect(s.grab).Sub(s.grab.Min)
	if r.Empty() {
		return
	}
	if len(s.damaged) >= maxDamaged {
		u := r
		for _, d := range s.damaged {
			u = u.Union(d)
		}
		s.damaged = append(s.damaged[:0], u)
		return
	}
	s.damaged = append(s.damaged, r)
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

// ReadChange waits until the next frame is due and brings the image up to date: it grabs
// the rows of the areas damaged since the last read, and only those (all of them the first
// time, or every time when polling).
func (s *shmSource) ReadChange(ctx context.Context) (Change, error) {
	missed, err := s.pace.Wait(ctx)
	if err != nil {
		return Change{}, err
	}
	at := time.Now()
	if s.dmg != 0 && s.started {
		s.mu.Lock()
		none := len(s.damaged) == 0
		s.mu.Unlock()
		if none {
			s.sync()
		}
	}
	s.mu.Lock()
	changed := s.damaged
	s.damaged = nil
	if s.dmg != 0 {
		// The areas damaged at the last read are grabbed once more: the server may report
		// damage before a drawing has reached the frame buffer (a grab racing it saw the old
		// pixels), and reports no more while the area stays damaged.
		recheck := s.settle
		s.settle = append([]image.Rectangle(nil), changed...)
		changed = append(changed, recheck...)
	}
	shape := s.shapeChange
	s.shapeChange, s.moved = false, false // the pointer is asked for below
	xerr := s.readErr
	s.mu.Unlock()
	if xerr != nil {
		return Change{}, fmt.Errorf("%w: %w", ErrRead, xerr)
	}
	bounds := image.Rect(0, 0, s.w, s.h)
	switch {
	case !s.started:
		changed = []image.Rectangle{bounds}
		s.started = true
	case s.dmg == 0:
		changed = []image.Rectangle{bounds} // polled: grabbed whole, then compared
	}
	if len(changed) > 0 && s.dmg != 0 {
		// Emptied before the grab: whatever is drawn from now on is reported again, and what
		// was drawn before is in the grab.
		damage.Subtract(s.conn, s.dmg, xfixes.Region(0), xfixes.Region(0))
	}
	var cur *xfixes.GetCursorImageReply
	var pointerC xproto.QueryPointerCookie
	var imageC xfixes.GetCursorImageCookie
	if s.mouse {
		// The image (with the position) when it changed, else only the position: 32 bytes.
		if shape || s.image == nil {
			imageC = xfixes.GetCursorImage(s.conn)
		} else {
			pointerC = xproto.QueryPointer(s.conn, s.root)
		}
	}
	grab := changed
	if s.mouse {
		s.roundTrips.Add(1)
		if shape || s.image == nil {
			if s.image, err = imageC.Reply(); err != nil {
				return Change{}, fmt.Errorf("%w: cursor: %w", ErrRead, err)
			}
		} else {
			p, err := pointerC.Reply()
			if err != nil {
				return Change{}, fmt.Errorf("%w: pointer: %w", ErrRead, err)
			}
			if p.SameScreen { // elsewhere the position is meaningless: keep the last one
				s.image.X, s.image.Y = p.RootX, p.RootY
			}
		}
		cur = s.image
	}
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
	if len(bands) > 0 {
		if err := s.grabRows(bands); err != nil {
			return Change{}, err
		}
	}
	if s.dmg == 0 && len(changed) > 0 && s.prev != nil {
		changed = s.compare(bands, changed)
	}
	if cur != nil {
		overwritten := false // the grab replaced pointer pixels: paint it again
		for _, b := range bands {
			overwritten = overwritten || (b[0] < newCursor.Max.Y && b[1] > newCursor.Min.Y)
		}
		if moved || overwritten {
			// Where it is changed only if it moved or the screen under it changed.
			shown := moved
			for _, r := range changed {
				shown = shown || r.Overlaps(newCursor)
			}
			if moved && !s.cursor.rect.Empty() {
				changed = append(changed, s.cursor.rect.Intersect(bounds))
			}
			s.paintCursor(cur, newCursor)
			if vis := newCursor.Intersect(bounds); !vis.Empty() && shown {
				changed = append(changed, vis)
			}
			s.cursor = cursorState{serial: cur.CursorSerial, rect: newCursor}
		}
	}
	s.frame.SetPts(at.UnixMicro())
	c := Change{Frame: s.frame, Rects: changed, Missed: missed, Took: time.Since(at)}
	if s.dmg != 0 && len(changed) == 0 {
		// Damage reports cover the frame times read late: nothing changed in them either.
		c.Still, c.Missed = c.Missed, 0
	}
	return c, nil
}

// compare is polling's change detection: it returns the row bands of the grabbed image that
// differ from the previous grab (before the pointer is painted) and keeps the image for the
// next comparison. The first grab is all changed.
func (s *shmSource) compare(bands [][2]int, changed []image.Rectangle) []image.Rectangle {
	first := changed[0] == image.Rect(0, 0, s.w, s.h) && !s.polledOnce
	s.polledOnce = true
	var out []image.Rectangle
	stride := s.w * 4
	for _, b := range bands {
		y0 := -1
		for y := b[0]; y <= b[1]; y++ {
			diff := false
			if y < b[1] {
				row := s.buf[y*stride : (y+1)*stride]
				diff = first || !bytes.Equal(row, s.prev[y*stride:(y+1)*stride])
				if diff {
					copy(s.prev[y*stride:], row)
				}
			}
			switch {
			case diff && y0 < 0:
				y0 = y
			case !diff && y0 >= 0:
				out = append(out, image.Rect(0, y0, s.w, y))
				y0 = -1
			}
		}
	}
	return out
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
		if s.motion != nil {
			_ = s.motion.Close()
		}
		if s.conn != nil {
			s.mu.Lock()
			s.closing = true
			s.mu.Unlock()
			s.conn.Close() // the server frees the connection's damage and segment
			if s.done != nil {
				<-s.done // the reader ends when xgb closes its event queue
			}
		}
		if s.buf != nil {
			_ = unix.SysvShmDetach(s.buf)
		}
	})
	return nil
}
