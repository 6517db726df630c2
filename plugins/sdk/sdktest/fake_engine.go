package sdktest

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/plugins/sdk"
)

// FakeContactBase is the contact id before a FakeEngine's first session's.
const FakeContactBase = 1122334455

// FakeEngine is an in-memory sdk.Engine for front-end tests that behaves like the real engine
// where a front end can tell; EngineBehaviour holds it to the real one. Start validates the
// request (api.ErrInvalidRequest), reserves the session (one not-yet-ended session per owner
// and front end, else *api.AlreadyRecordingError and a zero Session), opens it (SlowOpen,
// honouring ctx: a start cut short fails), then it records, or is masked when its owner or
// display is. Duration stays zero until FirstFrame has passed, then grows. MaxDuration stops
// it by itself. Stop moves it to stopping at once, finalises it after Finalize and waits for
// that or ctx (returning ctx's error while finalisation goes on); a stop while starting or
// stopping is api.ErrBusy, of an ended session api.ErrTerminal. Ended sessions stay listed,
// oldest first. Events sends nothing.
//
// Set the behaviour fields with Set (or before use); the methods are safe for concurrent use.
type FakeEngine struct {
	// FirstFrame is how long after a session starts its first frame comes (default 20 ms).
	FirstFrame time.Duration
	// SlowOpen is how long Start takes after reserving the session.
	SlowOpen time.Duration
	// Finalize is how long finalisation takes after a stop.
	Finalize time.Duration
	// StartIn, when set, gets each request when Start begins.
	StartIn chan api.StartRequest
	// StartGate, when set, makes Start wait for it to close (or ctx) once it has reserved
	// the session (state starting), as a capture slow to open does.
	StartGate chan struct{}
	// StartErrs fail the next Start calls, one each, before they reserve a session; StartErr
	// fails every one after them.
	StartErrs []error
	StartErr  error
	// FailOpen, when set, fails sessions while opening, with this reason.
	FailOpen string
	// StopErr, when set, fails every Stop with it; ListErr every List.
	StopErr error
	ListErr error

	mu         sync.Mutex
	sessions   []*fakeSession
	seq        int
	requests   []api.StartRequest
	startCtxs  []context.Context
	stops      []string
	auth       map[string]api.UploadAuth
	maskOwner  map[string]bool
	maskScreen map[string]bool
}

type fakeSession struct {
	snap       api.Session
	req        api.StartRequest
	maxTimer   *time.Timer
	done       chan struct{}
	firstFrame time.Time
	maskedAt   time.Time // when the current masked interval began; zero when not masked
}

var _ sdk.Engine = (*FakeEngine)(nil)

// NewFakeEngine returns a FakeEngine with the default behaviour. Call Close when done.
func NewFakeEngine() *FakeEngine {
	return &FakeEngine{FirstFrame: 20 * time.Millisecond, maskOwner: map[string]bool{}, maskScreen: map[string]bool{}}
}

