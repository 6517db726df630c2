// Package xmotion tells when the X pointer moves, from XInput2 raw motion events read over a
// connection of its own.
//
// The core protocol reports pointer motion to a client only over windows whose owners let it
// through, so a screen recorder that draws the pointer would have to ask where it is every
// frame time: a wake-up and a round trip each, most of what a still screen costs. XInput2's
// raw events reach a client that selected them on the root window whatever window the
// pointer is over. github.com/jezek/xgb cannot read them (they are generic events, longer
// than the 32 bytes it reads per event, so its reader would lose its place in the stream),
// hence this small client of its own: it connects, selects raw motion and does nothing but
// read. Moves made by a client warping the pointer (XWarpPointer) make no raw event.
package xmotion

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The protocol numbers used (X11 protocol and XI2 protocol specifications).
const (
	opQueryExtension = 98
	xiQueryVersion   = 47
	xiSelectEvents   = 46
	xiAllDevices     = 0
	xiRawMotion      = 17
	genericEvent     = 35
	replyCode        = 1
	errorCode        = 0
	setupTimeout     = 10 * time.Second
)

// Watcher reads one connection's raw motion events until it is closed.
type Watcher struct {
	conn    net.Conn
	done    chan struct{}
	closing atomic.Bool
	err     error // why the reader ended; read after done is closed
}

// Watch connects to display (":N", "host:N", "unix:N", optionally ".screen") and calls moved
// from its own goroutine each time the pointer moves (as often as the device reports; moved
// must be quick). Close ends it.
func Watch(display string, moved func()) (*Watcher, error) {
	conn, err := dial(display)
	if err != nil {
		return nil, err
	}
	w := &Watcher{conn: conn, done: make(chan struct{})}
	_ = conn.SetDeadline(time.Now().Add(setupTimeout))
	major, err := w.setup(display)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	go w.read(major, moved)
	return w, nil
}

// Done is closed when the watcher stops reading (closed, or the connection failed: Err).
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Err is why the watcher stopped: nil while it runs and after Close.
func (w *Watcher) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Close ends the watcher and waits for its reader.
func (w *Watcher) Close() error {
	w.closing.Store(true)
	w.conn.Close()
	<-w.done
	return nil
}

// read reads events until the connection ends, calling moved for each raw motion event.
func (w *Watcher) read(major byte, moved func()) {
	defer close(w.done)
	var head [32]byte
	for {
		if _, err := io.ReadFull(w.conn, head[:]); err != nil {
			w.lost(err)
			return
		}
		if head[0]&0x7f == replyCode || head[0]&0x7f == genericEvent {
			// Both carry 4-byte units beyond the first 32 bytes.
			if extra := int64(binary.LittleEndian.Uint32(head[4:])) * 4; extra > 0 {
				if _, err := io.CopyN(io.Discard, w.conn, extra); err != nil {
					w.lost(err)
					return
				}
			}
		}
		if head[0]&0x7f == genericEvent && head[1] == major && binary.LittleEndian.Uint16(head[8:]) == xiRawMotion {
			moved()
		}
	}
}

// lost records why the reader ends, unless Close ended it.
func (w *Watcher) lost(err error) {
	if !w.closing.Load() {
		w.err = fmt.Errorf("%w: connection lost: %w", ErrConnect, err)
	}
}

// setup does the connection handshake, finds the first screen's root window, and selects
// raw motion on it. It returns XInput's major opcode.
func (w *Watcher) setup(display string) (byte, error) {
	name, data := authority(display)
	req := make([]byte, 12, 12+pad(len(name))+pad(len(data)))
	req[0] = 'l' // little-endian
	binary.LittleEndian.PutUint16(req[2:], 11)
	binary.LittleEndian.PutUint16(req[6:], uint16(len(name)))
	binary.LittleEndian.PutUint16(req[8:], uint16(len(data)))
	req = append(req, padded([]byte(name))...)
	req = append(req, padded(data)...)
	if _, err := w.conn.Write(req); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrConnect, display, err)
	}
	var head [8]byte
	if _, err := io.ReadFull(w.conn, head[:]); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrConnect, display, err)
	}
	body := make([]byte, int(binary.LittleEndian.Uint16(head[6:]))*4)
	if _, err := io.ReadFull(w.conn, body); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrConnect, display, err)
	}
	if head[0] != 1 {
		reason := body[:min(int(head[1]), len(body))]
		return 0, fmt.Errorf("%w: %s: refused: %q", ErrConnect, display, reason)
	}
	// The setup's fixed part is 32 bytes of body; then the vendor name, the pixmap formats (8
	// bytes each) and the screens, each starting with its root window.
	if len(body) < 32 {
		return 0, fmt.Errorf("%w: %s: short setup reply", ErrConnect, display)
	}
	at := 32 + pad(int(binary.LittleEndian.Uint16(body[16:]))) + 8*int(body[21])
	if body[20] == 0 || len(body) < at+4 {
		return 0, fmt.Errorf("%w: %s: setup reply without a screen", ErrConnect, display)
	}
	root := binary.LittleEndian.Uint32(body[at:])

	ext := "XInputExtension"
	q := make([]byte, 8, 8+pad(len(ext)))
	q[0] = opQueryExtension
	binary.LittleEndian.PutUint16(q[2:], uint16((8+pad(len(ext)))/4))
	binary.LittleEndian.PutUint16(q[4:], uint16(len(ext)))
	q = append(q, padded([]byte(ext))...)
	r, err := w.roundTrip(q)
	if err != nil {
		return 0, err
	}
	if r[8] == 0 {
		return 0, ErrNoXInput2
	}
	major := r[9]

	// Announcing 2.2 gets raw events delivered whatever grabs other clients hold (XI 2.1).
	v := make([]byte, 8)
	v[0], v[1] = major, xiQueryVersion
	binary.LittleEndian.PutUint16(v[2:], 2)
	binary.LittleEndian.PutUint16(v[4:], 2)
	binary.LittleEndian.PutUint16(v[6:], 2)
	if r, err = w.roundTrip(v); err != nil {
		return 0, err
	}
	if binary.LittleEndian.Uint16(r[8:]) < 2 {
		return 0, fmt.Errorf("%w: version %d.%d", ErrNoXInput2, binary.LittleEndian.Uint16(r[8:]), binary.LittleEndian.Uint16(r[10:]))
	}

	sel := make([]byte, 20)
	sel[0], sel[1] = major, xiSelectEvents
	binary.LittleEndian.PutUint16(sel[2:], 5)
	binary.LittleEndian.PutUint32(sel[4:], root)
	binary.LittleEndian.PutUint16(sel[8:], 1)             // one mask
	binary.LittleEndian.PutUint16(sel[12:], xiAllDevices) // of every device
	binary.LittleEndian.PutUint16(sel[14:], 1)            // one 4-byte unit
	binary.LittleEndian.PutUint32(sel[16:], 1<<xiRawMotion)
	// A request with no reply: a round trip after it (QueryExtension again, cheap) tells
	// whether it failed.
	if _, err := w.conn.Write(sel); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrConnect, display, err)
	}
	if _, err := w.roundTrip(q); err != nil {
		return 0, fmt.Errorf("select raw motion: %w", err)
	}
	return major, nil
}

