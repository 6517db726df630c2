package srs

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/httpkit"
	"github.com/screenrec/recorder/plugins/sdk"
)

// One Serve of the front end: what the requests and the session timers share, and its lifecycle.

// Timeouts of the request paths; variables so tests can shorten them.
var (
	// engineTimeout bounds one engine call (and its ErrBusy retries) made for a request or a
	// timeout. Engine calls do not end with the request: a desktop that hangs up during a
	// login must not leave a half-started recording behind.
	engineTimeout = 30 * time.Second
	// busyRetry is the pause between tries of an engine call answered ErrBusy.
	busyRetry = 100 * time.Millisecond
)

// server is one Serve: the HTTP API over eng, its sessions and their timers.
type server struct {
	eng      sdk.Engine
	settings func() *settings
	store    *store
	throttle *throttle
	log      *slog.Logger
	http     *httpkit.Server

	base   context.Context // lives until Stop is done; the parent of timer-driven engine calls
	cancel context.CancelFunc

	stopping atomic.Bool // set when Stop begins: timers do nothing

	mu      sync.Mutex
	closed  bool                   // guarded by mu; no timer callback may start
	wg      sync.WaitGroup         // timer callbacks in progress
	orphans map[string]*time.Timer // guarded by mu: recordings of an earlier run, by id
}

func newServer(eng sdk.Engine, conf func() *settings, log *slog.Logger, base context.Context) *server {
	ctx, cancel := context.WithCancel(base)
	return &server{eng: eng, settings: conf, store: newStore(), throttle: newThrottle(), log: log,
		base: ctx, cancel: cancel, orphans: map[string]*time.Timer{}}
}

// enter registers a timer callback; false once Stop began.
func (s *server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.stopping.Load() {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *server) leave() { s.wg.Done() }

// close stops every timer and waits (until ctx ends) for timer callbacks in progress.
func (s *server) close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for id, t := range s.orphans {
		t.Stop()
		delete(s.orphans, id)
	}
	s.mu.Unlock()
	s.store.stopTimers()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	defer s.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// engineCtx is the context of engine calls made for r: not cancelled when the client hangs
// up, bounded by engineTimeout.
func engineCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), engineTimeout)
}

// retryBusy calls fn until it returns anything but api.ErrBusy or ctx ends.
func retryBusy(ctx context.Context, fn func() (api.Session, error)) (api.Session, error) {
	for {
		got, err := fn()
		if !errors.Is(err, api.ErrBusy) {
			return got, err
		}
		select {
		case <-ctx.Done():
			return got, err
		case <-time.After(busyRetry):
		}
	}
}
