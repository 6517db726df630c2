package sdktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/plugins/sdk"
)

// EngineBehaviour checks the engine behaviour front ends rely on, through sdk.Engine: it holds
// FakeEngine to the real engine (both run it). newEngine returns a fresh engine, closed by
// the caller through t.Cleanup; it records any source (a scripted screen, say).
//
// Checks: Start returns a recording session echoing the request; a second start for the same
// owner and front end is *api.AlreadyRecordingError carrying the running session, with a zero
// Session, while another front end may record the same owner; invalid requests are
// api.ErrInvalidRequest; Get and Stop of an unknown id are api.ErrNotFound; Stop completes a
// session, a second Stop is api.ErrTerminal; List filters by owner and state, oldest first;
// MaxDuration completes a session by itself; Mask switches an owner's sessions between
// recording and masked, a start while masked starts masked, and a Mask without a target is
// api.ErrInvalidRequest.
func EngineBehaviour(t *testing.T, newEngine func(t *testing.T) sdk.Engine) {
	t.Helper()
	ctx := func(t *testing.T) context.Context { return callCtx(t) }
	req := func(owner, frontend string) api.StartRequest {
		return api.StartRequest{Owner: owner, Frontend: frontend, Reason: "conformance",
			Labels: map[string]string{"place": "desk-1"}, Source: api.Source{Display: ":5"}}
	}
	mustStart := func(t *testing.T, e sdk.Engine, r api.StartRequest) api.Session {
		t.Helper()
		s, err := e.Start(ctx(t), r)
		if err != nil {
			t.Fatalf("Start(%s/%s) = %v", r.Owner, r.Frontend, err)
		}
		return s
	}
	mustStop := func(t *testing.T, e sdk.Engine, id string) api.Session {
		t.Helper()
		s, err := e.Stop(ctx(t), id)
		if err != nil {
			t.Fatalf("Stop(%s) = %v", id, err)
		}
		return s
	}

	t.Run("StartStop", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t)
		r := req("alice", "srs")
		s := mustStart(t, e, r)
		if s.ID == "" || s.ContactID <= 0 || s.InteractionID == "" || s.State != api.StateRecording ||
			s.Owner != r.Owner || s.Frontend != r.Frontend || s.Reason != r.Reason || s.Labels["place"] != "desk-1" ||
			s.Source.Display != ":5" || s.CreatedAt.IsZero() || s.StartedAt.IsZero() || !s.EndedAt.IsZero() {
			t.Errorf("started session = %+v", s)
		}
		got, err := e.Get(ctx(t), s.ID)
		if err != nil || got.ID != s.ID || got.State != api.StateRecording {
			t.Errorf("Get = %+v, %v", got, err)
		}
		time.Sleep(200 * time.Millisecond)
		done := mustStop(t, e, s.ID)
		if done.State != api.StateCompleted || done.EndedAt.IsZero() || done.Duration <= 0 || done.ContactID != s.ContactID {
			t.Errorf("stopped session = %+v", done)
		}
		again, err := e.Stop(ctx(t), s.ID)
		if !errors.Is(err, api.ErrTerminal) || again.State != api.StateCompleted {
			t.Errorf("second Stop = %s, %v; want completed, api.ErrTerminal", again.State, err)
		}
		if _, err := e.Get(ctx(t), "rec-unknown"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want api.ErrNotFound", err)
		}
		if _, err := e.Stop(ctx(t), "rec-unknown"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("Stop(unknown) = %v, want api.ErrNotFound", err)
		}
	})

	t.Run("OneSessionPerOwnerAndFrontend", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t)
		s := mustStart(t, e, req("bob", "srs"))
		dup, err := e.Start(ctx(t), req("bob", "srs"))
		var are *api.AlreadyRecordingError
		if !errors.Is(err, api.ErrAlreadyRecording) || !errors.As(err, &are) || are.Session.ID != s.ID {
			t.Errorf("second start = %v, want *api.AlreadyRecordingError carrying %s", err, s.ID)
		}
		if dup.ID != "" {
			t.Errorf("second start returned session %+v, want a zero Session", dup)
		}
		other := mustStart(t, e, req("bob", "cloud"))
		if other.ID == s.ID || other.ContactID == s.ContactID {
			t.Errorf("another front end's session %+v shares the first's id or contact id", other)
		}
		list, err := e.List(ctx(t), api.ListFilter{Owner: "bob"})
		if err != nil || len(list) != 2 || list[0].ID != s.ID || list[1].ID != other.ID {
			t.Errorf("List(bob) = %+v, %v; want both, oldest first", list, err)
		}
		mustStop(t, e, s.ID)
		running, err := e.List(ctx(t), api.ListFilter{Owner: "bob", States: []api.State{api.StateRecording}})
		if err != nil || len(running) != 1 || running[0].ID != other.ID {
			t.Errorf("List(bob, recording) = %+v, %v; want the cloud session only", running, err)
		}
		if n, err := e.List(ctx(t), api.ListFilter{Owner: "nobody"}); err != nil || len(n) != 0 {
			t.Errorf("List(nobody) = %+v, %v; want none", n, err)
		}
		again := mustStart(t, e, req("bob", "srs")) // the first has ended: room again
		mustStop(t, e, again.ID)
		mustStop(t, e, other.ID)
	})

	t.Run("InvalidRequests", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t)
		neg := req("carol", "srs")
		neg.Limits.MaxDuration = -time.Second
		for _, r := range []api.StartRequest{req("", "srs"), req("carol", ""), neg} {
			if _, err := e.Start(ctx(t), r); !errors.Is(err, api.ErrInvalidRequest) {
				t.Errorf("Start(%+v) = %v, want api.ErrInvalidRequest", r, err)
			}
		}
		if _, err := e.Mask(ctx(t), api.MaskTarget{}, true); !errors.Is(err, api.ErrInvalidRequest) {
			t.Errorf("Mask without a target = %v, want api.ErrInvalidRequest", err)
		}
	})

	t.Run("MaxDuration", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t)
		r := req("dave", "cloud")
		r.Limits.MaxDuration = 300 * time.Millisecond
		s := mustStart(t, e, r)
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := e.Get(ctx(t), s.ID)
			if err == nil && got.State == api.StateCompleted {
				if got.Duration < 200*time.Millisecond || got.Duration > 2*time.Second {
					t.Errorf("completed by its limit after %s, want about 300 ms", got.Duration)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not completed 5 s after its 300 ms limit: %+v, %v", got, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("Mask", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t)
		s := mustStart(t, e, req("erin", "srs"))
		other := mustStart(t, e, req("frank", "srs"))
		affected, err := e.Mask(ctx(t), api.MaskTarget{Owner: "erin"}, true)
		if err != nil || len(affected) != 1 || affected[0].ID != s.ID || affected[0].State != api.StateMasked {
			t.Fatalf("Mask(erin) = %+v, %v; want erin's session, masked", affected, err)
		}
		if got, _ := e.Get(ctx(t), other.ID); got.State != api.StateRecording {
			t.Errorf("masking erin changed frank's session: %s", got.State)
		}
		late := mustStart(t, e, req("erin", "cloud"))
		if late.State != api.StateMasked {
			t.Errorf("a start while the owner is masked: %s, want masked", late.State)
		}
		time.Sleep(100 * time.Millisecond)
		if affected, err = e.Mask(ctx(t), api.MaskTarget{Owner: "erin"}, false); err != nil || len(affected) != 2 {
			t.Fatalf("unmask = %+v, %v; want erin's two sessions", affected, err)
		}
		for _, a := range affected {
			if a.State != api.StateRecording {
				t.Errorf("after unmask %s is %s, want recording", a.ID, a.State)
			}
		}
		done := mustStop(t, e, s.ID)
		if len(done.MaskedIntervals) != 1 || done.Masked <= 0 {
			t.Errorf("masked intervals %+v (total %s), want one", done.MaskedIntervals, done.Masked)
		}
		mustStop(t, e, late.ID)
		mustStop(t, e, other.ID)
	})
}
