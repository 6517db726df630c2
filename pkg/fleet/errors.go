package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/screenrec/recorder/engine/api"
)

// Sentinel errors of the fleet.
var (
	// ErrBadMachine: a machine id that cannot be a subject token.
	ErrBadMachine = errors.New("bad machine id")
	// ErrUnreachable: the machine did not answer (no agent connected for it, or no answer in
	// time). It is reported wrapped together with context.DeadlineExceeded, which front ends
	// answer 504.
	ErrUnreachable = errors.New("machine unreachable")
	// ErrNotPresent: the user is present on no machine of the fleet. Reported wrapped with
	// api.ErrNotFound.
	ErrNotPresent = errors.New("user present on no machine")
	// ErrNotConfigured: the controller has no archive to pre-sign uploads for.
	ErrNotConfigured = errors.New("not configured")
	// ErrForbidden: an agent asked for what it may not do (an operation or a key outside
	// its machine's key space in the archive).
	ErrForbidden = errors.New("forbidden")
	// ErrStateUnavailable: the controller cannot reach NATS or JetStream, where the fleet's
	// state is.
	ErrStateUnavailable = errors.New("fleet state unavailable")
	// ErrProtocol: a message that does not decode, or an answer that is not one.
	ErrProtocol = errors.New("fleet protocol error")
)

// Error codes on the wire. Each names one of the engine's sentinel errors (or a fleet one);
// Status is the HTTP status the cloud API answers for it.
const (
	CodeNotFound          = "not_found"
	CodeBusy              = "busy"
	CodeAlreadyRecording  = "already_recording"
	CodeIllegalTransition = "illegal_transition"
	CodeTerminal          = "terminal"
	CodeTooManySessions   = "too_many_sessions"
	CodeSpoolQuota        = "spool_quota"
	CodeDiskFull          = "disk_full"
	CodeInvalidRequest    = "invalid_request"
	CodeBadSelection      = "bad_selection"
	CodeBadLayout         = "bad_layout"
	CodeClosed            = "closed"
	CodeTimeout           = "timeout"
	CodeNotConfigured     = "not_configured"
	CodeForbidden         = "forbidden"
	CodeInternal          = "internal"
)

// codes maps each code to its sentinel and status, in the order errors are classified.
var codes = []struct {
	code   string
	err    error
	status int
}{
	{CodeAlreadyRecording, api.ErrAlreadyRecording, http.StatusOK},
	{CodeNotFound, api.ErrNotFound, http.StatusNotFound},
	{CodeBusy, api.ErrBusy, http.StatusTooEarly},
	{CodeIllegalTransition, api.ErrIllegalTransition, http.StatusConflict},
	{CodeTerminal, api.ErrTerminal, http.StatusNotFound},
	{CodeTooManySessions, api.ErrTooManySessions, http.StatusInternalServerError},
	{CodeSpoolQuota, api.ErrSpoolQuota, http.StatusInternalServerError},
	{CodeDiskFull, api.ErrDiskFull, http.StatusInternalServerError},
	{CodeInvalidRequest, api.ErrInvalidRequest, http.StatusBadRequest},
	{CodeBadSelection, api.ErrBadSelection, http.StatusBadRequest},
	{CodeBadLayout, api.ErrBadLayout, http.StatusBadRequest},
	{CodeClosed, api.ErrClosed, http.StatusInternalServerError},
	{CodeTimeout, context.DeadlineExceeded, http.StatusGatewayTimeout},
	{CodeNotConfigured, ErrNotConfigured, http.StatusNotImplemented},
	{CodeForbidden, ErrForbidden, http.StatusForbidden},
}

// Error is an error on the wire: a code naming the sentinel, the HTTP status the cloud API
// maps it to, the message, and for already_recording the running session.
type Error struct {
	Code    string       `json:"code"`
	Status  int          `json:"status"`
	Message string       `json:"message"`
	Session *api.Session `json:"session,omitempty"`
}

// ErrorOf puts err on the wire (nil for nil).
func ErrorOf(err error) *Error {
	if err == nil {
		return nil
	}
	e := &Error{Code: CodeInternal, Status: http.StatusInternalServerError, Message: err.Error()}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			e.Code, e.Status = c.code, c.status
			break
		}
	}
	if are := (*api.AlreadyRecordingError)(nil); errors.As(err, &are) && are != nil {
		s := are.Session
		e.Session = &s
	}
	return e
}

// Err turns a wire error back into an error that errors.Is matches against the sentinel of
// its code (and errors.As against *api.AlreadyRecordingError when it carries the session).
func (e *Error) Err() error {
	if e == nil {
		return nil
	}
	if e.Code == CodeAlreadyRecording && e.Session != nil {
		return &api.AlreadyRecordingError{Session: *e.Session}
	}
	for _, c := range codes {
		if c.code == e.Code {
			return &RemoteError{Wire: *e, sentinel: c.err}
		}
	}
	return &RemoteError{Wire: *e}
}

// RemoteError is an error an agent or controller answered.
type RemoteError struct {
	Wire     Error
	sentinel error
}

func (e *RemoteError) Error() string { return e.Wire.Message }

// Unwrap returns the sentinel of the error's code (nil for internal errors).
func (e *RemoteError) Unwrap() error { return e.sentinel }

// Unreachable is the error of a call that machine did not answer: ErrUnreachable and
// context.DeadlineExceeded, so that a front end answers 504.
func Unreachable(machine string, cause error) error {
	return fmt.Errorf("%w: %s: %w (%v)", ErrUnreachable, machine, context.DeadlineExceeded, cause)
}

// NotPresent is the error for a user present nowhere: ErrNotPresent and api.ErrNotFound.
func NotPresent(user string) error {
	return fmt.Errorf("%w: %q: %w", ErrNotPresent, user, api.ErrNotFound)
}
