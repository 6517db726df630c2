// Package fleet is the `fleet` front end: it puts this machine's recorder into a fleet run by
// `recorder controller`. It connects out to NATS (desktops sit behind NAT; nothing connects
// in), announces the machine and the users present on it with every heartbeat, serves the
// controller's start, stop, mask, get and list requests by calling the engine, and publishes
// the engine's session events. The protocol is package pkg/fleet (docs/api/fleet.md).
//
// Losing NATS never stops a recording: the engine goes on, the client reconnects for ever
// and the next heartbeat restores the presence. It needs only engine/api through sdk.Engine,
// so it builds without cgo and runs in-process or as a plugin process alike.
package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/plugins/sdk"
)

// Name is the plugin's name.
const Name = "fleet"

// Version is the plugin's version.
const Version = "0.1.0"

// defaultRequestTimeout bounds an engine call whose request names no timeout.
const defaultRequestTimeout = 10 * time.Second

// Fleet is the front end. The zero value is not usable; call New.
type Fleet struct {
	mu      sync.Mutex
	cfg     *Config
	run     *agent
	stopped bool
}

var _ sdk.Frontend = (*Fleet)(nil)

// New returns an unconfigured front end.
func New() *Fleet { return &Fleet{} }

// Info identifies the plugin.
func (f *Fleet) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindFrontend, Version: Version}, nil
}

// ConfigSchema describes the config section.
func (f *Fleet) ConfigSchema(context.Context) (sdk.Schema, error) { return schema, nil }

// Configure checks and applies the config. While serving, a new config's static users apply
// at the next heartbeat; the connection settings need a restart, which a warning says.
func (f *Fleet) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, diags := loadConfig(raw)
	if cfg == nil {
		return diags, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.run != nil {
		if cfg.Machine != f.cfg.Machine || !slices.Equal(cfg.URLs, f.cfg.URLs) {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: "urls",
				Summary: "connection unchanged until restart", Detail: "still connected as " + f.cfg.Machine})
		}
		f.run.setUsers(cfg.Users)
	}
	f.cfg = cfg
	return diags, nil
}

// Serve connects to NATS and starts serving the controller's requests. It returns at once
// even when NATS cannot be reached yet: the agent keeps trying, and recordings do not depend
// on it. The endpoint is the machine's subject root.
func (f *Fleet) Serve(ctx context.Context, eng sdk.Engine) ([]sdk.Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.stopped:
		return nil, fmt.Errorf("fleet: serve: %w", sdk.ErrStopped)
	case f.cfg == nil:
		return nil, fmt.Errorf("fleet: serve: %w", sdk.ErrNotConfigured)
	case f.run != nil:
		return nil, errors.New("fleet: serve: already serving")
	case eng == nil:
		return nil, errors.New("fleet: serve: no engine")
	}
	a, err := startAgent(*f.cfg, eng)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	f.run = a
	return []sdk.Endpoint{{Name: "nats", URL: "nats-subject:" + fleet.MachineSubject(f.cfg.Machine)}}, nil
}

// Stop says goodbye to the controller, drains the connection and returns; recordings are not
// stopped. It is idempotent.
func (f *Fleet) Stop(ctx context.Context) error {
	f.mu.Lock()
	a := f.run
	f.run, f.stopped = nil, true
	f.mu.Unlock()
	if a == nil {
		return nil
	}
	return a.stop(ctx)
}

// agent is a serving front end: one NATS connection and its goroutines.
type agent struct {
	cfg     Config
	eng     sdk.Engine
	nc      *nats.Conn
	log     *slog.Logger
	started time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // a heartbeat now (reconnected, presence changed)

	mu     sync.Mutex
	users  []fleet.Presence // configured
	logins []fleet.Presence // SRS logins: the owners of the machine's running srs sessions
	rev    int64
}

// SRSFrontend is the front end whose sessions are logins: the srs front end records an agent
// from login to logout, so the owner of a running srs session is logged in on this machine.
const SRSFrontend = "srs"

func startAgent(cfg Config, eng sdk.Engine) (*agent, error) {
	a := &agent{cfg: cfg, eng: eng, started: time.Now(), kick: make(chan struct{}, 1),
		log: slog.Default().With("frontend", Name, "machine", cfg.Machine)}
	a.setUsers(cfg.Users)
	opts, err := a.natsOptions()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.URL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %v: %w", cfg.URLs, err)
	}
	a.nc = nc
	a.ctx, a.cancel = context.WithCancel(context.Background())
	// Subscriptions survive reconnects (the client re-sends them), so they are made once.
	if _, err := nc.Subscribe(fleet.MachineSubject(cfg.Machine)+".rpc.*", a.serveRequest); err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	events, err := eng.Events(a.ctx)
	if err != nil {
		nc.Close()
		a.cancel()
		return nil, fmt.Errorf("engine events: %w", err)
	}
	a.wg.Add(2)
	go a.heartbeats()
	go a.forward(events)
	return a, nil
}

