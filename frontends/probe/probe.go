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
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/httpkit"
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
	Listen string `json:"listen" cfg:"listen" desc:"loopback host:port to serve the test API on"`
}

func defaultConfig() Config { return Config{Listen: DefaultListen} }

// Probe is the front end.
type Probe struct {
	mu      sync.Mutex
	cfg     *Config
	srv     *httpkit.Server
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
	return sdkconfig.Schema(defaultConfig()), nil
}

// Configure checks and applies the config.
func (p *Probe) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := defaultConfig()
	var d sdkconfig.Decoder
	if !d.Decode(raw, &cfg) {
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
	srv := httpkit.New(httpkit.Options{Name: Name, Listen: p.cfg.Listen, ErrorBody: errBody})
	routes(srv.Echo(), eng)
	eps, err := srv.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	p.srv = srv
	return []sdk.Endpoint{{Name: "api", URL: eps[0].URL}}, nil
}

// Stop drains and stops serving; it is idempotent.
func (p *Probe) Stop(ctx context.Context) error {
	p.mu.Lock()
	srv := p.srv
	p.stopped = true
	p.srv = nil
	p.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Stop(ctx)
}

func routes(e *echo.Echo, eng sdk.Engine) {
	e.POST("/sessions", func(c echo.Context) error {
		var req api.StartRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		s, err := eng.Start(c.Request().Context(), req)
		return answer(c, http.StatusCreated, s, err)
	})
	e.POST("/sessions/:id/stop", func(c echo.Context) error {
		s, err := eng.Stop(c.Request().Context(), c.Param("id"))
		return answer(c, http.StatusOK, s, err)
	})
	e.GET("/sessions/:id", func(c echo.Context) error {
		s, err := eng.Get(c.Request().Context(), c.Param("id"))
		return answer(c, http.StatusOK, s, err)
	})
	e.GET("/sessions", func(c echo.Context) error {
		s, err := eng.List(c.Request().Context(), api.ListFilter{Owner: c.QueryParam("owner")})
		return answer(c, http.StatusOK, s, err)
	})
	e.POST("/mask", func(c echo.Context) error {
		var req struct {
			api.MaskTarget
			On bool `json:"on"`
		}
		if err := decode(c, &req); err != nil {
			return err
		}
		s, err := eng.Mask(c.Request().Context(), req.MaskTarget, req.On)
		return answer(c, http.StatusOK, s, err)
	})
	e.GET("/pid", func(c echo.Context) error {
		return httpkit.WriteJSON(c, http.StatusOK, map[string]int{"pid": os.Getpid()})
	})
	e.GET("/latency/get/:id", func(c echo.Context) error {
		n, err := strconv.Atoi(c.QueryParam("n"))
		if err != nil || n < 1 || n > 100000 {
			return httpkit.Errorf(http.StatusBadRequest, "n must be 1-100000")
		}
		took := make([]time.Duration, n)
		for i := range took {
			t0 := time.Now()
			if _, err := eng.Get(c.Request().Context(), c.Param("id")); err != nil {
				return answer(c, 0, nil, err)
			}
			took[i] = time.Since(t0)
		}
		slices.Sort(took)
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
		return httpkit.WriteJSON(c, http.StatusOK, map[string]any{"n": n, "median_us": us(took[n/2]), "p99_us": us(took[n*99/100])})
	})
}

// decode reads the JSON request body into v; a bad one is a 400.
func decode(c echo.Context, v any) error {
	b, err := httpkit.ReadBody(c.Request())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return httpkit.Errorf(http.StatusBadRequest, "%v", err)
	}
	return nil
}

// answer replies with v, or with the error mapped to a status.
func answer(c echo.Context, ok int, v any, err error) error {
	if err == nil {
		return httpkit.WriteJSON(c, ok, v)
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
	return httpkit.Errorf(status, "%v", err)
}

// errBody is the JSON of every error answer: {"error": "..."}.
func errBody(e *httpkit.Error) any { return map[string]string{"error": e.Message} }
