// Package httpkit is the HTTP plumbing every front end shares, so that they all behave alike:
// listeners (HTTP, and HTTPS whose certificate files are read again when they change), the
// server timeouts, draining on stop (new requests are answered 503 while those in flight
// finish, then the listeners close), OpenTelemetry spans and metrics per route, panic
// recovery, a request body limit answered 413, and error answers written as JSON in the
// shape each API documents.
//
// A front end makes a Server with New, adds its routes to Echo, then calls Start and Stop
// (or Serve, which stops when its context ends). Errors its handlers return are answered
// by the kit: an *Error as it is, anything else as a 500.
package httpkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// The server timeouts and limits every front end uses.
const (
	// ReadHeaderTimeout bounds reading a request's headers (slow-loris clients).
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout = 30 * time.Second
	// IdleTimeout closes a keep-alive connection that has no request for this long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps a request's headers.
	MaxHeaderBytes = 64 << 10
	// MaxBody is the largest request body accepted unless Options.MaxBody says otherwise;
	// larger ones are answered 413.
	MaxBody = 64 << 10
	// DefaultHandlerTimeout is how long a handler may take when Options.HandlerTimeout is
	// not set.
	DefaultHandlerTimeout = 30 * time.Second
	// DefaultStopTimeout bounds the stop Serve makes once its context ends.
	DefaultStopTimeout = 5 * time.Second
	// writeMargin is added to a request's handler and read time for its write deadline.
	writeMargin = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// Name names the API in log lines and in the "plugin" attribute of its HTTP metrics, so
	// that two front ends in one process do not mix. Required.
	Name string
	// Listen is the HTTP listener's host:port; empty: no plain HTTP.
	Listen string
	// HTTPSListen is the HTTPS listener's host:port; empty: no HTTPS. It needs CertFiles.
	HTTPSListen string
	// CertFiles returns the HTTPS certificate chain and key files (PEM) in force. They are
	// read at Start and again on a handshake after either file, or either path, changed:
	// a renewed certificate is served without a restart.
	CertFiles func() (certFile, keyFile string)
	// ErrorBody returns the JSON body of an error answer in the API's documented shape.
	// Required.
	ErrorBody func(*Error) any
	// Headers, when set, adds headers every answer carries (CORS, say), the kit's own error
	// answers (503 while draining, 413) included.
	Headers func(h http.Header, r *http.Request)
	// MaxBody is the largest request body accepted; 0: MaxBody.
	MaxBody int64
	// HandlerTimeout returns the longest a handler may take (each request's write deadline
	// derives from it); nil: DefaultHandlerTimeout. It is asked at each request, so a new
	// config applies to the next one.
	HandlerTimeout func() time.Duration
	// StopTimeout bounds the stop Serve makes once its context ends; 0: DefaultStopTimeout.
	StopTimeout time.Duration
	// Log receives the kit's log lines; nil: slog.Default().
	Log *slog.Logger
}

// Endpoint is where a started Server listens: Name "http" or "https" and its URL.
type Endpoint struct {
	Name string
	URL  string
}

// Server is one API's HTTP server. New makes it; Start (or Serve) serves; Stop drains and
// stops it. A Server serves once.
type Server struct {
	opts Options
	log  *slog.Logger
	e    *echo.Echo
	hs   *http.Server
	cert *certReloader // nil: no HTTPS

	mu       sync.Mutex
	started  bool
	draining bool           // guarded by mu: new requests are answered 503
	requests sync.WaitGroup // requests in flight past the draining check
	lns      []net.Listener
	done     chan struct{} // closed when Stop has finished
	stopErr  error
}

