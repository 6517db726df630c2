// Package admin is the recorder's admin HTTP API, for operators and their tools: health
// and readiness for load balancers and supervisors, the sessions, recordings and upload queue
// of one engine, stopping a session and masking an owner's or a display's recordings, and
// Prometheus metrics. `recorder run` serves it when the config's admin section enables it;
// a Go program that embeds the engine can serve it too (New with the *engine.Engine).
//
//	GET  /healthz                          → 200 {"status":"ok"}                            open
//	GET  /readyz                           → 200 | 503 {"status","checks":[…]}              open
//	                                         (engine, catalog, each display, plugins, spool)
//	GET  /api/v1/openapi.yaml              → 200 this API's OpenAPI 3 document              open
//	GET  /api/v1/sessions                  → 200 {"sessions":[…]} (not yet ended)           token
//	GET  /api/v1/recordings?state=&owner=  → 200 {"recordings":[…]} | 400 (bad state)       token
//	GET  /api/v1/recordings/{id}           → 200 session | 404                              token
//	GET  /api/v1/uploads?state=&recording_id= → 200 {"uploads":[…]} | 400                  token
//	POST /api/v1/sessions/{id}/stop        → 200 | 202 (still finalising) | 404 | 409       token
//	POST /api/v1/mask {"owner","display","on"} → 200 {"sessions":[…]} | 400 | 413          token
//	GET  /metrics                          → 200 Prometheus text | 404 (no metrics)         token
//
// "token" endpoints need "Authorization: Bearer <token>" (compared in constant time); a
// missing or wrong token is 401 with "WWW-Authenticate: Bearer". /healthz and /readyz are
// open because load balancers probe them without credentials and they reveal nothing but
// up/down (and, for /readyz, which part is down); the OpenAPI document is open because it is
// the published contract, the same as in the repository. Every error answer is JSON
// {"error": "<code>", "message": "…"} (see Error); 503 means the engine is closed.
//
// OpenAPI holds the contract (openapi.yaml, OpenAPI 3.0.3); the tests check every answer
// against it.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/httpkit"
	"github.com/screenrec/recorder/pkg/listenaddr"
)

// Defaults of Config fields left zero.
const (
	// DefaultStopTimeout bounds how long POST …/stop waits for the recording to be finalised
	// before answering 202 (the stop goes on).
	DefaultStopTimeout = 30 * time.Second
	// DefaultReadyTimeout bounds each readiness check.
	DefaultReadyTimeout = 2 * time.Second
	// MinTokenLength is the shortest token accepted, in bytes (config.MinAdminTokenLength
	// checks the same when the config is loaded).
	MinTokenLength = 16
	// MaxBodyBytes is the largest request body accepted (64 KiB); larger ones are 413.
	MaxBodyBytes = httpkit.MaxBody
)

// Config configures a Server.
type Config struct {
	// Listen is the address to serve on, host:port ("127.0.0.1:0": a free loopback port).
	// Required.
	Listen string
	// Token is the bearer token /api/v1/* and /metrics require; at least MinTokenLength
	// bytes. Required.
	Token string
	// StopTimeout bounds the wait of a stop for finalisation (default DefaultStopTimeout).
	StopTimeout time.Duration
	// ReadyTimeout bounds each readiness check (default DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// Logger receives the server's log lines (default slog.Default()).
	Logger *slog.Logger
}

// Engine is what the API needs of the engine; *engine.Engine implements it.
type Engine interface {
	// List returns the sessions matching the filter, oldest first.
	List(ctx context.Context, f api.ListFilter) ([]api.Session, error)
	// Get returns a session, running or ended; api.ErrNotFound if there is none.
	Get(ctx context.Context, id string) (api.Session, error)
	// Stop stops a session and waits for its files to be finalised.
	Stop(ctx context.Context, id string) (api.Session, error)
	// Mask masks or unmasks an owner's or a display's recordings and returns those affected.
	Mask(ctx context.Context, target api.MaskTarget, on bool) ([]api.Session, error)
	// Uploads returns the upload jobs matching the filter.
	Uploads(ctx context.Context, f api.UploadFilter) ([]api.UploadJob, error)
	// Ping reports whether the engine can take work (api.ErrClosed once closed).
	Ping(ctx context.Context) error
	// CheckCatalog reports whether the engine's catalog is healthy, the file on disk included.
	CheckCatalog(ctx context.Context) error
	// CheckDisplay reports whether an X display answers ("": the engine's default).
	CheckDisplay(ctx context.Context, display string) error
	// CheckSpace reports whether a start would find room (quota, free-space floor).
	CheckSpace(ctx context.Context) error
	// Thumbnail returns a JPEG of what track idx of a running session shows now (its mask
	// when masked), at most maxWidth wide.
	Thumbnail(ctx context.Context, id string, idx, maxWidth int) ([]byte, error)
	// RetryUpload puts a failed upload job back in the queue.
	RetryUpload(ctx context.Context, jobID int64) (api.UploadJob, error)
	// Counters returns the engine's running totals (frames, bytes, …).
	Counters(ctx context.Context) (api.Counters, error)
}

