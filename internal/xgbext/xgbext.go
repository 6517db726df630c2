// Package xgbext makes X extensions usable on github.com/jezek/xgb connections, with each
// connection's events and errors decoded by that connection's own numbering.
//
// xgb decodes events and errors through package-level maps keyed by their number, which an
// extension's Init fills under the numbers of the server it was called for. Two problems
// follow: Init on a second connection writes those maps while the first connection's reader
// goroutine reads them (a data race), and a server that numbers its extensions' events
// differently (one started with an extension disabled, say) gets its events decoded as some
// other extension's, or dropped. So extension Inits are never called here. Instead, once
// before any connection exists, every extension event number (64–127) and error number
// (128–255) is given a decoder that keeps the raw bytes (RawEvent, RawError); Init queries an
// extension on one connection and returns its numbering (Ext), and Ext.Event decodes a
// RawEvent of that connection into the extension package's typed event (damage.NotifyEvent,
// say).
package xgbext

import (
	"errors"
	"fmt"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto" // its init registers the core decoders first
)

// X protocol numbering: extension events and errors come after the core ones.
const (
	firstExtEvent = 64
	lastEvent     = 127
	firstExtError = 128
	lastError     = 255
)

func init() {
	_ = xproto.Setup // the import above must stay: core decoders are registered by its init
	for n := firstExtEvent; n <= lastEvent; n++ {
		if _, ok := xgb.NewEventFuncs[n]; !ok {
			xgb.NewEventFuncs[n] = newRawEvent
		}
	}
	for n := firstExtError; n <= lastError; n++ {
		if _, ok := xgb.NewErrorFuncs[n]; !ok {
			xgb.NewErrorFuncs[n] = newRawError
		}
	}
}

// ErrMissing: the X server lacks the extension.
var ErrMissing = errors.New("missing X extension")

// Ext is an extension as one connection's server numbers it.
type Ext struct {
	// Name is the extension's name, as the server calls it (e.g. "DAMAGE").
	Name string
	// Major is its request opcode; FirstEvent and FirstError its first event and error number.
	Major, FirstEvent, FirstError byte
}

// Init makes extension name (as the server calls it, e.g. "DAMAGE") usable on conn: requests
// of the extension's xgb package work on conn afterwards, and the returned Ext decodes its
// events.
func Init(conn *xgb.Conn, name string) (Ext, error) {
	reply, err := xproto.QueryExtension(conn, uint16(len(name)), name).Reply()
	if err != nil {
		return Ext{}, fmt.Errorf("%w: %s: %w", ErrMissing, name, err)
	}
	if !reply.Present {
		return Ext{}, fmt.Errorf("%w: %s", ErrMissing, name)
	}
	conn.ExtLock.Lock()
	conn.Extensions[name] = reply.MajorOpcode
	conn.ExtLock.Unlock()
	return Ext{Name: name, Major: reply.MajorOpcode, FirstEvent: reply.FirstEvent, FirstError: reply.FirstError}, nil
}

// Event decodes ev, as read from the connection e was made for, into the extension package's
// event type; ok is false when ev is not one of e's events.
func (e Ext) Event(ev xgb.Event) (_ xgb.Event, ok bool) {
	raw, isRaw := ev.(RawEvent)
	if !isRaw || e.FirstEvent == 0 || raw.Number() < int(e.FirstEvent) {
		return nil, false
	}
	// Read-only after the extension packages' init functions: safe from any goroutine.
	decode, found := xgb.NewExtEventFuncs[e.Name][raw.Number()-int(e.FirstEvent)]
	if !found {
		return nil, false
	}
	return decode(raw.buf), true
}

// RawEvent is an extension event as read: 32 bytes, decoded by Ext.Event.
type RawEvent struct{ buf []byte }

func newRawEvent(buf []byte) xgb.Event { return RawEvent{buf: buf} }

// Number is the event's number, without the bit SendEvent sets.
func (e RawEvent) Number() int { return int(e.buf[0] & 0x7f) }

// Bytes returns the event's bytes.
func (e RawEvent) Bytes() []byte { return e.buf }

func (e RawEvent) String() string { return fmt.Sprintf("extension event %d", e.Number()) }

// RawError is an extension error as read: its number says which extension's (see Ext).
type RawError struct{ buf []byte }

func newRawError(buf []byte) xgb.Error { return RawError{buf: buf} }

// Number is the error's number.
func (e RawError) Number() int { return int(e.buf[1]) }

// SequenceId is the sequence number of the failed request.
func (e RawError) SequenceId() uint16 { return xgb.Get16(e.buf[2:]) }

// BadId is the resource the error names, if any.
func (e RawError) BadId() uint32 { return xgb.Get32(e.buf[4:]) }

func (e RawError) Error() string {
	return fmt.Sprintf("X extension error %d (request %d.%d, resource %#x)", e.Number(), e.buf[10], xgb.Get16(e.buf[8:]), e.BadId())
}