// Set changes the behaviour fields under the engine's lock.
func (e *FakeEngine) Set(f func(e *FakeEngine)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// snapshot returns s as the engine shows it at now; mu held.
func (s *fakeSession) snapshot(now time.Time) api.Session {
	snap := s.snap
	if s.snap.Labels != nil {
		snap.Labels = make(map[string]string, len(s.snap.Labels))
		for k, v := range s.snap.Labels {
			snap.Labels[k] = v
		}
	}
	snap.MaskedIntervals = slices.Clone(s.snap.MaskedIntervals)
	if snap.State.Running() && !s.firstFrame.IsZero() && now.After(s.firstFrame) {
		snap.Duration = now.Sub(snap.StartedAt)
	}
	return snap
}

func (e *FakeEngine) find(id string) *fakeSession {
	for _, s := range e.sessions {
		if s.snap.ID == id {
			return s
		}
	}
	return nil
}

// maskedLocked says whether a session of owner on display is masked now; mu held.
func (e *FakeEngine) maskedLocked(owner, display string) bool {
	return e.maskOwner[owner] || (display != "" && e.maskScreen[display])
}

// newSessionLocked registers a session of req in state; mu held.
func (e *FakeEngine) newSessionLocked(req api.StartRequest, state api.State) *fakeSession {
	e.seq++
	now := time.Now()
	s := &fakeSession{req: req, done: make(chan struct{}), snap: api.Session{
		ID: fmt.Sprintf("rec-%d", e.seq), ContactID: FakeContactBase + int64(e.seq), InteractionID: newUUID(),
		Owner: req.Owner, Frontend: req.Frontend, Reason: req.Reason, State: state, Source: req.Source,
		Labels: req.Labels, CreatedAt: now}}
	if state != api.StateStarting {
		s.snap.StartedAt, s.firstFrame = now, now
	}
	if state.Terminal() {
		s.snap.EndedAt = now
		close(s.done)
	}
	e.sessions = append(e.sessions, s)
	return s
}

// Start starts a session as the engine does (see FakeEngine).
func (e *FakeEngine) Start(ctx context.Context, req api.StartRequest) (api.Session, error) {
	e.mu.Lock()
	e.startCtxs = append(e.startCtxs, ctx)
	e.requests = append(e.requests, req)
	in, gate := e.StartIn, e.StartGate
	e.mu.Unlock()
	if in != nil {
		in <- req
	}
	e.mu.Lock()
	var startErr error
	if len(e.StartErrs) > 0 {
		startErr, e.StartErrs = e.StartErrs[0], e.StartErrs[1:]
	} else {
		startErr = e.StartErr
	}
	slow, failOpen := e.SlowOpen, e.FailOpen
	e.mu.Unlock()
	if startErr != nil {
		return api.Session{}, startErr
	}
	switch {
	case req.Owner == "":
		return api.Session{}, fmt.Errorf("%w: owner: required", api.ErrInvalidRequest)
	case req.Frontend == "":
		return api.Session{}, fmt.Errorf("%w: frontend: required", api.ErrInvalidRequest)
	case req.Limits.MaxDuration < 0:
		return api.Session{}, fmt.Errorf("%w: limits.max_duration: %s is negative", api.ErrInvalidRequest, req.Limits.MaxDuration)
	}
	// Reserve.
	e.mu.Lock()
	for _, o := range e.sessions {
		if o.snap.Owner == req.Owner && o.snap.Frontend == req.Frontend && !o.snap.State.Terminal() {
			snap := o.snapshot(time.Now())
			e.mu.Unlock()
			return api.Session{}, &api.AlreadyRecordingError{Session: snap}
		}
	}
	s := e.newSessionLocked(req, api.StateStarting)
	e.mu.Unlock()

	// Open (slowly), honouring ctx.
	err := ctx.Err()
	if err == nil && gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil && slow > 0 {
		t := time.NewTimer(slow)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
		}
	}
	if err == nil && failOpen != "" {
		err = fmt.Errorf("engine: capture: %s", failOpen)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if err != nil {
		s.snap.State, s.snap.Error, s.snap.EndedAt = api.StateFailed, err.Error(), now
		close(s.done)
		return s.snapshot(now), err
	}
	s.snap.State, s.snap.StartedAt = api.StateRecording, now
	s.firstFrame = now.Add(e.FirstFrame)
	if e.maskedLocked(req.Owner, req.Source.Display) {
		s.snap.State, s.maskedAt = api.StateMasked, now
	}
	if max := req.Limits.MaxDuration; max > 0 {
		id := s.snap.ID
		s.maxTimer = time.AfterFunc(max, func() { e.Expire(id) })
	}
	return s.snapshot(now), nil
}

// Expire ends a session as its MaxDuration does, now: it stops and completes at once.
func (e *FakeEngine) Expire(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.find(id); s != nil && s.snap.State.Running() {
		e.complete(s)
	}
}

// endMask closes s's masked interval at now, if one is open; mu held.
func (s *fakeSession) endMask(now time.Time) {
	if s.maskedAt.IsZero() {
		return
	}
	s.snap.MaskedIntervals = append(s.snap.MaskedIntervals,
		api.Interval{Start: s.maskedAt.Sub(s.snap.StartedAt), End: now.Sub(s.snap.StartedAt)})
	s.snap.Masked += now.Sub(s.maskedAt)
	s.maskedAt = time.Time{}
}

// complete finalises s; mu held.
func (e *FakeEngine) complete(s *fakeSession) {
	now := time.Now()
	s.snap.Duration = s.snapshot(now).Duration
	s.endMask(now)
	s.snap.State, s.snap.EndedAt = api.StateCompleted, now
	if s.maxTimer != nil {
		s.maxTimer.Stop()
	}
	close(s.done)
}

// Stop stops a session as the engine does (see FakeEngine).
func (e *FakeEngine) Stop(ctx context.Context, id string) (api.Session, error) {
	e.mu.Lock()
	e.stops = append(e.stops, id)
	if e.StopErr != nil {
		err := e.StopErr
		e.mu.Unlock()
		return api.Session{}, err
	}
	s := e.find(id)
	switch {
	case s == nil:
		e.mu.Unlock()
		return api.Session{}, fmt.Errorf("%w: %s", api.ErrNotFound, id)
	case s.snap.State.Terminal():
		snap := s.snapshot(time.Now())
		e.mu.Unlock()
		return snap, fmt.Errorf("%w: session %s is %s", api.ErrTerminal, id, snap.State)
	case !s.snap.State.Running():
		snap := s.snapshot(time.Now())
		e.mu.Unlock()
		return snap, fmt.Errorf("%w: session %s is %s", api.ErrBusy, id, snap.State)
	}
	now := time.Now()
	s.snap.Duration = s.snapshot(now).Duration
	s.endMask(now)
	s.snap.State = api.StateStopping
	if s.maxTimer != nil {
		s.maxTimer.Stop()
	}
	if e.Finalize <= 0 {
		e.complete(s)
	} else {
		time.AfterFunc(e.Finalize, func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.complete(s)
		})
	}
	done := s.done
	e.mu.Unlock()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return s.snapshot(time.Now()), err
}

