package httpkit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
	"go.opentelemetry.io/otel/attribute"
)

// newEcho returns the router with the kit's middleware, outermost first: OpenTelemetry, panic
// recovery, then guard (headers, draining, write deadline, body limit).
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard) // never stdout: it carries a plugin's handshake
	e.HTTPErrorHandler = s.writeError
	plugin := []attribute.KeyValue{attribute.String("plugin", s.opts.Name)}
	// A span per request named after its route template ("GET /api/v2/me") and http.server.*
	// metrics by route and status, with the global providers (a plugin process's report to
	// the host); the "plugin" attribute keeps front ends sharing a process apart.
	e.Use(otelecho.Middleware("", otelecho.WithEchoMetricAttributeFn(func(echo.Context) []attribute.KeyValue { return plugin })),
		s.recoverPanics, s.guard)
	return e
}

// recoverPanics answers a panicking handler 500 in the API's shape, and logs the panic with
// its stack, instead of dropping the connection. net/http's own abort goes through.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			r := c.Request()
			s.log.ErrorContext(r.Context(), s.opts.Name+": handler panicked", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = Errorf(http.StatusInternalServerError, "internal error while handling %s %s", r.Method, r.URL.Path)
		}()
		return next(c)
	}
}

// guard sets the headers every answer carries, answers 503 while the server drains, counts
// the request in flight, sets its write deadline and caps its body.
func (s *Server) guard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, w := c.Request(), c.Response()
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if s.opts.Headers != nil {
			s.opts.Headers(h, r)
		}
		if !s.enter() {
			return Errorf(http.StatusServiceUnavailable, "the recorder is shutting down: try again later")
		}
		defer s.requests.Done()
		// The deadline follows the config in force (a handler's bound may change).
		_ = http.NewResponseController(w.Writer).SetWriteDeadline(time.Now().Add(s.writeTimeout()))
		if r.ContentLength > s.opts.MaxBody {
			return TooLarge(s.opts.MaxBody)
		}
		r.Body = http.MaxBytesReader(w.Writer, r.Body, s.opts.MaxBody)
		return next(c)
	}
}

// writeError is echo's error handler: it answers err in the API's shape. An *Error is
// answered as it is; a body over the limit 413; echo's own errors (no route, wrong method)
// with their status; anything else 500. 413 and 503 close the connection (the body is not
// read; the server is going away); 5xx are logged.
func (s *Server) writeError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	r := c.Request()
	var ke *Error
	var mbe *http.MaxBytesError
	var ee *echo.HTTPError
	switch {
	case errors.As(err, &ke):
	case errors.As(err, &mbe):
		ke = TooLarge(mbe.Limit)
	case errors.As(err, &ee):
		switch ee.Code {
		case http.StatusNotFound:
			ke = Errorf(ee.Code, "no such endpoint: %s", r.URL.Path)
		case http.StatusMethodNotAllowed:
			ke = Errorf(ee.Code, "method %s is not allowed on %s", r.Method, r.URL.Path)
			if allow := c.Response().Header().Get("Allow"); allow != "" {
				ke.Message += ": use " + allow
			}
		case http.StatusRequestEntityTooLarge:
			ke = TooLarge(s.opts.MaxBody)
		default:
			ke = Errorf(ee.Code, "%s", strings.ToLower(http.StatusText(ee.Code)))
			if msg := fmt.Sprint(ee.Message); ee.Message != nil && msg != "" {
				ke.Message = msg
			}
		}
	default:
		ke = Errorf(http.StatusInternalServerError, "internal error: %v", err)
	}
	h := c.Response().Header()
	for k, vs := range ke.Header {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if ke.Status == http.StatusRequestEntityTooLarge || ke.Status == http.StatusServiceUnavailable {
		h.Set("Connection", "close")
	}
	if ke.Status >= 500 {
		s.log.ErrorContext(r.Context(), s.opts.Name+": request failed", "method", r.Method, "path", r.URL.Path,
			"status", ke.Status, "error", ke.Message)
	}
	_ = WriteJSON(c, ke.Status, s.opts.ErrorBody(ke))
}
