package xmotion

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/screenrec/recorder/internal/waittest"
	"github.com/screenrec/recorder/internal/xgbext"
	"github.com/screenrec/recorder/internal/xvfb"
)

// deadline bounds every wait here: generous for a loaded machine.
const deadline = 10 * time.Second

// screen is the test displays' one monitor.
var screen = []xvfb.Monitor{{Name: "M0", Width: 800, Height: 600}}

// pointer moves the X pointer the way a device does (XTEST), or by warping it.
type pointer struct {
	t    *testing.T
	conn *xgb.Conn
	root xproto.Window
}

func newPointer(t *testing.T, display string) *pointer {
	t.Helper()
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if _, err := xgbext.Init(conn, "XTEST"); err != nil {
		t.Fatal(err)
	}
	return &pointer{t: t, conn: conn, root: xproto.Setup(conn).DefaultScreen(conn).Root}
}

func (p *pointer) move(x, y int) {
	p.t.Helper()
	if err := xtest.FakeInputChecked(p.conn, xproto.MotionNotify, 0, 0, p.root, int16(x), int16(y), 0).Check(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pointer) warp(x, y int) {
	p.t.Helper()
	if err := xproto.WarpPointerChecked(p.conn, 0, p.root, 0, 0, 0, 0, int16(x), int16(y)).Check(); err != nil {
		p.t.Fatal(err)
	}
}

// watchMoves watches display's pointer, counting the moves reported, until the test ends.
func watchMoves(t *testing.T, display string) (*Watcher, *atomic.Int64) {
	t.Helper()
	moves := &atomic.Int64{}
	w, err := Watch(display, func() { moves.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, moves
}

// Each move of the pointer by a device is reported; nothing is reported while it stays put.
func TestReportsDeviceMotion(t *testing.T) {
	t.Parallel()
	srv := xvfb.StartForTest(t, screen)
	w, moves := watchMoves(t, srv.Display)
	p := newPointer(t, srv.Display)
	for i, at := range []int{100, 300, 500} {
		before := moves.Load()
		p.move(at, at/2)
		waittest.Until(t, "a motion event", deadline, func() (bool, int64) {
			return moves.Load() > before, moves.Load()
		})
		if err := w.Err(); err != nil {
			t.Fatalf("move %d: %v", i, err)
		}
	}
	// Still: a round trip on the pointer's connection orders the check after anything the
	// last move could have caused.
	if _, err := xproto.GetInputFocus(p.conn).Reply(); err != nil {
		t.Fatal(err)
	}
	settled := moves.Load()
	time.Sleep(300 * time.Millisecond)
	if n := moves.Load(); n != settled {
		t.Errorf("%d motion events with the pointer still", n-settled)
	}
}

// Close ends the watcher without an error; the X server going away ends it with one.
func TestEnds(t *testing.T) {
	t.Parallel()
	srv := xvfb.StartForTest(t, screen)
	w, err := Watch(srv.Display, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil || w.Err() != nil {
		t.Fatalf("close: %v, err %v", err, w.Err())
	}
	w, err = Watch(srv.Display, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	srv.Close()
	select {
	case <-w.Done():
	case <-time.After(deadline):
		t.Fatal("the watcher did not end when the X server did")
	}
	if err := w.Err(); !errors.Is(err, ErrConnect) {
		t.Errorf("err = %v, want ErrConnect", err)
	}
}

// Display names it cannot dial are refused with an error naming them.
func TestBadDisplay(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"", "0", ":x", "tcp/host:0", ":-1"} {
		if _, err := Watch(d, func() {}); !errors.Is(err, ErrDisplay) {
			t.Errorf("Watch(%q) = %v, want ErrDisplay", d, err)
		}
	}
	if _, err := Watch(":4095", func() {}); !errors.Is(err, ErrConnect) {
		t.Errorf("Watch(:4095), no server: %v, want ErrConnect", err)
	}
}

// A warp makes no raw motion (which is why the capture still looks now and then).
func TestWarpIsNotMotion(t *testing.T) {
	t.Parallel()
	srv := xvfb.StartForTest(t, screen)
	_, moves := watchMoves(t, srv.Display)
	p := newPointer(t, srv.Display)
	p.warp(400, 400)
	if _, err := xproto.GetInputFocus(p.conn).Reply(); err != nil { // the warp is done
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // an event it made would be on its way by now
	if n := moves.Load(); n != 0 {
		t.Errorf("%d motion events for a warp, want none", n)
	}
	p.move(10, 10) // while a device move is reported
	waittest.Until(t, "the device move's event", deadline, func() (bool, int64) { return moves.Load() > 0, moves.Load() })
}

// The cookie is the one an Xauthority file gives this host (or any host) for the display (or
// any display), as Xlib picks it.
func TestAuthority(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	entry := func(family uint16, addr, disp, name string, data []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, family)
		for _, f := range [][]byte{[]byte(addr), []byte(disp), []byte(name), data} {
			b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
			b = append(b, f...)
		}
		return b
	}
	cookie := func(n byte) []byte { return bytes.Repeat([]byte{n}, 16) }
	var file []byte
	file = append(file, entry(256, "otherhost", "7", "MIT-MAGIC-COOKIE-1", cookie(1))...)
	file = append(file, entry(256, host, "8", "MIT-MAGIC-COOKIE-1", cookie(2))...)
	file = append(file, entry(256, host, "7", "XDM-AUTHORIZATION-1", cookie(3))...)
	file = append(file, entry(256, host, "7", "MIT-MAGIC-COOKIE-1", cookie(4))...)
	file = append(file, entry(65535, "", "", "MIT-MAGIC-COOKIE-1", cookie(5))...)
	path := filepath.Join(t.TempDir(), "Xauthority")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XAUTHORITY", path)
	for display, want := range map[string]byte{":7": 4, ":7.1": 4, ":8": 2, ":9": 5} {
		name, data := authority(display)
		if name != "MIT-MAGIC-COOKIE-1" || !bytes.Equal(data, cookie(want)) {
			t.Errorf("%s: %q %v, want cookie %d", display, name, data, want)
		}
	}
	if err := os.WriteFile(path, file[:len(file)-3], 0o600); err != nil { // cut short
		t.Fatal(err)
	}
	if name, _ := authority(":9"); name != "" {
		t.Errorf("a truncated entry gave %q", name)
	}
}