// New returns a Server that is not serving yet; it has no side effects. Add the routes to
// Echo before Start.
func New(opts Options) *Server {
	if opts.MaxBody <= 0 {
		opts.MaxBody = MaxBody
	}
	if opts.HandlerTimeout == nil {
		opts.HandlerTimeout = func() time.Duration { return DefaultHandlerTimeout }
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Log, done: make(chan struct{})}
	s.e = s.newEcho()
	s.hs = &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      s.writeTimeout(),
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn),
	}
	if opts.HTTPSListen != "" {
		s.cert = &certReloader{files: opts.CertFiles, log: opts.Log}
		s.hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.cert.get}
	}
	return s
}

// Echo is the router to add the API's routes to; its middleware and error handler are the
// kit's.
func (s *Server) Echo() *echo.Echo { return s.e }

// Handler is the API with the kit's plumbing, for a caller that serves it itself.
func (s *Server) Handler() http.Handler { return s.e }

// writeTimeout is the write deadline of a request: reading it, handling it, and a margin.
func (s *Server) writeTimeout() time.Duration {
	return ReadTimeout + s.opts.HandlerTimeout() + writeMargin
}

// Start listens on Listen and HTTPSListen and serves in the background until Stop. It
// returns the endpoints, HTTP first. A Server starts once (ErrStarted). Errors do not name
// the API: the caller's wrapping does.
func (s *Server) Start(ctx context.Context) ([]Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil, ErrStarted
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.cert != nil {
		if s.opts.CertFiles == nil {
			return nil, fmt.Errorf("https: %w", ErrNoCertificate)
		}
		if _, err := s.cert.get(nil); err != nil {
			return nil, fmt.Errorf("https: %w", err)
		}
	}
	type listener struct {
		name, addr string
	}
	var want []listener
	if s.opts.Listen != "" {
		want = append(want, listener{"http", s.opts.Listen})
	}
	if s.opts.HTTPSListen != "" {
		want = append(want, listener{"https", s.opts.HTTPSListen})
	}
	var lc net.ListenConfig
	lns := make([]net.Listener, 0, len(want))
	eps := make([]Endpoint, 0, len(want))
	for _, l := range want {
		ln, err := lc.Listen(ctx, "tcp", l.addr)
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", l.addr, err)
		}
		lns = append(lns, ln)
		eps = append(eps, Endpoint{Name: l.name, URL: l.name + "://" + ln.Addr().String()})
	}
	s.started, s.lns = true, lns
	for i, ln := range lns {
		go func(https bool) {
			var err error
			if https {
				err = s.hs.ServeTLS(ln, "", "")
			} else {
				err = s.hs.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error(s.opts.Name+": serve", "addr", ln.Addr().String(), "error", err)
			}
		}(want[i].name == "https")
		s.log.Info(s.opts.Name+": serving", "url", eps[i].URL)
	}
	return eps, nil
}

// Addrs returns the addresses the Server listens on, HTTP first; nil before Start.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, 0, len(s.lns))
	for _, ln := range s.lns {
		out = append(out, ln.Addr())
	}
	return out
}

// Stop drains and stops the Server: from now on new requests are answered 503 (in the
// API's error shape, with Connection: close) while those in flight finish; then the
// listeners close and idle connections end. If ctx ends first, the connections left are
// closed and ctx's error is returned. It is idempotent, and a Server stopped before Start
// never starts.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		select {
		case <-s.done:
			return s.stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.draining = true
	started := s.started
	s.started = true
	s.mu.Unlock()
	defer close(s.done)
	if !started {
		return nil
	}
	idle := make(chan struct{})
	go func() { s.requests.Wait(); close(idle) }()
	var err error
	select {
	case <-idle:
		err = s.hs.Shutdown(ctx)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = s.hs.Close()
	}
	s.stopErr = err
	return err
}

// Serve starts the Server and serves until ctx ends, then stops it within
// Options.StopTimeout.
func (s *Server) Serve(ctx context.Context) error {
	if _, err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.StopTimeout)
	defer cancel()
	return s.Stop(sctx)
}

// enter registers a request; false once Stop began.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.requests.Add(1)
	return true
}
