// Package xgbext initialises X extensions on github.com/jezek/xgb connections without data
// races. An extension's Init both records its opcode on the connection and writes xgb's
// package-level event and error decoder maps, which every connection's reader goroutine reads
// whenever an event or error arrives. Initialising an extension on a second connection while
// a first one receives events (DAMAGE notifications, say) is therefore a data race. Init here
// writes those maps only the first time an extension is initialised in the process and, after
// that, only records the opcode on the new connection.
//
// Decoders are registered under the event and error numbers of the first server seen; a
// server that numbers them differently gets its events dropped by xgb as unknown, so callers
// must not depend on receiving events (the capture source polls instead).
package xgbext

import (
	"errors"
	"fmt"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

var (
	mu   sync.Mutex
	done = map[string]bool{}
)

// ErrMissing: the X server lacks the extension.
var ErrMissing = errors.New("missing X extension")

// Init makes extension name (as the server calls it, e.g. "DAMAGE") usable on conn; initFn
// is the extension package's Init (damage.Init, say).
func Init(conn *xgb.Conn, name string, initFn func(*xgb.Conn) error) error {
	mu.Lock()
	defer mu.Unlock()
	if !done[name] {
		if err := initFn(conn); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMissing, name, err)
		}
		done[name] = true
		return nil
	}
	reply, err := xproto.QueryExtension(conn, uint16(len(name)), name).Reply()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMissing, name, err)
	}
	if !reply.Present {
		return fmt.Errorf("%w: %s", ErrMissing, name)
	}
	conn.ExtLock.Lock()
	conn.Extensions[name] = reply.MajorOpcode
	conn.ExtLock.Unlock()
	return nil
}
