package srs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/api"
)

// The recording policy: a session's recording is started at login (recording_when: session),
// kept across re-logins, adopted from an earlier run, and stopped at logout or timeout.

// ensureRecording starts sess's recording with recording_when: session, unless it has one
// still going (a re-login keeps it: no gap). The labels carry the login's place and RWS.
func (s *server) ensureRecording(ctx context.Context, st *settings, sess *session, place string, devices []Device, server, peer string) error {
	if st.cfg.RecordingWhen != RecordSession {
		return nil
	}
	s.refresh(ctx, sess)
	if sess.rec != nil && !sess.rec.State.Terminal() {
		return nil
	}
	labels := map[string]string{"place": place, "server": server, "peer_server": peer}
	if len(devices) > 0 {
		ds := make([]string, len(devices))
		for i, d := range devices {
			ds[i] = d.DN + "@" + d.Switch
		}
		labels["devices"] = strings.Join(ds, ",")
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}
	req := api.StartRequest{Owner: sess.agent, Frontend: Name, Reason: "srs login",
		Source: api.Source{Display: st.display(sess.agent)}, Labels: labels}
	rec, err := retryBusy(ctx, func() (api.Session, error) { return s.eng.Start(ctx, req) })
	if errors.Is(err, api.ErrAlreadyRecording) {
		// The agent's recording from an earlier run of this front end (a restarted plugin):
		// adopt it.
		rec, err = s.adopt(ctx, sess.agent, err)
	}
	switch {
	case err == nil:
	case errors.Is(err, api.ErrClosed):
		return apiErrorf(http.StatusServiceUnavailable, "engine: start recording: %v", err)
	default:
		s.log.WarnContext(ctx, "srs: cannot start the recording", "agent", sess.agent, "error", err)
		return apiErrorf(http.StatusInternalServerError, "engine: start recording: %v", err)
	}
	s.mu.Lock()
	if t := s.orphans[rec.ID]; t != nil {
		t.Stop()
		delete(s.orphans, rec.ID)
	}
	s.mu.Unlock()
	sess.rec = &rec
	sess.recSeen = time.Now()
	return nil
}

// stopRecording stops sess's recording unless it has ended already.
func (s *server) stopRecording(ctx context.Context, sess *session) error {
	rec := sess.rec
	if rec == nil || rec.State.Terminal() {
		return nil
	}
	got, err := retryBusy(ctx, func() (api.Session, error) { return s.eng.Stop(ctx, rec.ID) })
	switch {
	case err == nil:
		sess.rec = &got
	case errors.Is(err, api.ErrNotFound), errors.Is(err, api.ErrTerminal):
		// gone or ended already: nothing to stop
	default:
		return fmt.Errorf("engine: stop recording %s: %w", rec.ID, err)
	}
	return nil
}

// refresh updates sess's recording snapshot from the engine; on failure it keeps the last.
func (s *server) refresh(ctx context.Context, sess *session) {
	if sess.rec == nil || sess.rec.State.Terminal() {
		return
	}
	got, err := s.eng.Get(ctx, sess.rec.ID)
	if err != nil {
		if !errors.Is(err, api.ErrNotFound) {
			s.log.WarnContext(ctx, "srs: cannot get the recording", "agent", sess.agent, "recording", sess.rec.ID, "error", err)
		}
		return
	}
	sess.rec = &got
}

// adopt returns the running srs recording of owner that made Start fail with
// ErrAlreadyRecording.
func (s *server) adopt(ctx context.Context, owner string, startErr error) (api.Session, error) {
	var are *api.AlreadyRecordingError
	if errors.As(startErr, &are) && are.Session.ID != "" {
		return are.Session, nil
	}
	list, err := s.eng.List(ctx, api.ListFilter{Owner: owner})
	if err != nil {
		return api.Session{}, fmt.Errorf("%w (and listing it: %v)", startErr, err)
	}
	for _, rec := range list {
		if rec.Frontend == Name && !rec.State.Terminal() {
			return rec, nil
		}
	}
	return api.Session{}, startErr
}

// adoptOrphans arms a ping timeout for the running srs recordings the engine already has when
// serving starts (a restarted plugin process): each is stopped after ping_timeout unless its
// agent logs in again meanwhile, which adopts it.
func (s *server) adoptOrphans(ctx context.Context, st *settings) {
	list, err := s.eng.List(ctx, api.ListFilter{States: []api.State{api.StateStarting, api.StateRecording, api.StateMasked}})
	if err != nil {
		s.log.WarnContext(ctx, "srs: cannot list the engine's recordings", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range list {
		if rec.Frontend != Name || rec.State.Terminal() {
			continue
		}
		id, owner := rec.ID, rec.Owner
		s.log.InfoContext(ctx, "srs: recording without a session: stopped unless its agent logs in", "agent", owner,
			"recording", id, "within", st.cfg.PingTimeout)
		s.orphans[id] = time.AfterFunc(st.cfg.PingTimeout, func() { s.stopOrphan(id, owner) })
	}
}

func (s *server) stopOrphan(id, owner string) {
	if !s.enter() {
		return
	}
	defer s.leave()
	s.mu.Lock()
	_, still := s.orphans[id]
	delete(s.orphans, id)
	s.mu.Unlock()
	if !still {
		return
	}
	ctx, cancel := context.WithTimeout(s.base, engineTimeout)
	defer cancel()
	_, err := retryBusy(ctx, func() (api.Session, error) { return s.eng.Stop(ctx, id) })
	if err != nil && !errors.Is(err, api.ErrNotFound) && !errors.Is(err, api.ErrTerminal) {
		s.log.ErrorContext(ctx, "srs: cannot stop a recording without a session", "agent", owner, "recording", id, "error", err)
		return
	}
	s.log.InfoContext(ctx, "srs: recording without a session stopped", "agent", owner, "recording", id)
}
