package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/screenrec/recorder/frontends/httpkit"
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

// codes are the codes of the statuses answered without one of their own.
var codes = map[int]string{
	http.StatusBadRequest:            CodeBadRequest,
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusNotFound:              CodeNotFound,
	http.StatusMethodNotAllowed:      CodeMethodNotAllowed,
	http.StatusConflict:              CodeConflict,
	http.StatusRequestEntityTooLarge: CodeTooLarge,
	http.StatusInternalServerError:   CodeInternal,
	http.StatusServiceUnavailable:    CodeUnavailable,
}

// answerBody renders an error answer in the API's shape (httpkit.Options.ErrorBody): its
// own code, or the status's.
func answerBody(e *httpkit.Error) any {
	code := e.Code
	if code == "" {
		code = codes[e.Status]
	}
	if code == "" {
		code = strings.ReplaceAll(strings.ToLower(http.StatusText(e.Status)), " ", "_")
	}
	return Error{Code: code, Message: e.Message}
}

func newError(status int, code, format string, args ...any) *httpkit.Error {
	return httpkit.Errorf(status, format, args...).WithCode(code)
}

func badRequest(format string, args ...any) *httpkit.Error {
	return newError(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func notFound(format string, args ...any) *httpkit.Error {
	return newError(http.StatusNotFound, CodeNotFound, format, args...)
}

func internal(format string, args ...any) *httpkit.Error {
	return newError(http.StatusInternalServerError, CodeInternal, format, args...)
}
