package cloud

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

// fakeEngine is an in-memory sdk.Engine that behaves like the real one where the front end
// can tell: Start reserves the session (one running session per owner and front end, else
// *api.AlreadyRecordingError), opens it (slowOpen, honouring ctx: a start cut short fails),
// then it records; Duration stays zero until firstFrame has passed (the first frame), then
// grows; MaxDuration stops it by itself; Stop moves it to stopping at once, finalises it
// after finalize and waits for that or ctx (returning ctx's error while finalisation goes
// on); a stop while starting or stopping is api.ErrBusy; ended sessions stay listed.
type fakeEngine struct {
	mu       sync.Mutex
	sessions []*fakeSession
	contact  int64

	// Behaviour, set before use (or under mu).
	firstFrame time.Duration         // delay until the first frame
	slowOpen   time.Duration         // how long Start takes after reserving
	finalize   time.Duration         // how long finalisation takes after a stop
	startGate  chan struct{}         // when set, Start waits for it (or ctx) before opening
	startIn    chan api.StartRequest // when set, Start reports each request here on entry
	startErr   error                 // when set, Start fails with it before reserving
	listErr    error                 // when set, List fails with it
	stopErr    error                 // when set, Stop fails with it
	failOpen   string                // when set, the session fails while opening, with this reason
	startCtxs  []context.Context     // contexts Start was called with
	requests   []api.StartRequest    // requests Start was called with
}

type fakeSession struct {
	snap       api.Session
	maxTimer   *time.Timer
	done       chan struct{}
	firstFrame time.Time
	req        api.StartRequest
}

var _ sdk.Engine = (*fakeEngine)(nil)

func newFakeEngine() *fakeEngine {
	return &fakeEngine{contact: 1122334455, firstFrame: 20 * time.Millisecond}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// snapshot returns s as the engine shows it now; mu held.
func (s *fakeSession) snapshot(now time.Time) api.Session {
	snap := s.snap
	snap.Labels = cloneLabels(s.snap.Labels)
	if snap.State.Running() && !s.firstFrame.IsZero() && now.After(s.firstFrame) {
		snap.Duration = now.Sub(snap.StartedAt)
	}
	return snap
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (e *fakeEngine) find(id string) *fakeSession {
	for _, s := range e.sessions {
		if s.snap.ID == id {
			return s
		}
	}
	return nil
}

func (e *fakeEngine) Start(ctx context.Context, req api.StartRequest) (api.Session, error) {
	e.mu.Lock()
	e.startCtxs = append(e.startCtxs, ctx)
	e.requests = append(e.requests, req)
	in, gate, startErr, slow, failOpen := e.startIn, e.startGate, e.startErr, e.slowOpen, e.failOpen
	e.mu.Unlock()
	if in != nil {
		in <- req
	}
	if req.Owner == "" || req.Frontend == "" {
		return api.Session{}, fmt.Errorf("%w: owner and frontend are required", api.ErrInvalidRequest)
	}
	if startErr != nil {
		return api.Session{}, startErr
	}
	// Reserve.
	e.mu.Lock()
	for _, o := range e.sessions {
		if o.snap.Owner == req.Owner && o.snap.Frontend == req.Frontend && !o.snap.State.Terminal() {
			snap := o.snapshot(time.Now())
			e.mu.Unlock()
			return snap, &api.AlreadyRecordingError{Session: snap}
		}
	}
	e.contact++
	s := &fakeSession{req: req, done: make(chan struct{}), snap: api.Session{
		ID: newUUID(), ContactID: e.contact, InteractionID: newUUID(), Owner: req.Owner, Frontend: req.Frontend,
		Reason: req.Reason, State: api.StateStarting, Source: req.Source, Labels: cloneLabels(req.Labels), CreatedAt: time.Now()}}
	e.sessions = append(e.sessions, s)
	e.mu.Unlock()

	// Open (slowly).
	var err error
	if gate != nil {
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
	if err != nil {
		s.snap.State, s.snap.Error, s.snap.EndedAt = api.StateFailed, err.Error(), time.Now()
		close(s.done)
		return s.snapshot(time.Now()), err
	}
	now := time.Now()
	s.snap.State, s.snap.StartedAt = api.StateRecording, now
	s.firstFrame = now.Add(e.firstFrame)
	if max := req.Limits.MaxDuration; max > 0 {
		id := s.snap.ID
		s.maxTimer = time.AfterFunc(max, func() { e.expire(id) })
	}
	return s.snapshot(now), nil
}

// expire ends a session as its MaxDuration does: it stops and completes at once.
func (e *fakeEngine) expire(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.find(id)
	if s == nil || !s.snap.State.Running() {
		return
	}
	e.complete(s)
}

// complete finalises s; mu held.
func (e *fakeEngine) complete(s *fakeSession) {
	now := time.Now()
	s.snap.Duration = s.snapshot(now).Duration
	s.snap.State, s.snap.EndedAt = api.StateCompleted, now
	if s.maxTimer != nil {
		s.maxTimer.Stop()
	}
	close(s.done)
}

func (e *fakeEngine) Stop(ctx context.Context, id string) (api.Session, error) {
	e.mu.Lock()
	if e.stopErr != nil {
		err := e.stopErr
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
	s.snap.Duration = s.snapshot(time.Now()).Duration
	s.snap.State = api.StateStopping
	if s.maxTimer != nil {
		s.maxTimer.Stop()
	}
	if e.finalize <= 0 {
		e.complete(s)
	} else {
		time.AfterFunc(e.finalize, func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.complete(s)
		})
	}
	done := s.done
	e.mu.Unlock()
	select {
	case <-done:
		e.mu.Lock()
		defer e.mu.Unlock()
		return s.snapshot(time.Now()), nil
	case <-ctx.Done():
		e.mu.Lock()
		defer e.mu.Unlock()
		return s.snapshot(time.Now()), ctx.Err()
	}
}

func (e *fakeEngine) Mask(ctx context.Context, target api.MaskTarget, on bool) ([]api.Session, error) {
	return nil, nil
}

func (e *fakeEngine) Get(ctx context.Context, id string) (api.Session, error) {
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

func (e *fakeEngine) List(ctx context.Context, f api.ListFilter) ([]api.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.listErr != nil {
		return nil, e.listErr
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

func (e *fakeEngine) Events(ctx context.Context) (<-chan api.Event, error) {
	ch := make(chan api.Event)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

// set changes the fake's behaviour under its lock.
func (e *fakeEngine) set(f func(e *fakeEngine)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e)
}

// owned returns the sessions of owner from front end frontend.
func (e *fakeEngine) owned(owner string) []api.Session {
	list, _ := e.List(context.Background(), api.ListFilter{Owner: owner})
	return list
}

// request returns the request session id was started with.
func (e *fakeEngine) request(id string) api.StartRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.find(id); s != nil {
		return s.req
	}
	return api.StartRequest{}
}

// startRequests returns the requests Start was called with.
func (e *fakeEngine) startRequests() []api.StartRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// close stops the timers.
func (e *fakeEngine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		if s.maxTimer != nil {
			s.maxTimer.Stop()
		}
	}
}

func (f *fakeEngine) SetUploadAuth(context.Context, string, *api.UploadAuth) error { return nil }