func (a *agent) natsOptions() ([]nats.Option, error) {
	opts, err := a.cfg.Options("recorder fleet agent")
	if err != nil {
		return nil, err
	}
	return append(opts,
		nats.ConnectHandler(func(*nats.Conn) { a.log.Info("fleet: connected to NATS"); a.heartbeatNow() }),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			a.log.Info("fleet: reconnected to NATS", "url", nc.ConnectedUrlRedacted())
			a.heartbeatNow()
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			a.log.Warn("fleet: NATS connection lost; recordings go on", "err", err)
		}),
	), nil
}

// setUsers sets the static presence.
func (a *agent) setUsers(users []User) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ps []fleet.Presence
	for _, u := range users {
		ps = append(ps, fleet.Presence{User: u.ID, Display: u.Display, Since: a.started, Source: "static"})
	}
	if !slices.EqualFunc(ps, a.users, func(x, y fleet.Presence) bool { return x == y }) {
		a.users = ps
		a.rev++
		a.heartbeatNow()
	}
}

// presence is everyone present: the configured users, then the SRS logins of other users.
func (a *agent) presence() ([]fleet.Presence, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.presentLocked(), a.rev
}

func (a *agent) presentLocked() []fleet.Presence {
	out := slices.Clone(a.users)
	for _, p := range a.logins {
		if !slices.ContainsFunc(out, func(q fleet.Presence) bool { return q.User == p.User }) {
			out = append(out, p)
		}
	}
	return out
}

// setLogins sets the SRS logins from the machine's running sessions.
func (a *agent) setLogins(running []api.Session) {
	var logins []fleet.Presence
	for _, s := range running {
		if s.Frontend == SRSFrontend && !slices.ContainsFunc(logins, func(p fleet.Presence) bool { return p.User == s.Owner }) {
			logins = append(logins, fleet.Presence{User: s.Owner, Display: s.Source.Display, Since: s.CreatedAt.UTC(), Source: "srs"})
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.EqualFunc(logins, a.logins, func(x, y fleet.Presence) bool { return x == y }) {
		a.logins = logins
		a.rev++
	}
}

// present returns the presence of user on this machine.
func (a *agent) present(user string) (fleet.Presence, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.presentLocked() {
		if p.User == user {
			return p, true
		}
	}
	return fleet.Presence{}, false
}

func (a *agent) heartbeatNow() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// heartbeats sends a heartbeat every interval and when kicked.
func (a *agent) heartbeats() {
	defer a.wg.Done()
	t := time.NewTicker(a.cfg.Heartbeat)
	defer t.Stop()
	var seq int64
	for {
		seq++
		a.sendHeartbeat(seq)
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
		}
	}
}

func (a *agent) sendHeartbeat(seq int64) {
	if !a.nc.IsConnected() {
		return // a heartbeat buffered through an outage would arrive stale; the reconnect kicks one
	}
	running := 0
	ctx, cancel := context.WithTimeout(a.ctx, a.cfg.Heartbeat)
	if list, err := a.eng.List(ctx, api.ListFilter{States: []api.State{api.StateStarting, api.StateRecording, api.StateMasked, api.StateStopping, api.StateFinalizing}}); err == nil {
		running = len(list)
		a.setLogins(list)
	}
	cancel()
	users, rev := a.presence()
	hb := fleet.Heartbeat{Version: fleet.Version, Machine: a.cfg.Machine, Seq: seq, PresenceRev: rev, Users: users,
		Sessions: running, Started: a.started, Interval: a.cfg.Heartbeat, Agent: Version, Sent: time.Now()}
	if users == nil {
		hb.Users = []fleet.Presence{}
	}
	a.publish(fleet.HeartbeatSubject(a.cfg.Machine), hb)
}

func (a *agent) publish(subject string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.log.Error("fleet: encode", "subject", subject, "err", err)
		return
	}
	if err := a.nc.Publish(subject, b); err != nil {
		a.log.Debug("fleet: publish", "subject", subject, "err", err)
	}
}