// Plugins tells whether the service's plugins are up; *host.Host implements it.
type Plugins interface {
	// Ready returns nil when every plugin is up, else an error naming one that is not.
	Ready() error
}

// Deps are what the server serves.
type Deps struct {
	// Engine is the engine the API shows and drives. Required unless Fleet is set: a fleet
	// controller serves the fleet view alone.
	Engine Engine
	// Fleet, when set, is served as the fleet view (/api/v1/fleet/…) and checked by /readyz.
	Fleet Fleet
	// Plugins, when set, is checked by /readyz; nil means no plugins to wait for.
	Plugins Plugins
	// SpoolDir is the engine's spool folder; /readyz checks that a file can be written
	// there. Required with Engine.
	SpoolDir string
	// Displays are the X displays the service records; /readyz checks that each answers.
	// Empty: the engine's default display ("" to Engine.CheckDisplay).
	Displays []string
	// Metrics serves GET /metrics (behind the token); nil answers 404: metrics are off.
	Metrics http.Handler
}

// Server is the admin API. New makes one; Start (or Serve) serves it; Shutdown stops it.
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	http *httpkit.Server
	// console are the web console's logins (console.go).
	console consoleSessions
}

// New checks cfg and deps and returns a server that is not serving yet; it has no side
// effects. Errors wrap ErrConfig and name the field.
func New(cfg Config, deps Deps) (*Server, error) {
	bad := func(field, format string, args ...any) (*Server, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if err := listenaddr.Validate(cfg.Listen); err != nil {
		return bad("listen", "%v", err)
	}
	if len(cfg.Token) < MinTokenLength {
		return bad("token", "%d bytes: at least %d required", len(cfg.Token), MinTokenLength)
	}
	if cfg.StopTimeout < 0 || cfg.ReadyTimeout < 0 {
		return bad("timeouts", "negative")
	}
	if deps.Engine == nil && deps.Fleet == nil {
		return bad("engine", "required (or a fleet to show)")
	}
	if deps.Engine != nil && deps.SpoolDir == "" {
		return bad("spool_dir", "required")
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, deps: deps, log: cfg.Logger}
	s.http = httpkit.New(httpkit.Options{
		Name: "admin", Listen: cfg.Listen, ErrorBody: answerBody, MaxBody: MaxBodyBytes,
		// A stop waits up to StopTimeout, then asks where the session is (ReadyTimeout).
		HandlerTimeout: func() time.Duration { return cfg.StopTimeout + cfg.ReadyTimeout },
		StopTimeout:    ShutdownTimeout,
		Log:            cfg.Logger,
		Headers: func(h http.Header, _ *http.Request) {
			h.Set("Content-Security-Policy", ContentSecurityPolicy)
			h.Set("Referrer-Policy", "no-referrer")
		},
	})
	s.routes(s.http.Echo())
	return s, nil
}

// Handler returns the API as an http.Handler, for a caller that serves it itself.
func (s *Server) Handler() http.Handler { return s.http.Handler() }

// Start listens on Config.Listen and serves in the background until Shutdown. A server
// starts once: a second Start is ErrStarted.
func (s *Server) Start(ctx context.Context) error {
	if _, err := s.http.Start(ctx); err != nil {
		if errors.Is(err, httpkit.ErrStarted) {
			return ErrStarted
		}
		return fmt.Errorf("admin API: %w", err)
	}
	return nil
}

// Addr is the address the server listens on (with the port chosen for ":0"), or "" before
// Start.
func (s *Server) Addr() string {
	if as := s.http.Addrs(); len(as) > 0 {
		return as[0].String()
	}
	return ""
}

// Shutdown stops the server: new requests are answered 503 while those in flight (a stop
// waiting for finalisation among them) finish, until ctx ends; then the listener closes and
// what is left is closed. It is idempotent, and a server shut down before Start never starts.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.http.Stop(ctx); err != nil {
		return fmt.Errorf("admin API: shutdown: %w", err)
	}
	return nil
}

// ShutdownTimeout bounds Serve's Shutdown once its context ends; New reads it.
var ShutdownTimeout = 5 * time.Second

// Serve is Start, then Shutdown (within ShutdownTimeout) once ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.http.Serve(ctx); err != nil {
		if errors.Is(err, httpkit.ErrStarted) {
			return ErrStarted
		}
		return fmt.Errorf("admin API: %w", err)
	}
	return nil
}
