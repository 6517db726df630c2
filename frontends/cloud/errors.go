package cloud

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/httpkit"
)

// StatusTooEarly is 425 Too Early (RFC 8470): a previous start or stop for the same user is
// still being processed (the vendor's "interaction is locked").
const StatusTooEarly = http.StatusTooEarly

// MaxBodyBytes is the largest request body accepted (64 KiB); larger ones are answered 413.
const MaxBodyBytes = httpkit.MaxBody

// errorBody is the JSON of every error answer.
type errorBody struct {
	HTTPStatus  string `json:"httpStatus"`
	Description string `json:"description"`
}

// answerBody renders an error answer in the API's shape (httpkit.Options.ErrorBody).
func answerBody(e *httpkit.Error) any {
	return errorBody{HTTPStatus: reason(e.Status), Description: e.Message}
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

func badRequest(format string, args ...any) *httpkit.Error {
	return httpkit.Errorf(http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) *httpkit.Error {
	return httpkit.Errorf(http.StatusNotFound, format, args...)
}

func tooEarly(format string, args ...any) *httpkit.Error {
	return httpkit.Errorf(StatusTooEarly, format, args...)
}

func internal(format string, args ...any) *httpkit.Error {
	return httpkit.Errorf(http.StatusInternalServerError, format, args...)
}

// engineError maps an error of engine call op ("start", "stop", "list", …) to the answer:
// 504 when the engine did not answer within timeout, 425 when the session is busy with a
// transition, 500 naming the part otherwise (too many sessions, spool quota, disk full,
// engine closed, plugin boundary gone, …).
func engineError(op string, err error, timeout time.Duration) *httpkit.Error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return httpkit.Errorf(http.StatusGatewayTimeout, "engine: %s: no answer within %s: %v", op, timeout, err)
	case errors.Is(err, api.ErrBusy):
		return tooEarly("engine: %s: %v", op, err)
	}
	return internal("engine: %s: %v", op, err)
}