// forward publishes the engine's session events, each with its session as it is now.
func (a *agent) forward(events <-chan api.Event) {
	defer a.wg.Done()
	for ev := range events {
		switch ev.Kind {
		case api.EventPipelineOpened, api.EventPipelineClosed:
			continue // pipelines are the machine's business
		}
		msg := fleet.EventMessage{Machine: a.cfg.Machine, Event: ev}
		if ev.SessionID != "" {
			ctx, cancel := context.WithTimeout(a.ctx, defaultRequestTimeout)
			if s, err := a.eng.Get(ctx, ev.SessionID); err == nil {
				msg.Session = &s
				if s.Frontend == SRSFrontend && ev.Kind == api.EventStateChanged {
					a.heartbeatNow() // a login or logout: the presence changed
				}
			}
			cancel()
		}
		// Published even while disconnected: the client buffers it until it reconnects.
		a.publish(fleet.EventsSubject(a.cfg.Machine), msg)
	}
}

// serveRequest answers one request of the controller, in its own goroutine so that a slow
// start does not hold up a stop.
func (a *agent) serveRequest(m *nats.Msg) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		op := m.Subject[len(fleet.MachineSubject(a.cfg.Machine))+len(".rpc."):]
		rep := a.handle(op, m.Data)
		b, err := json.Marshal(rep)
		if err != nil {
			b, _ = json.Marshal(fleet.Reply{Error: fleet.ErrorOf(err)})
		}
		if err := m.Respond(b); err != nil {
			a.log.Debug("fleet: respond", "op", op, "err", err)
		}
	}()
}

func (a *agent) handle(op string, data []byte) fleet.Reply {
	var req fleet.Request
	if err := json.Unmarshal(data, &req); err != nil {
		return fleet.Reply{Error: fleet.ErrorOf(fmt.Errorf("%w: %s request: %w", api.ErrInvalidRequest, op, err))}
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = defaultRequestTimeout
	}
	ctx, cancel := context.WithTimeout(a.ctx, timeout)
	defer cancel()
	one := func(s api.Session, err error) fleet.Reply {
		if err != nil {
			return fleet.Reply{Error: fleet.ErrorOf(err)}
		}
		return fleet.Reply{Session: &s}
	}
	many := func(ss []api.Session, err error) fleet.Reply {
		if err != nil {
			return fleet.Reply{Error: fleet.ErrorOf(err)}
		}
		if ss == nil {
			ss = []api.Session{}
		}
		return fleet.Reply{Sessions: ss}
	}
	switch op {
	case fleet.OpStart:
		if req.Start == nil {
			return one(api.Session{}, fmt.Errorf("%w: start: no start request", api.ErrInvalidRequest))
		}
		p, ok := a.present(req.Start.Owner)
		if !ok {
			return one(api.Session{}, fmt.Errorf("user %q is not present on machine %s: %w", req.Start.Owner, a.cfg.Machine, api.ErrNotFound))
		}
		sr := *req.Start
		sr.Source.Display = p.Display // the machine knows where its users' screens are
		return one(a.eng.Start(ctx, sr))
	case fleet.OpStop:
		return one(a.eng.Stop(ctx, req.ID))
	case fleet.OpGet:
		return one(a.eng.Get(ctx, req.ID))
	case fleet.OpMask:
		if req.Mask == nil {
			return many(nil, fmt.Errorf("%w: mask: no target", api.ErrInvalidRequest))
		}
		t := *req.Mask
		if t.Display == "" && t.Owner != "" {
			// Masking a user masks every recording of theirs here, whichever display.
			return many(a.eng.Mask(ctx, api.MaskTarget{Owner: t.Owner}, req.On))
		}
		return many(a.eng.Mask(ctx, t, req.On))
	case fleet.OpList:
		f := api.ListFilter{}
		if req.List != nil {
			f = api.ListFilter{Owner: req.List.Owner, States: req.List.States, Limit: req.List.Limit}
		}
		return many(a.eng.List(ctx, f))
	}
	return one(api.Session{}, fmt.Errorf("%w: unknown operation %q", api.ErrInvalidRequest, op))
}

// stop says goodbye, stops the goroutines and drains the connection.
func (a *agent) stop(ctx context.Context) error {
	if a.nc.IsConnected() {
		a.publish(fleet.GoodbyeSubject(a.cfg.Machine), fleet.Goodbye{Machine: a.cfg.Machine})
		_ = a.nc.FlushTimeout(time.Second)
	}
	a.cancel()
	done := make(chan struct{})
	go func() {
		_ = a.nc.Drain()
		a.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		a.nc.Close()
		return fmt.Errorf("fleet: stop: %w", ctx.Err())
	}
	a.nc.Close()
	return nil
}
