package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/api"
)

// StatusTooEarly is 425 Too Early (RFC 8470): a previous start or stop for the same user is
// still being processed (the vendor's "interaction is locked").
const StatusTooEarly = http.StatusTooEarly

// MaxBodyBytes is the largest request body accepted (64 KiB); larger ones are answered 413.
const MaxBodyBytes = 64 << 10

// httpError is an answer other than success: a status, what is wrong, and extra headers.
type httpError struct {
	status int
	desc   string
	header map[string]string
}

func (e *httpError) Error() string {
	return strconv.Itoa(e.status) + " " + reason(e.status) + ": " + e.desc
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	HTTPStatus  string `json:"httpStatus"`
	Description string `json:"description"`
}

// reason is a status's canonical name in upper snake case: "BAD_REQUEST", "TOO_EARLY",
// "REQUEST_ENTITY_TOO_LARGE", … (the form the vendor's httpStatus field takes).
func reason(status int) string {
	text := http.StatusText(status)
	if text == "" {
		return "STATUS_" + strconv.Itoa(status)
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(text) {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ', r == '-':
			b.WriteByte('_')
		}
	}
	return b.String()
}

func badRequest(format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, desc: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *httpError {
	return &httpError{status: http.StatusNotFound, desc: fmt.Sprintf(format, args...)}
}

func tooEarly(format string, args ...any) *httpError {
	return &httpError{status: StatusTooEarly, desc: fmt.Sprintf(format, args...)}
}

func internal(format string, args ...any) *httpError {
	return &httpError{status: http.StatusInternalServerError, desc: fmt.Sprintf(format, args...)}
}

func tooLarge() *httpError {
	return &httpError{status: http.StatusRequestEntityTooLarge,
		desc: fmt.Sprintf("request body over %d KiB", MaxBodyBytes>>10)}
}

// engineError maps an error of engine call op ("start", "stop", "list", …) to the answer:
// 504 when the engine did not answer within timeout, 425 when the session is busy with a
// transition, 500 naming the part otherwise (too many sessions, spool quota, disk full,
// engine closed, plugin boundary gone, …).
func engineError(op string, err error, timeout time.Duration) *httpError {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &httpError{status: http.StatusGatewayTimeout,
			desc: fmt.Sprintf("engine: %s: no answer within %s: %v", op, timeout, err)}
	case errors.Is(err, api.ErrBusy):
		return tooEarly("engine: %s: %v", op, err)
	}
	return internal("engine: %s: %v", op, err)
}
