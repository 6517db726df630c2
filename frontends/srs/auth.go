package srs

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/screenrec/recorder/frontends/httpkit"
)

// Authentication: Basic credentials checked by the verifier, or the session cookie.

const (
	// CookieName is the session cookie: a random session id (not the CSRF token), HttpOnly,
	// SameSite=Lax over HTTP and SameSite=None; Secure over HTTPS.
	CookieName = "SRSSESSION"
	// Realm is the Basic realm of WWW-Authenticate.
	Realm = "SRS"
)

// caller is who a request is from: a user with a password (Basic, or the session's own for
// cookie requests), the user's slot (locked) and live session.
type caller struct {
	user     string
	password string
	basic    bool // authenticated by Basic credentials (still to be checked), not the cookie
	slot     *slot
	sess     *session // nil: no live session
}

// hasCredentials reports whether r carries an Authorization header or the session cookie.
func hasCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(CookieName)
	return err == nil
}

// unauthorized is a 401 with the Basic challenge.
func unauthorized(format string, args ...any) *httpkit.Error {
	return apiErrorf(http.StatusUnauthorized, format, args...).WithHeader("WWW-Authenticate", `Basic realm="`+Realm+`"`)
}

// identify finds who r is from: Basic credentials (whose user name must not be locked out)
// win over the cookie. The caller's slot is locked; release it with s.store.release.
func (s *server) identify(ctx context.Context, r *http.Request, st *settings) (*caller, error) {
	if user, pass, ok := r.BasicAuth(); ok {
		if user == "" {
			return nil, unauthorized("no user name in the Basic credentials")
		}
		if d := s.throttle.locked(user, time.Now()); d > 0 {
			return nil, apiErrorf(http.StatusTooManyRequests, "too many failed logins of %s: try again in %s", user, d.Round(time.Second)).
				WithHeader("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		}
		sl := s.store.acquire(user)
		return &caller{user: user, password: pass, basic: true, slot: sl, sess: s.live(ctx, sl)}, nil
	}
	if r.Header.Get("Authorization") != "" {
		return nil, unauthorized("want Basic credentials in Authorization")
	}
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil, unauthorized("no credentials: send Authorization: Basic, or the session cookie")
	}
	expired := unauthorized("the session of this cookie has ended (logout or ping timeout): log in again").
		WithHeader("Set-Cookie", expiredCookie(r).String())
	sess := s.store.byCookie(ck.Value)
	if sess == nil {
		return nil, expired
	}
	sl := s.store.acquire(sess.agent)
	if sl.sess != sess || s.live(ctx, sl) == nil {
		s.store.release(sl)
		return nil, expired
	}
	return &caller{user: sess.agent, password: sess.password, slot: sl, sess: sess}, nil
}

// live returns sl's session, ending it first if its ping timeout has passed (its timer may
// not have run yet).
func (s *server) live(ctx context.Context, sl *slot) *session {
	sess := sl.sess
	if sess != nil && !time.Now().Before(sess.deadline) {
		s.endTimedOut(ctx, sl)
		return nil
	}
	return sess
}

// verify checks user's credentials with the verifier, counting failures towards a lockout.
func (s *server) verify(ctx context.Context, st *settings, user, password string, servers []string) error {
	err := st.verifier.verify(ctx, user, password, servers)
	switch {
	case err == nil:
		s.throttle.ok(user)
		return nil
	case errors.Is(err, ErrInvalidCredentials):
		s.throttle.fail(user, time.Now(), st.cfg.ThrottleFailures, st.cfg.ThrottleLockout)
		s.log.InfoContext(ctx, "srs: login refused", "agent", user, "reason", err)
		return unauthorized("wrong user name or password")
	}
	s.log.WarnContext(ctx, "srs: cannot verify credentials", "agent", user, "error", err)
	return apiErrorf(http.StatusInternalServerError, "%v", err)
}

// checkSession checks the credentials of a caller who has a session: the cookie is enough;
// Basic credentials must be the session's password, or else pass the verifier (the agent
// changed it), which then replaces it.
func (s *server) checkSession(ctx context.Context, st *settings, c *caller) error {
	if !c.basic {
		return nil
	}
	if samePassword(c.password, c.sess.password) {
		s.throttle.ok(c.user)
		return nil
	}
	if err := s.verify(ctx, st, c.user, c.password, c.sess.servers()); err != nil {
		return err
	}
	c.sess.password = c.password
	return nil
}

// sessionCookie is the session cookie for a response to r: SameSite=None; Secure over
// HTTPS (a page of another site calls us), SameSite=Lax over HTTP.
func sessionCookie(r *http.Request, id string) *http.Cookie {
	ck := &http.Cookie{Name: CookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if r.TLS != nil {
		ck.Secure, ck.SameSite = true, http.SameSiteNoneMode
	}
	return ck
}

// expiredCookie deletes the session cookie.
func expiredCookie(r *http.Request) *http.Cookie {
	ck := sessionCookie(r, "")
	ck.MaxAge = -1
	return ck
}