// roundTrip sends a request with a reply and returns the reply's first 32 bytes (its extra
// bytes, none in the replies used here, are skipped). Events before it are dropped: none are
// selected until the last request of setup.
func (w *Watcher) roundTrip(req []byte) ([]byte, error) {
	if _, err := w.conn.Write(req); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	for {
		r := make([]byte, 32)
		if _, err := io.ReadFull(w.conn, r); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConnect, err)
		}
		switch r[0] & 0x7f {
		case errorCode:
			return nil, fmt.Errorf("%w: X error %d to request %d.%d", ErrNoXInput2, r[1], r[10], binary.LittleEndian.Uint16(r[8:]))
		case replyCode:
			if extra := int64(binary.LittleEndian.Uint32(r[4:])) * 4; extra > 0 {
				if _, err := io.CopyN(io.Discard, w.conn, extra); err != nil {
					return nil, fmt.Errorf("%w: %w", ErrConnect, err)
				}
			}
			return r, nil
		}
	}
}

// dial connects to display's X server: a local socket for ":N" and "unix:N", TCP port
// 6000+N for "host:N".
func dial(display string) (net.Conn, error) {
	host, num, err := parseDisplay(display)
	if err != nil {
		return nil, err
	}
	var c net.Conn
	if host == "" || host == "unix" {
		c, err = net.DialTimeout("unix", "/tmp/.X11-unix/X"+strconv.Itoa(num), setupTimeout)
	} else {
		c, err = net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(6000+num)), setupTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, display, err)
	}
	return c, nil
}

// parseDisplay splits "host:N.S" into host and N.
func parseDisplay(display string) (host string, num int, err error) {
	colon := strings.LastIndexByte(display, ':')
	if colon < 0 || strings.ContainsRune(display[:colon], '/') {
		return "", 0, fmt.Errorf("%w: %q", ErrDisplay, display)
	}
	n := display[colon+1:]
	if dot := strings.IndexByte(n, '.'); dot >= 0 {
		n = n[:dot]
	}
	num, err = strconv.Atoi(n)
	if err != nil || num < 0 {
		return "", 0, fmt.Errorf("%w: %q", ErrDisplay, display)
	}
	return display[:colon], num, nil
}

// authority returns the MIT-MAGIC-COOKIE-1 for display from $XAUTHORITY (or ~/.Xauthority),
// as xgb and Xlib pick it: a local entry for this host or a wildcard one, for this display
// number or any. None found: no authorization (servers started without -auth accept that).
func authority(display string) (name string, data []byte) {
	_, num, err := parseDisplay(display)
	if err != nil {
		return "", nil
	}
	file := os.Getenv("XAUTHORITY")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", nil
		}
		file = home + "/.Xauthority"
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", nil
	}
	hostname, _ := os.Hostname()
	const familyLocal, familyWild = 256, 65535
	field := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, false
		}
		f := b[2 : 2+n]
		b = b[2+n:]
		return f, true
	}
	for len(b) >= 2 {
		family := binary.BigEndian.Uint16(b)
		b = b[2:]
		addr, ok1 := field()
		disp, ok2 := field()
		n, ok3 := field()
		d, ok4 := field()
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return "", nil
		}
		hostOK := family == familyWild || family == familyLocal && string(addr) == hostname
		dispOK := len(disp) == 0 || string(disp) == strconv.Itoa(num)
		if hostOK && dispOK && string(n) == "MIT-MAGIC-COOKIE-1" && len(d) == 16 {
			return string(n), d
		}
	}
	return "", nil
}

// pad rounds n up to a multiple of 4.
func pad(n int) int { return (n + 3) &^ 3 }

// padded is b followed by zeros up to a multiple of 4 bytes.
func padded(b []byte) []byte { return append(b[:len(b):len(b)], make([]byte, pad(len(b))-len(b))...) }