// Mask masks or unmasks the sessions of target's owner and/or display, as the engine does.
func (e *FakeEngine) Mask(ctx context.Context, target api.MaskTarget, on bool) ([]api.Session, error) {
	if target.Owner == "" && target.Display == "" {
		return nil, fmt.Errorf("%w: mask: owner or display required", api.ErrInvalidRequest)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	set := func(m map[string]bool, k string) {
		if on {
			m[k] = true
		} else {
			delete(m, k)
		}
	}
	if target.Owner != "" {
		set(e.maskOwner, target.Owner)
	}
	if target.Display != "" {
		set(e.maskScreen, target.Display)
	}
	now := time.Now()
	var out []api.Session
	for _, s := range e.sessions {
		if s.snap.State.Terminal() || !((target.Owner != "" && s.req.Owner == target.Owner) ||
			(target.Display != "" && s.req.Source.Display == target.Display)) {
			continue
		}
		if s.snap.State.Running() {
			switch masked := e.maskedLocked(s.req.Owner, s.req.Source.Display); {
			case masked && s.snap.State == api.StateRecording:
				s.snap.State, s.maskedAt = api.StateMasked, now
			case !masked && s.snap.State == api.StateMasked:
				s.endMask(now)
				s.snap.State = api.StateRecording
			}
		}
		out = append(out, s.snapshot(now))
	}
	return out, nil
}

// Get returns a session, running or ended.
func (e *FakeEngine) Get(ctx context.Context, id string) (api.Session, error) {
	if err := ctx.Err(); err != nil {
		return api.Session{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(id)
	if s == nil {
		return api.Session{}, fmt.Errorf("%w: %s", api.ErrNotFound, id)
	}
	return s.snapshot(time.Now()), nil
}

// List returns the sessions matching f, oldest first (with f.Limit, the newest f.Limit).
func (e *FakeEngine) List(ctx context.Context, f api.ListFilter) ([]api.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ListErr != nil {
		return nil, e.ListErr
	}
	var out []api.Session
	now := time.Now()
	for _, s := range e.sessions {
		if f.Owner != "" && s.snap.Owner != f.Owner {
			continue
		}
		if len(f.States) > 0 && !slices.Contains(f.States, s.snap.State) {
			continue
		}
		out = append(out, s.snapshot(now))
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// Events returns a channel that sends nothing and closes when ctx ends.
func (e *FakeEngine) Events(ctx context.Context) (<-chan api.Event, error) {
	ch := make(chan api.Event)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// SetUploadAuth keeps what was lent (see Lent).
func (e *FakeEngine) SetUploadAuth(_ context.Context, owner string, auth *api.UploadAuth) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.auth == nil {
		e.auth = map[string]api.UploadAuth{}
	}
	if auth == nil {
		delete(e.auth, owner)
	} else {
		e.auth[owner] = *auth
	}
	return nil
}

// Lent returns what SetUploadAuth last lent for owner.
func (e *FakeEngine) Lent(owner string) (api.UploadAuth, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.auth[owner]
	return a, ok
}

// Add creates a session in state as if an earlier Start had (a terminal state ends it).
func (e *FakeEngine) Add(req api.StartRequest, state api.State) api.Session {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.newSessionLocked(req, state).snapshot(time.Now())
}

// SetState puts session id in state, as the engine's own transitions would.
func (e *FakeEngine) SetState(id string, state api.State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.find(id); s != nil {
		s.snap.State = state
	}
}

// Remove forgets session id, as if the engine never had it.
func (e *FakeEngine) Remove(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sessions = slices.DeleteFunc(e.sessions, func(s *fakeSession) bool { return s.snap.ID == id })
}

// Requests returns the requests Start was called with, in order.
func (e *FakeEngine) Requests() []api.StartRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// StartContexts returns the contexts Start was called with, in order.
func (e *FakeEngine) StartContexts() []context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.startCtxs)
}

// StopIDs returns the ids Stop was called with, in order.
func (e *FakeEngine) StopIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.stops)
}

// Counts returns how many times Start and Stop were called.
func (e *FakeEngine) Counts() (starts, stops int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.requests), len(e.stops)
}

// Owned returns the sessions of owner, oldest first.
func (e *FakeEngine) Owned(owner string) []api.Session {
	list, _ := e.List(context.Background(), api.ListFilter{Owner: owner})
	return list
}

// Request returns the request session id was started with.
func (e *FakeEngine) Request(id string) api.StartRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.find(id); s != nil {
		return s.req
	}
	return api.StartRequest{}
}

// Close stops the sessions' timers.
func (e *FakeEngine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		if s.maxTimer != nil {
			s.maxTimer.Stop()
		}
	}
}
