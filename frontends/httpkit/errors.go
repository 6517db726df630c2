package httpkit

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Sentinel errors of the package; classify with errors.Is.
var (
	// ErrStarted: Start was called on a Server already started, or stopped.
	ErrStarted = errors.New("already started")
	// ErrNoCertificate: HTTPS is asked for but no certificate can be loaded.
	ErrNoCertificate = errors.New("no certificate")
)

// Error is an error answer: its status, a message saying what is wrong (and, where it
// helps, what to do), an optional API-specific code and extra headers. Options.ErrorBody
// renders it in the API's shape. Handlers return it (wrapped or not) as their error.
type Error struct {
	Status  int
	Message string
	// Code is a machine-readable kind for APIs that have one; empty: the API derives it
	// from Status.
	Code string
	// Header holds headers the answer carries (WWW-Authenticate, Retry-After, …).
	Header http.Header
}

func (e *Error) Error() string { return strconv.Itoa(e.Status) + " " + e.Message }

// Errorf returns an error answer with status and a formatted message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// WithHeader adds a header to the answer and returns e.
func (e *Error) WithHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Add(key, value)
	return e
}

// WithCode sets e's Code and returns e.
func (e *Error) WithCode(code string) *Error {
	e.Code = code
	return e
}

// TooLarge is the answer to a body over limit bytes.
func TooLarge(limit int64) *Error {
	return Errorf(http.StatusRequestEntityTooLarge, "request body is over the limit of %d KiB", limit>>10)
}

// Clip shortens a caller's value (64 bytes at most, valid UTF-8) before an error message
// quotes it back.
func Clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
