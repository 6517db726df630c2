package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenrec/recorder/pkg/fleet"
)

// The fleet view: what the admin API (frontends/admin, Deps.Fleet) shows operators of the
// fleet. Machines and Recordings are in engine.go beside the index they read.

// Sessions lists the index's recordings that have not ended, across the fleet. It reads the
// whole index (one KV read per recording ever indexed), so it is an operator's view, not a
// path for every call.
func (c *Controller) Sessions(ctx context.Context) ([]Record, error) {
	lister, err := c.recordings.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: index: %w", fleet.ErrStateUnavailable, err)
	}
	var out []Record
	for key := range lister.Keys() {
		e, err := c.recordings.Get(ctx, key)
		if err != nil {
			continue // deleted since listed
		}
		var r Record
		if json.Unmarshal(e.Value(), &r) == nil && !r.Session.State.Terminal() {
			out = append(out, r)
		}
	}
	return out, ctx.Err()
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
