package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// `recorder run` as a systemd Type=notify service (packaging/recorder.service): READY=1 once
// the engine, the plugins and the listeners are up, STOPPING=1 when shutdown begins, and
// WATCHDOG=1 while the engine answers its health checks, so that systemd restarts a hung
// engine. Outside systemd (no NOTIFY_SOCKET) nothing is sent.

// healthChecks are the engine's health checks (engine/health.go) the watchdog runs.
type healthChecks interface {
	CheckCatalog(ctx context.Context) error
	CheckDisplay(ctx context.Context, display string) error
	CheckSpace(ctx context.Context) error
}

// sdNotify sends state to systemd's notify socket; nothing without NOTIFY_SOCKET. A failure
// is logged: the service works without systemd hearing of it (only a watchdog would notice).
func sdNotify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		slog.Warn("systemd notify failed", "state", state, "err", err)
	}
}

// notifyReady tells systemd that the service serves, with status as its status line.
func notifyReady(status string) { sdNotify(daemon.SdNotifyReady + "\nSTATUS=" + status) }

// notifyStopping tells systemd that shutdown has begun (finalising can take a while).
func notifyStopping() {
	sdNotify(daemon.SdNotifyStopping + "\nSTATUS=stopping: finalising recordings")
}

// runWatchdog pets systemd's watchdog (WATCHDOG=1) every half of WATCHDOG_USEC while the
// engine is healthy, until ctx ends; it returns at once when the unit has no watchdog.
// Healthy means each check answers within the period and the catalog is sound: an engine
// whose catalog calls hang, or whose catalog is damaged, misses the pets and systemd restarts
// it. A display that does not answer or a full spool is logged but still petted: a restart
// cannot fix either, would end the recordings still running, and /readyz reports both.
func runWatchdog(ctx context.Context, eng healthChecks, displays []string) {
	usec, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		slog.Warn("systemd watchdog: bad WATCHDOG_USEC; not petting it", "err", err)
		return
	}
	if usec <= 0 {
		return
	}
	period := usec / 2
	tick := time.NewTicker(period)
	defer tick.Stop()
	var lastProblem string // logged once per change, not every period
	for {
		err := watchdogCheck(ctx, eng, displays, period)
		if ctx.Err() != nil {
			return // shutting down: systemd stops watching after STOPPING=1
		}
		if err == nil || !errors.Is(err, errUnhealthy) {
			sdNotify(daemon.SdNotifyWatchdog)
		}
		if problem := errString(err); problem != lastProblem {
			switch {
			case errors.Is(err, errUnhealthy):
				slog.Error("systemd watchdog: engine unhealthy, not petting the watchdog", "err", err)
			case err != nil:
				slog.Warn("systemd watchdog: health check failed", "err", err)
			default:
				slog.Info("systemd watchdog: engine healthy again")
			}
			lastProblem = problem
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// errUnhealthy marks a watchdog check that must withhold the pet.
var errUnhealthy = errors.New("engine unhealthy")

// watchdogCheck runs the engine's checks within timeout: errUnhealthy (wrapped with the
// cause) when one does not answer in time or the catalog fails; the other checks' errors
// as they are.
func watchdogCheck(ctx context.Context, eng healthChecks, displays []string, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		if err := eng.CheckCatalog(cctx); err != nil {
			done <- errors.Join(errUnhealthy, err)
			return
		}
		var errs []error
		for _, d := range displays {
			errs = append(errs, eng.CheckDisplay(cctx, d))
		}
		errs = append(errs, eng.CheckSpace(cctx))
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		if cctx.Err() != nil && ctx.Err() == nil {
			// A check gave up on the deadline: it did not answer in time.
			return errors.Join(errUnhealthy, err)
		}
		return err
	case <-cctx.Done():
		// A check that ignores its context is as hung as one that never returns.
		return errors.Join(errUnhealthy, cctx.Err())
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
