package srs

import (
	"context"
	"time"
)

// Ping timeouts: a session that has not pinged within ping_timeout ends.

// arm (re)starts sess's ping timer with the ping timeout now configured.
func (s *server) arm(sl *slot, sess *session, st *settings) {
	d := st.cfg.PingTimeout
	sess.timeout = d
	sess.deadline = time.Now().Add(d)
	if sess.timer != nil {
		sess.timer.Reset(d)
		return
	}
	t := time.AfterFunc(d, func() { s.expire(sl.user, sess) })
	s.store.mu.Lock() // stopTimers reads it under store.mu
	sess.timer = t
	s.store.mu.Unlock()
}

// expire runs when sess's timer fires: the session ends unless it pinged meanwhile.
func (s *server) expire(user string, sess *session) {
	if !s.enter() {
		return
	}
	defer s.leave()
	sl := s.store.acquire(user)
	defer s.store.release(sl)
	if sl.sess != sess || time.Now().Before(sess.deadline) {
		return // ended already, or pinged: the timer was reset
	}
	ctx, cancel := context.WithTimeout(s.base, engineTimeout)
	defer cancel()
	s.endTimedOut(ctx, sl)
}

// endTimedOut ends sl's session after its ping timeout: its recording is stopped (and so
// finalised and queued for upload by the engine); the session ends even if that fails.
func (s *server) endTimedOut(ctx context.Context, sl *slot) {
	sess := sl.sess
	if err := s.stopRecording(ctx, sess); err != nil {
		s.log.ErrorContext(ctx, "srs: ping timeout: cannot stop the recording", "agent", sess.agent, "error", err)
	}
	s.store.detach(sl)
	s.log.InfoContext(ctx, "srs: session ended", "agent", sl.user, "reason", "ping timeout")
}
