package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/frontends/admin"
	"github.com/screenrec/recorder/pkg/config"
	"github.com/screenrec/recorder/plugins/host"
)

// adminServer is the admin API (frontends/admin) of `recorder run` and `recorder controller`,
// as the config's admin section asks for it: checked (token resolved) before anything starts,
// started once what it shows is up, stopped first on shutdown.
type adminServer struct {
	cfg      *admin.Config // nil: admin is disabled
	displays []string      // what /readyz checks answer
	srv      *admin.Server // once started
}

// newAdminServer checks the admin section; a token that cannot be resolved is an error
// naming admin.token.
func newAdminServer(cfg *config.Config) (*adminServer, error) {
	if !cfg.Admin.Enabled {
		return &adminServer{}, nil
	}
	token, err := cfg.AdminToken(nil)
	if err != nil {
		return nil, err
	}
	return &adminServer{cfg: &admin.Config{Listen: cfg.Admin.Listen, Token: token}, displays: serviceDisplays(cfg)}, nil
}

// serviceDisplays are the X displays the service records, for /readyz to check: the
// top-level display setting, else $DISPLAY (when set), then each display an adapter's config
// section names (its "display" key), without repeats. None: the engine's default, which
// /readyz reports as failed (the service cannot record).
func serviceDisplays(cfg *config.Config) []string {
	var out []string
	add := func(d string) {
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if cfg.Display != "" {
		add(cfg.Display)
	} else {
		add(os.Getenv("DISPLAY"))
	}
	for _, list := range [][]config.Adapter{cfg.Frontends, cfg.Uploaders} {
		for _, a := range list {
			if d, ok := a.Config["display"].(string); ok {
				add(d)
			}
		}
	}
	return out
}

// start serves the API over eng and h (whose Ready /readyz checks); metrics serves /metrics
// (nil: 404, telemetry is off). It returns the address it listens on ("" when disabled).
func (a *adminServer) start(ctx context.Context, eng *engine.Engine, h *host.Host, spool string, metrics http.Handler) (string, error) {
	return a.serve(ctx, admin.Deps{Engine: eng, Plugins: h, SpoolDir: spool, Metrics: metrics, Displays: a.displays})
}

// startFleet serves a fleet controller's API: the probes and the fleet view.
func (a *adminServer) startFleet(ctx context.Context, f admin.Fleet) (string, error) {
	return a.serve(ctx, admin.Deps{Fleet: f})
}

func (a *adminServer) serve(ctx context.Context, deps admin.Deps) (string, error) {
	if a.cfg == nil {
		return "", nil
	}
	srv, err := admin.New(*a.cfg, deps)
	if err != nil {
		return "", fmt.Errorf("admin: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return "", err
	}
	a.srv = srv
	return srv.Addr(), nil
}

// stop stops the API (requests in flight finish within ctx); a no-op if it never started.
func (a *adminServer) stop(ctx context.Context) error {
	if a.srv == nil {
		return nil
	}
	return a.srv.Shutdown(ctx)
}
