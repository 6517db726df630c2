package api

import (
	"errors"
	"fmt"
)

// Sentinel errors of package engine. Errors the engine returns wrap one of these with %w, adding
// the session id, the states or the field concerned to the message; classify them with
// errors.Is, never with ==.
var (
	// ErrPermanent marks an upload failure that retrying cannot fix (e.g. 401, 403).
	ErrPermanent = errors.New("permanent failure")
	// ErrBadSelection: a monitor selection could not be parsed.
	ErrBadSelection = errors.New("bad monitor selection")
	// ErrBadLayout: the layout is neither canvas nor tracks.
	ErrBadLayout = errors.New("bad layout")
	// ErrNotFound: no session has the given id.
	ErrNotFound = errors.New("no such session")

	// ErrBusy: a transition of that session (start, stop, mask, unmask) is still in progress;
	// the caller may retry once it has finished. Front ends answer 425 Too Early or 409 Conflict.
	ErrBusy = errors.New("session busy: a transition is in progress")

	// ErrAlreadyRecording: the owner already has a running session started from that front end.
	ErrAlreadyRecording = errors.New("already recording")

	// ErrIllegalTransition: the requested move is not allowed from the session's current state
	// (see CanTransition); the message names both states.
	ErrIllegalTransition = errors.New("illegal state transition")

	// ErrTerminal: the session has ended (completed or failed); terminal states refuse every move.
	ErrTerminal = errors.New("session has ended")

	// ErrTooManySessions: the configured maximum of concurrent sessions is reached.
	ErrTooManySessions = errors.New("too many concurrent sessions")

	// ErrSpoolQuota: the spool directory is over its quota.
	ErrSpoolQuota = errors.New("spool directory over quota")

	// ErrDiskFull: free disk space is below the configured floor.
	ErrDiskFull = errors.New("free disk space below the configured floor")

	// ErrInvalidRequest: a field of a start request is wrong; the message names the field.
	ErrInvalidRequest = errors.New("invalid request")

	// ErrClosed: the engine was used after Close.
	ErrClosed = errors.New("engine closed")
)

// AlreadyRecordingError is returned (wrapping ErrAlreadyRecording) when the owner already has
// a running session from the same front end; Session is that session.
type AlreadyRecordingError struct {
	Session Session
}

func (e *AlreadyRecordingError) Error() string {
	return fmt.Sprintf("%v: %s already has session %s (contact %d) from %s", ErrAlreadyRecording,
		e.Session.Owner, e.Session.ID, e.Session.ContactID, e.Session.Frontend)
}

// Unwrap makes errors.Is(err, ErrAlreadyRecording) true.
func (e *AlreadyRecordingError) Unwrap() error { return ErrAlreadyRecording }
