package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
)

// Engine API tests: a front end (the plugin side) calls the host's Engine over the broker,
// through the real gRPC shims of the harness.

func TestEngine_RoundTrip(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		gotReq   api.StartRequest
		gotIDs   []string
		gotMask  api.MaskTarget
		gotOn    bool
		gotList  api.ListFilter
		sessions = []api.Session{richSession("a"), richSession("b"), {ID: "zero"}}
	)
	sessions[1].State = api.StateCompleted
	sessions[1].Labels = nil
	sessions[1].StartedAt = time.Time{}
	host := &MockEngine{
		StartFn: func(_ context.Context, req api.StartRequest) (api.Session, error) {
			mu.Lock()
			defer mu.Unlock()
			gotReq = req
			return sessions[0], nil
		},
		StopFn: func(_ context.Context, id string) (api.Session, error) {
			mu.Lock()
			defer mu.Unlock()
			gotIDs = append(gotIDs, "stop:"+id)
			return sessions[1], nil
		},
		GetFn: func(_ context.Context, id string) (api.Session, error) {
			mu.Lock()
			defer mu.Unlock()
			gotIDs = append(gotIDs, "get:"+id)
			return sessions[2], nil
		},
		MaskFn: func(_ context.Context, target api.MaskTarget, on bool) ([]api.Session, error) {
			mu.Lock()
			defer mu.Unlock()
			gotMask, gotOn = target, on
			return sessions, nil
		},
		ListFn: func(_ context.Context, f api.ListFilter) ([]api.Session, error) {
			mu.Lock()
			defer mu.Unlock()
			gotList = f
			if f.Owner == "nobody" {
				return nil, nil
			}
			return sessions[:2], nil
		},
	}
	eng, _ := servedFrontend(t, host)
	ctx := testCtx(t)

	s, err := eng.Start(ctx, richStartRequest())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	mu.Lock()
	if !reflect.DeepEqual(gotReq, richStartRequest()) {
		t.Errorf("host got start request\n%#v\nwant\n%#v", gotReq, richStartRequest())
	}
	mu.Unlock()
	if want := utcSession(sessions[0]); !reflect.DeepEqual(s, want) {
		t.Errorf("Start returned\n%#v\nwant\n%#v", s, want)
	}

	if s, err = eng.Stop(ctx, "b"); err != nil || !reflect.DeepEqual(s, utcSession(sessions[1])) {
		t.Errorf("Stop = %#v, %v; want %#v", s, err, utcSession(sessions[1]))
	}
	if s, err = eng.Get(ctx, "zero"); err != nil || !reflect.DeepEqual(s, sessions[2]) {
		t.Errorf("Get = %#v, %v; want the zero-ish session %#v", s, err, sessions[2])
	}

	target := api.MaskTarget{Owner: "alice", Display: ":1"}
	ss, err := eng.Mask(ctx, target, true)
	if err != nil || !reflect.DeepEqual(ss, utcSessions(sessions)) {
		t.Errorf("Mask = %#v, %v; want %#v", ss, err, utcSessions(sessions))
	}
	filter := api.ListFilter{Owner: "alice", States: []api.State{api.StateIdle, api.StateRecording, api.StateFailed}, Limit: 17}
	ss, err = eng.List(ctx, filter)
	if err != nil || !reflect.DeepEqual(ss, utcSessions(sessions[:2])) {
		t.Errorf("List = %#v, %v; want %#v", ss, err, utcSessions(sessions[:2]))
	}
	mu.Lock()
	if gotMask != target || !gotOn {
		t.Errorf("host got Mask(%+v, %v), want (%+v, true)", gotMask, gotOn, target)
	}
	if !reflect.DeepEqual(gotList, filter) {
		t.Errorf("host got list filter %+v, want %+v", gotList, filter)
	}
	if want := []string{"stop:b", "get:zero"}; !reflect.DeepEqual(gotIDs, want) {
		t.Errorf("host got ids %v, want %v", gotIDs, want)
	}

	mu.Unlock()
	// A state the host does not know is refused as an invalid request.
	if _, err := eng.List(ctx, api.ListFilter{States: []api.State{99}}); !errors.Is(err, api.ErrInvalidRequest) {
		t.Errorf("List with an unknown state = %v, want api.ErrInvalidRequest", err)
	}
	// Empty results stay empty.
	if ss, err := eng.List(ctx, api.ListFilter{Owner: "nobody"}); err != nil || ss != nil {
		t.Errorf("List with no sessions = %#v, %v; want nil, nil", ss, err)
	}
}

