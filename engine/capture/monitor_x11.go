//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xinerama"
	"github.com/jezek/xgb/xproto"

	"github.com/screenrec/recorder/internal/xgbext"
	"github.com/screenrec/recorder/internal/xgbquiet"
)

// Discover lists the monitors of an X display in absolute root coordinates. It asks RandR 1.5
// for monitors (which also covers xrandr --setmonitor virtual monitors), falls back to
// Xinerama, and treats the whole root as one monitor when neither is available.
func Discover(ctx context.Context, display string) (*Screen, error) {
	display, err := ResolveDisplay(display)
	if err != nil {
		return nil, err
	}
	xgbquiet.Do()

	type result struct {
		s   *Screen
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := discoverX11(display)
		done <- result{s, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: %w", ErrDisplayUnreachable, display, ctx.Err())
	case r := <-done:
		return r.s, r.err
	}
}

// screenConns keeps one X connection per display for discovery, which a capture repeats every
// second to follow screen changes: connecting anew each time (socket, authority file, setup)
// cost more than everything else a still screen does. A connection unused for
// screenConnIdle is closed; one that fails is replaced once.
var screenConns = struct {
	sync.Mutex
	m map[string]*screenConn
}{m: map[string]*screenConn{}}

const screenConnIdle = 10 * time.Second

// screenConn is a kept discovery connection; mu serialises its queries.
type screenConn struct {
	mu      sync.Mutex
	conn    *xgb.Conn
	display string
	idle    *time.Timer
	randr   bool // RANDR initialised and recent enough
	atoms   map[xproto.Atom]string
}

// screenConnFor returns display's kept connection, connecting when there is none.
func screenConnFor(display string) (*screenConn, error) {
	screenConns.Lock()
	defer screenConns.Unlock()
	if sc := screenConns.m[display]; sc != nil {
		sc.idle.Reset(screenConnIdle)
		return sc, nil
	}
	conn, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDisplayUnreachable, display, err)
	}
	sc := &screenConn{conn: conn, display: display, atoms: map[xproto.Atom]string{}}
	sc.idle = time.AfterFunc(screenConnIdle, sc.drop)
	screenConns.m[display] = sc
	return sc, nil
}

// drop forgets and closes the connection.
func (sc *screenConn) drop() {
	screenConns.Lock()
	if screenConns.m[sc.display] == sc {
		delete(screenConns.m, sc.display)
	}
	screenConns.Unlock()
	sc.idle.Stop()
	sc.conn.Close()
}

func discoverX11(display string) (*Screen, error) {
	for attempt := 0; ; attempt++ {
		sc, err := screenConnFor(display)
		if err != nil {
			return nil, err
		}
		s, err := sc.discover()
		if err == nil || attempt > 0 || errors.Is(err, ErrNoMonitors) {
			return s, err
		}
		sc.drop() // the server may have restarted: try once on a new connection
	}
}

func (sc *screenConn) discover() (*Screen, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	conn, display := sc.conn, sc.display
	setup := xproto.Setup(conn)
	if len(setup.Roots) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoMonitors, display)
	}
	root := setup.DefaultScreen(conn)
	// The setup's size is the one at connection time: ask for the current one.
	geo, err := xproto.GetGeometry(conn, xproto.Drawable(root.Root)).Reply()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDisplayUnreachable, display, err)
	}
	s := &Screen{Display: display, Width: int(geo.Width), Height: int(geo.Height)}

	mons, err := sc.randrMonitors(root.Root)
	if err != nil || len(mons) == 0 {
		mons, err = xineramaMonitors(conn)
	}
	if err != nil || len(mons) == 0 {
		mons = []Monitor{{Name: "screen", Width: s.Width, Height: s.Height, Primary: true}}
	}
	// Keep only monitors with an area on the root; clip the rest to it.
	kept := mons[:0]
	for _, m := range mons {
		r := m.Rect().Intersect(s.Bounds())
		if r.Empty() {
			continue
		}
		m.X, m.Y, m.Width, m.Height = r.Min.X, r.Min.Y, r.Dx(), r.Dy()
		kept = append(kept, m)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoMonitors, display)
	}
	sort.SliceStable(kept, func(i, j int) bool {
		if kept[i].X != kept[j].X {
			return kept[i].X < kept[j].X
		}
		return kept[i].Y < kept[j].Y
	})
	for i := range kept {
		kept[i].Index = i
	}
	s.Monitors = kept
	return s, nil
}

func (sc *screenConn) randrMonitors(root xproto.Window) ([]Monitor, error) {
	conn := sc.conn
	if !sc.randr {
		if _, err := xgbext.Init(conn, "RANDR"); err != nil {
			return nil, err
		}
		v, err := randr.QueryVersion(conn, 1, 5).Reply()
		if err != nil {
			return nil, err
		}
		if v.MajorVersion < 1 || (v.MajorVersion == 1 && v.MinorVersion < 5) {
			return nil, fmt.Errorf("randr %d.%d has no monitors", v.MajorVersion, v.MinorVersion)
		}
		sc.randr = true
	}
	reply, err := randr.GetMonitors(conn, root, true).Reply()
	if err != nil {
		return nil, err
	}
	out := make([]Monitor, 0, len(reply.Monitors))
	for _, mi := range reply.Monitors {
		name, known := sc.atoms[mi.Name] // atoms are never renamed: ask once
		if !known {
			if an, err := xproto.GetAtomName(conn, mi.Name).Reply(); err == nil {
				name = an.Name
				sc.atoms[mi.Name] = name
			}
		}
		out = append(out, Monitor{Name: name, X: int(mi.X), Y: int(mi.Y),
			Width: int(mi.Width), Height: int(mi.Height), Primary: mi.Primary})
	}
	return out, nil
}

func xineramaMonitors(conn *xgb.Conn) ([]Monitor, error) {
	if _, err := xgbext.Init(conn, "XINERAMA"); err != nil {
		return nil, err
	}
	active, err := xinerama.IsActive(conn).Reply()
	if err != nil || active.State == 0 {
		return nil, fmt.Errorf("xinerama inactive")
	}
	reply, err := xinerama.QueryScreens(conn).Reply()
	if err != nil {
		return nil, err
	}
	out := make([]Monitor, 0, len(reply.ScreenInfo))
	for i, si := range reply.ScreenInfo {
		out = append(out, Monitor{Name: fmt.Sprintf("head%d", i), X: int(si.XOrg), Y: int(si.YOrg),
			Width: int(si.Width), Height: int(si.Height), Primary: i == 0})
	}
	return out, nil
}
