// Package cloud is the cloud start/stop front end: the NICE CXone-compatible "Screen
// Interaction Recording" API (docs/api/cloud.md) that starts a user's screen
// recording on demand for a fixed duration and stops it early, with its access-key token
// endpoint. It is an sdk.Frontend named "cloud", built on echo, and needs only the engine API
// (engine/api through sdk.Engine), so it builds without cgo and runs in-process or as a
// plugin process alike.
//
//	POST /authentication/v1/token/access-key                   {"accessKeyId","accessKeySecret"}
//	     → 200 {"access_token","token_type":"Bearer","expires_in"} | 400 | 401 | 413
//	POST /interaction-recording-management-service[/v1]/interactions/start-screen-interaction-recording
//	     ?userId=|user-id=&recordingDuration=5..13200
//	     → 200 {"description","contactId","interactionId","httpStatus":"OK"} (first frame within
//	       confirm_window, or already recording through this API)
//	     | 202 {"contactId","interactionId","httpStatus":"ACCEPTED"} | 400 | 401 | 403 | 404 | 413 | 425 | 500 | 504
//	POST /interaction-recording-management-service[/v1]/interactions/stop-screen-interaction-recording
//	     ?userId=|user-id=&contactId=N
//	     → 200 {"description","contactId","httpStatus":"OK"} (finalised within confirm_window)
//	     | 202 {"contactId","httpStatus":"ACCEPTED"} | 400 | 401 | 403 | 404 | 413 | 425 | 500 | 504
//
// Errors are {"httpStatus": "<REASON>", "description": "..."}. OpenAPI holds the contract as
// an OpenAPI 3.0.3 document.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/screenrec/recorder/frontends/httpkit"
	"github.com/screenrec/recorder/plugins/sdk"
)

// Name is the plugin's name, and the Frontend of the sessions it starts.
const Name = "cloud"

// Version is the plugin's version.
const Version = "1.0.0"

// Cloud is the front end. The zero value is not usable; call New.
type Cloud struct {
	st atomic.Pointer[settings] // the config in force; nil until Configure succeeds

	mu      sync.Mutex
	srv     *httpkit.Server // while serving
	stopped bool

	locks userLocks
	bg    inflight // engine calls that outlive their request (stops finishing)

	dir Directory // where users are and their locks, for a front end serving a fleet; nil: the config's users
}

// Directory finds users and holds their start/stop locks for a front end that serves many
// machines at once (the fleet controller, which finds users where they are present and locks
// them across its replicas). The front end New returns uses its users config and locks in its
// own process instead.
type Directory interface {
	// Locate returns the display user is recorded on; an error wrapping api.ErrNotFound is
	// answered 404, one wrapping context.DeadlineExceeded 504.
	Locate(ctx context.Context, user string) (display string, err error)
	// Lock takes user's start/stop lock and returns its release; an error wrapping
	// api.ErrBusy (held elsewhere) is answered 425.
	Lock(ctx context.Context, user string) (unlock func(), err error)
}

var _ sdk.Frontend = (*Cloud)(nil)

// New returns an unconfigured front end; it has no side effects.
func New() *Cloud { return &Cloud{} }

// NewWithDirectory returns an unconfigured front end that asks dir where users are and for
// their locks: its config takes no users.
func NewWithDirectory(dir Directory) *Cloud { return &Cloud{dir: dir} }

// Info identifies the plugin.
func (c *Cloud) Info(ctx context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindFrontend, Version: Version}, nil
}

// ConfigSchema describes the config section.
func (c *Cloud) ConfigSchema(ctx context.Context) (sdk.Schema, error) {
	out := sdk.Schema{Fields: append([]sdk.Field(nil), schema.Fields...)}
	return out, nil
}

// Configure checks and applies the config. While serving, a new config applies to the next
// requests (users, keys, timings, certificate); the listen addresses stay as they were until
// the front end is restarted, which a warning says.
func (c *Cloud) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, diags := loadSettingsFor(raw, c.dir != nil)
	if st == nil {
		return diags, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.st.Load(); old != nil && c.srv != nil {
		if st.cfg.Listen != old.cfg.Listen {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: "listen",
				Summary: "listen unchanged until restart", Detail: "still serving on " + old.cfg.Listen})
		}
		if st.cfg.HTTPSListen != old.cfg.HTTPSListen {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: "https_listen",
				Summary: "https_listen unchanged until restart", Detail: fmt.Sprintf("still serving HTTPS on %q", old.cfg.HTTPSListen)})
		}
	}
	c.st.Store(st)
	return diags, nil
}

// Serve starts serving with eng and returns the endpoints: "http" and, when
// configured, "https".
func (c *Cloud) Serve(ctx context.Context, eng sdk.Engine) ([]sdk.Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st.Load()
	switch {
	case c.stopped:
		return nil, fmt.Errorf("cloud: serve: %w", sdk.ErrStopped)
	case st == nil:
		return nil, fmt.Errorf("cloud: serve: %w", sdk.ErrNotConfigured)
	case c.srv != nil:
		return nil, errors.New("cloud: serve: already serving")
	case eng == nil:
		return nil, errors.New("cloud: serve: no engine")
	}
	srv := newHTTP(c, eng, st)
	started, err := srv.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	eps := make([]sdk.Endpoint, 0, len(started))
	for _, ep := range started {
		eps = append(eps, sdk.Endpoint(ep))
	}
	c.srv = srv
	return eps, nil
}

// Stop stops accepting requests and returns once those in flight (and stops still finishing
// in the background, each bounded by engine_timeout) are done or ctx ends. Until those in
// flight are done, new requests are answered 503. Recordings are
// not stopped: they end at their duration or by a stop through another way. It is idempotent.
func (c *Cloud) Stop(ctx context.Context) error {
	c.mu.Lock()
	srv := c.srv
	c.srv, c.stopped = nil, true
	c.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Stop(ctx)
	if werr := c.bg.wait(ctx); err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("cloud: stop: %w", err)
	}
	return nil
}

// inflight counts calls that outlive their request. Unlike a sync.WaitGroup, calls may
// start while someone waits (a Stop whose Shutdown gave up on handlers still running).
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops back to 0; nil while n is 0
}

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.zero = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n--; f.n == 0 {
		close(f.zero)
		f.zero = nil
	}
}

// wait returns once the calls running now are done, or ctx's error.
func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	zero := f.zero
	f.mu.Unlock()
	if zero == nil {
		return nil
	}
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settings returns the config in force.
func (c *Cloud) settings() *settings { return c.st.Load() }