// engineSentinels are the engine's sentinel errors, each of which must survive the trip.
var engineSentinels = []error{
	api.ErrNotFound, api.ErrBusy, api.ErrAlreadyRecording, api.ErrIllegalTransition,
	api.ErrTerminal, api.ErrTooManySessions, api.ErrSpoolQuota, api.ErrDiskFull,
	api.ErrInvalidRequest, api.ErrClosed,
}

func TestEngine_Errors(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var next error
	host := &MockEngine{
		StopFn: func(context.Context, string) (api.Session, error) {
			mu.Lock()
			defer mu.Unlock()
			return api.Session{}, next
		},
		StartFn: func(context.Context, api.StartRequest) (api.Session, error) {
			mu.Lock()
			defer mu.Unlock()
			return api.Session{}, next
		},
	}
	eng, _ := servedFrontend(t, host)
	ctx := testCtx(t)

	for _, sentinel := range engineSentinels {
		t.Run(sentinel.Error(), func(t *testing.T) {
			sent := fmt.Errorf("session s1: %w", sentinel)
			mu.Lock()
			next = sent
			mu.Unlock()
			_, err := eng.Stop(ctx, "s1")
			if !errors.Is(err, sentinel) {
				t.Fatalf("Stop error %v does not wrap %v", err, sentinel)
			}
			if err.Error() != sent.Error() {
				t.Errorf("message %q, want %q", err.Error(), sent.Error())
			}
			for _, other := range engineSentinels {
				if other != sentinel && errors.Is(err, other) {
					t.Errorf("error also wraps %v", other)
				}
			}
		})
	}

	t.Run("AlreadyRecordingError", func(t *testing.T) {
		running := richSession("running")
		sent := fmt.Errorf("start for alice: %w", &api.AlreadyRecordingError{Session: running})
		mu.Lock()
		next = sent
		mu.Unlock()
		_, err := eng.Start(ctx, richStartRequest())
		var ae *api.AlreadyRecordingError
		if !errors.As(err, &ae) {
			t.Fatalf("Start error %v is not an *api.AlreadyRecordingError", err)
		}
		if !reflect.DeepEqual(ae.Session, utcSession(running)) {
			t.Errorf("AlreadyRecordingError.Session = %#v, want %#v", ae.Session, utcSession(running))
		}
		if !errors.Is(err, api.ErrAlreadyRecording) || err.Error() != sent.Error() {
			t.Errorf("error %q, want %q wrapping ErrAlreadyRecording", err, sent)
		}
	})

	t.Run("Plain", func(t *testing.T) {
		mu.Lock()
		next = errors.New("something else")
		mu.Unlock()
		_, err := eng.Stop(ctx, "s1")
		if err == nil || err.Error() != "something else" {
			t.Fatalf("Stop error = %v, want %q", err, "something else")
		}
		for _, s := range engineSentinels {
			if errors.Is(err, s) {
				t.Errorf("a plain error wraps %v", s)
			}
		}
	})
}

// blockingEngine returns an engine whose Get waits for its ctx to end and reports the ctx error
// it saw on observed.
func blockingEngine(observed chan<- error) *MockEngine {
	return &MockEngine{GetFn: func(ctx context.Context, _ string) (api.Session, error) {
		<-ctx.Done()
		observed <- ctx.Err()
		return api.Session{}, ctx.Err()
	}}
}

func TestEngine_ContextCancel(t *testing.T) {
	t.Parallel()
	observed := make(chan error, 1)
	eng, _ := servedFrontend(t, blockingEngine(observed))

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := eng.Get(ctx, "s1")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get error = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Get returned after %v", d)
	}
	select {
	case err := <-observed:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the host's ctx ended with %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the host's ctx was not cancelled")
	}
}

func TestEngine_Deadline(t *testing.T) {
	t.Parallel()
	deadlines := make(chan time.Time, 1)
	eng, _ := servedFrontend(t, &MockEngine{GetFn: func(ctx context.Context, _ string) (api.Session, error) {
		d, _ := ctx.Deadline()
		deadlines <- d
		<-ctx.Done()
		return api.Session{}, ctx.Err()
	}})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	if _, err := eng.Get(ctx, "s1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get error = %v, want context.DeadlineExceeded", err)
	}
	// The host's ctx may end as Canceled: the caller's cancellation can beat its own timer.
	if got := <-deadlines; got.IsZero() || got.Sub(want).Abs() > 50*time.Millisecond {
		t.Errorf("the host's deadline = %v, want about %v", got, want)
	}
}

