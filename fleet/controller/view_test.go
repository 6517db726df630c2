package controller_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/screenrec/recorder/fleet/controller"
	"github.com/screenrec/recorder/pkg/fleet"
)

// The fleet view's readiness follows the fleet's state: Ping holds while NATS and JetStream
// answer, and fails with ErrStateUnavailable (the admin API's /readyz: not ready) once the
// server is gone; Machines then fails the same way rather than answering an empty fleet.
func TestPingFollowsTheFleetState(t *testing.T) {
	t.Parallel()
	srv := startServer(t, controller.ServerConfig{})
	c := openController(t, srv.ClientURL(), controller.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping with the server up: %v", err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	waitFor(t, "ping to fail", 30*time.Second, func() (bool, string) {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		err := c.Ping(pctx)
		return errors.Is(err, fleet.ErrStateUnavailable), "ping: " + errString(err)
	})
	mctx, mcancel := context.WithTimeout(ctx, 2*time.Second)
	defer mcancel()
	if ms, err := c.Machines(mctx); !errors.Is(err, fleet.ErrStateUnavailable) {
		t.Errorf("machines with the server gone: %v, %v (want ErrStateUnavailable)", ms, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
