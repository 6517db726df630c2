package srs

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/screenrec/recorder/engine/api"
)

// session is one agent's login: what the desktop configured, the credentials (in memory
// only, for verification and the uploader hand-off), the CSRF token and the recording.
// Its fields are guarded by the mutex of its agent's slot.
type session struct {
	id       string // the session cookie's value; never logged
	agent    string
	password string // never logged, never written
	csrf     string // empty: opened without X-Support-CSRFP

	place      string
	devices    []Device
	server     string
	peerServer string

	// rec is the last snapshot of the session's recording; nil when it has none.
	rec *api.Session
	// recSeen is when the front end got rec first (since, when the engine gives no times).
	recSeen time.Time

	timeout  time.Duration // the ping timeout in force
	deadline time.Time     // no ping by then ends the session
	timer    *time.Timer   // set once, under the slot's mutex and store.mu
}

// servers returns the session's RWS URLs, primary first.
func (s *session) servers() []string { return servers(s.server, s.peerServer) }

func servers(primary, peer string) []string {
	var out []string
	for _, s := range []string{primary, peer} {
		if s != "" && (len(out) == 0 || out[0] != s) {
			out = append(out, s)
		}
	}
	return out
}

// slot serialises everything done to one agent (login, ping, logout, timeout) and holds its
// live session. refs counts the goroutines holding or waiting for it, so that slots of agents
// without a session are dropped once nobody uses them.
type slot struct {
	mu   sync.Mutex
	user string
	refs int // guarded by store.mu
	sess *session
}

// store holds the slots by user name and the live sessions by cookie value. Lock order: a
// slot's mutex before store.mu.
type store struct {
	mu    sync.Mutex
	slots map[string]*slot
	byID  map[string]*session
}

func newStore() *store {
	return &store{slots: map[string]*slot{}, byID: map[string]*session{}}
}

// acquire returns user's slot, locked.
func (st *store) acquire(user string) *slot {
	st.mu.Lock()
	sl := st.slots[user]
	if sl == nil {
		sl = &slot{user: user}
		st.slots[user] = sl
	}
	sl.refs++
	st.mu.Unlock()
	sl.mu.Lock()
	return sl
}

// release unlocks sl and forgets it when nobody uses it and it has no session.
func (st *store) release(sl *slot) {
	sl.mu.Unlock()
	st.mu.Lock()
	sl.refs--
	if sl.refs == 0 && sl.sess == nil {
		delete(st.slots, sl.user)
	}
	st.mu.Unlock()
}

// byCookie returns the session whose cookie value is id.
func (st *store) byCookie(id string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.byID[id]
}

// attach makes sess the live session of sl (locked).
func (st *store) attach(sl *slot, sess *session) {
	sl.sess = sess
	st.mu.Lock()
	st.byID[sess.id] = sess
	st.mu.Unlock()
}

// detach ends sl's session (sl locked): its timer stops, its cookie and token stop working.
func (st *store) detach(sl *slot) {
	sess := sl.sess
	if sess == nil {
		return
	}
	if sess.timer != nil {
		sess.timer.Stop()
	}
	st.mu.Lock()
	delete(st.byID, sess.id)
	st.mu.Unlock()
	sess.password = ""
	sl.sess = nil
}

// stopTimers stops every session's timer (on Stop: no session times out any more).
func (st *store) stopTimers() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, sess := range st.byID {
		if sess.timer != nil {
			sess.timer.Stop()
		}
	}
}

// randomToken returns 256 random bits, base64url without padding (43 characters).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// constantTimeEqual compares secrets (CSRF tokens) without leaking where they differ. A
// variable so a test can check that the CSRF check goes through it.
var constantTimeEqual = func(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// throttle locks out user names after repeated failed logins.
type throttle struct {
	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	n     int
	last  time.Time
	until time.Time // locked out until then
}

// maxThrottleEntries bounds the throttle's memory; past it, stale entries are pruned.
const maxThrottleEntries = 10000

func newThrottle() *throttle { return &throttle{m: map[string]*failures{}} }

// locked returns how long user stays locked out (0: not locked).
func (t *throttle) locked(user string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[user]
	if f == nil || f.until.IsZero() {
		return 0
	}
	if !now.Before(f.until) {
		delete(t.m, user) // the lockout is over: a fresh start
		return 0
	}
	return f.until.Sub(now)
}

// fail counts a failed login of user; the max-th locks it out for lockout. max 0: off.
func (t *throttle) fail(user string, now time.Time, max int, lockout time.Duration) {
	if max <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxThrottleEntries {
		for u, f := range t.m {
			if now.After(f.until) && now.Sub(f.last) > time.Hour {
				delete(t.m, u)
			}
		}
	}
	f := t.m[user]
	if f == nil {
		f = &failures{}
		t.m[user] = f
	}
	f.n++
	f.last = now
	if f.n >= max {
		f.n = 0
		f.until = now.Add(lockout)
	}
}

// ok forgets user's failures after a successful login.
func (t *throttle) ok(user string) {
	t.mu.Lock()
	delete(t.m, user)
	t.mu.Unlock()
}