func TestEngine_Events(t *testing.T) {
	t.Parallel()
	hostCh := make(chan api.Event)
	hostDone := make(chan struct{})
	host := &MockEngine{EventsFn: func(ctx context.Context) (<-chan api.Event, error) {
		go func() {
			<-ctx.Done()
			close(hostDone)
		}()
		return hostCh, nil
	}}
	eng, _ := servedFrontend(t, host)

	ctx, cancel := context.WithCancel(testCtx(t))
	ch, err := eng.Events(ctx)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	want := richEvents()
	go func() {
		for _, e := range want {
			hostCh <- e
		}
	}()
	for i, w := range want {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %d events", i)
			}
			if w := utcEvent(w); !reflect.DeepEqual(got, w) {
				t.Errorf("event %d = %#v, want %#v", i, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for event %d", i)
		}
	}

	cancel()
	waitDone(t, hostDone, 2*time.Second, "the host's subscription to end")
	closed := make(chan struct{})
	go func() {
		for range ch {
		}
		close(closed)
	}()
	waitDone(t, closed, 2*time.Second, "the channel to close after cancel")
}

func TestEngine_EventsEndWithHost(t *testing.T) {
	t.Parallel()
	hostCh := make(chan api.Event, 1)
	eng, _ := servedFrontend(t, &MockEngine{EventsFn: func(context.Context) (<-chan api.Event, error) { return hostCh, nil }})
	ch, err := eng.Events(testCtx(t))
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	hostCh <- api.Event{Kind: api.EventWarning, Reason: "last"}
	close(hostCh) // the engine closed
	if e := <-ch; e.Reason != "last" {
		t.Errorf("got %+v, want the last event", e)
	}
	closed := make(chan struct{})
	go func() {
		for range ch {
		}
		close(closed)
	}()
	waitDone(t, closed, 2*time.Second, "the channel to close when the host's does")
}

func TestEngine_EventsRefused(t *testing.T) {
	t.Parallel()
	eng, _ := servedFrontend(t, &MockEngine{EventsFn: func(context.Context) (<-chan api.Event, error) {
		return nil, fmt.Errorf("subscribe: %w", api.ErrClosed)
	}})
	ch, err := eng.Events(testCtx(t))
	if !errors.Is(err, api.ErrClosed) || ch != nil {
		t.Errorf("Events = %v, %v; want nil and an error wrapping api.ErrClosed", ch, err)
	}
}

// After the host stops the front end, the plugin can no longer drive the engine.
func TestFrontend_StopEndsEngine(t *testing.T) {
	t.Parallel()
	eng, host := servedFrontend(t, &MockEngine{})
	ctx := testCtx(t)
	if _, err := eng.Get(ctx, "x"); err != nil {
		t.Fatalf("Get while serving: %v", err)
	}
	if err := host.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := eng.Get(ctx, "x"); !errors.Is(err, api.ErrClosed) {
		t.Errorf("Get after Stop = %v, want an error wrapping api.ErrClosed", err)
	}
	if err := host.Stop(ctx); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}
}

// An agent's credentials lent by a front-end plugin reach the host's engine intact; nil clears.
func TestEngine_SetUploadAuth(t *testing.T) {
	var mu sync.Mutex
	got := map[string]*api.UploadAuth{}
	eng, _ := servedFrontend(t, &MockEngine{SetUploadAuthFn: func(_ context.Context, owner string, auth *api.UploadAuth) error {
		mu.Lock()
		defer mu.Unlock()
		got[owner] = auth
		return nil
	}})
	want := &api.UploadAuth{Credentials: api.Credentials{Username: "jdoe", Password: "pw"}, Server: "https://a", PeerServer: "https://b"}
	if err := eng.SetUploadAuth(testCtx(t), "jdoe", want); err != nil {
		t.Fatal(err)
	}
	if err := eng.SetUploadAuth(testCtx(t), "asmith", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(got["jdoe"], want) || got["asmith"] != nil || len(got) != 2 {
		t.Errorf("host saw %+v", got)
	}
}
