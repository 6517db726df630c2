package controller

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/pkg/fleet"
)

// The fleet view: what the admin API (frontends/admin, Deps.Fleet) shows operators of the
// fleet. Machines and Recordings are in engine.go beside the index they read.

// Sessions lists the index's recordings that have not ended, across the fleet. It reads the
// whole index (one KV read per recording ever indexed), so it is an operator's view, not a
// path for every call.
func (c *Controller) Sessions(ctx context.Context) ([]Record, error) {
	return c.indexed(ctx, func(r Record) bool { return !r.Session.State.Terminal() })
}

// Ping reports whether the controller can serve: connected to NATS, and JetStream answers
// for the fleet's state.
func (c *Controller) Ping(ctx context.Context) error {
	if s := c.nc.Status(); s != nats.CONNECTED {
		return fmt.Errorf("%w: NATS connection %s", fleet.ErrStateUnavailable, s)
	}
	if _, err := c.machines.Status(ctx); err != nil {
		return fmt.Errorf("%w: JetStream: %w", fleet.ErrStateUnavailable, err)
	}
	return nil
}
