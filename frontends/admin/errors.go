package admin

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors of the package; classify with errors.Is.
var (
	// ErrConfig: New was given an unusable Config or Deps; the message names the field.
	ErrConfig = errors.New("admin API: bad config")
	// ErrStarted: Start was called on a server already started (or shut down).
	ErrStarted = errors.New("admin API: already started")
)

// The codes of Error.Code: what kind of problem an error answer reports.
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeBusy             = "busy"
	CodeTooLarge         = "too_large"
	CodeInternal         = "internal"
	CodeUnavailable      = "unavailable"
)

// Error is the JSON body of every error answer: a code from the list above and a message
// saying what is wrong and, where it helps, what to do.
type Error struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

// httpError is an error answer: its status, body and extra headers.
type httpError struct {
	status int
	body   Error
	header map[string]string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.body.Code, e.body.Message)
}

func newError(status int, code, format string, args ...any) *httpError {
	return &httpError{status: status, body: Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func badRequest(format string, args ...any) *httpError {
	return newError(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func notFound(format string, args ...any) *httpError {
	return newError(http.StatusNotFound, CodeNotFound, format, args...)
}

func internal(format string, args ...any) *httpError {
	return newError(http.StatusInternalServerError, CodeInternal, format, args...)
}
