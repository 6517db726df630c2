// Package probe is a minimal front end for tests and demos, NOT a product API: it exposes the
// engine API as plain JSON over HTTP on a loopback address so that tests (and `make run`) can
// drive the engine through the plugin SDK exactly as a real front end would.
//
//	POST /sessions            body: api.StartRequest    → 201 api.Session
//	POST /sessions/{id}/stop                               → 200 api.Session
//	GET  /sessions/{id}                                    → 200 api.Session
//	GET  /sessions                                         → 200 [api.Session]
//	POST /mask                body: {"owner","display","on"} → 200 [api.Session]
//	GET  /pid                                              → 200 {"pid": N}
//	GET  /latency/get/{id}?n=N  (N calls of Get, timed here)  → 200 {"median_us", "p99_us", "n"} (fractional µs)
package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/pkg/listenaddr"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Name is the plugin's name.
const Name = "probe"

// Version is the plugin's version.
const Version = "0.1.0-test"

// DefaultListen is where it listens when not configured: a free loopback port.
const DefaultListen = "127.0.0.1:0"

// Config is the plugin's config section.
type Config struct {
	// Listen is the loopback address to serve on.
	Listen string `json:"listen"`
}

// Probe is the front end.
type Probe struct {
	mu      sync.Mutex
	cfg     *Config
	srv     *http.Server
	stopped bool
}

var _ sdk.Frontend = (*Probe)(nil)

// New returns an unconfigured probe.
func New() *Probe { return &Probe{} }

// Info identifies the plugin.
func (p *Probe) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindFrontend, Version: Version}, nil
}

// ConfigSchema describes the config section.
func (p *Probe) ConfigSchema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{Fields: []sdk.Field{{Name: "listen", Type: "string", Default: DefaultListen,
		Description: "loopback host:port to serve the test API on"}}}, nil
}

// Configure checks and applies the config.
func (p *Probe) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := Config{Listen: DefaultListen}
	var d sdkconfig.Decoder
	m := d.Section(raw, []string{"listen"})
	d.Str("listen", m["listen"], &cfg.Listen)
	if d.Failed() {
		return d.Diags, nil
	}
	if err := listenaddr.Validate(cfg.Listen); err != nil {
		return []sdk.Diagnostic{{Severity: sdk.SeverityError, Field: "listen", Summary: "bad listen address", Detail: err.Error()}}, nil
	}
	p.mu.Lock()
	p.cfg = &cfg
	p.mu.Unlock()
	return nil, nil
}

// Serve starts the HTTP API.
func (p *Probe) Serve(ctx context.Context, eng sdk.Engine) ([]sdk.Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.stopped:
		return nil, sdk.ErrStopped
	case p.cfg == nil:
		return nil, sdk.ErrNotConfigured
	case p.srv != nil:
		return nil, fmt.Errorf("probe: already serving")
	}
	ln, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("probe: listen %s: %w", p.cfg.Listen, err)
	}
	p.srv = &http.Server{Handler: routes(eng), ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(ln)
	return []sdk.Endpoint{{Name: "api", URL: "http://" + ln.Addr().String()}}, nil
}

// Stop stops serving; it is idempotent.
func (p *Probe) Stop(ctx context.Context) error {
	p.mu.Lock()
	srv := p.srv
	p.stopped = true
	p.srv = nil
	p.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

func routes(eng sdk.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sessions", func(w http.ResponseWriter, r *http.Request) {
		var req api.StartRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, http.StatusBadRequest, errBody(err))
			return
		}
		s, err := eng.Start(r.Context(), req)
		answer(w, http.StatusCreated, s, err)
	})
	mux.HandleFunc("POST /sessions/{id}/stop", func(w http.ResponseWriter, r *http.Request) {
		s, err := eng.Stop(r.Context(), r.PathValue("id"))
		answer(w, http.StatusOK, s, err)
	})
	mux.HandleFunc("GET /sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		s, err := eng.Get(r.Context(), r.PathValue("id"))
		answer(w, http.StatusOK, s, err)
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		s, err := eng.List(r.Context(), api.ListFilter{Owner: r.URL.Query().Get("owner")})
		answer(w, http.StatusOK, s, err)
	})
	mux.HandleFunc("POST /mask", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			api.MaskTarget
			On bool `json:"on"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, http.StatusBadRequest, errBody(err))
			return
		}
		s, err := eng.Mask(r.Context(), req.MaskTarget, req.On)
		answer(w, http.StatusOK, s, err)
	})
	mux.HandleFunc("GET /pid", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]int{"pid": os.Getpid()})
	})
	mux.HandleFunc("GET /latency/get/{id}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 || n > 100000 {
			reply(w, http.StatusBadRequest, errBody(fmt.Errorf("n must be 1-100000")))
			return
		}
		took := make([]time.Duration, n)
		for i := range took {
			t0 := time.Now()
			if _, err := eng.Get(r.Context(), r.PathValue("id")); err != nil {
				answer(w, 0, nil, err)
				return
			}
			took[i] = time.Since(t0)
		}
		slices.Sort(took)
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
		reply(w, http.StatusOK, map[string]any{"n": n, "median_us": us(took[n/2]), "p99_us": us(took[n*99/100])})
	})
	return mux
}

// answer replies with v, or with the error mapped to a status.
func answer(w http.ResponseWriter, ok int, v any, err error) {
	if err == nil {
		reply(w, ok, v)
		return
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, api.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, api.ErrBusy), errors.Is(err, api.ErrAlreadyRecording), errors.Is(err, api.ErrTerminal):
		status = http.StatusConflict
	case errors.Is(err, api.ErrInvalidRequest):
		status = http.StatusBadRequest
	case errors.Is(err, api.ErrTooManySessions), errors.Is(err, api.ErrSpoolQuota), errors.Is(err, api.ErrDiskFull):
		status = http.StatusServiceUnavailable
	}
	reply(w, status, errBody(err))
}

func errBody(err error) map[string]string { return map[string]string{"error": err.Error()} }

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
