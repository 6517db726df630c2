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
	// Realm is the realm of WWW-Authenticate.
	Realm = "SRS"
	// pageScheme is the challenge scheme of 401s to pages: browsers do not prompt for it, so
	// the page gets the 401 itself (with Basic, Chromium opens its own sign-in dialog and a
	// credentialed fetch never resolves).
	pageScheme = "SRS"
)

// caller is who a request is from: a user with a password (Basic, or the session's own for
// cookie requests), the user's slot (locked) and live session, and the request (whose Origin
// picks the challenge of a 401).
type caller struct {
	r        *http.Request
	user     string
	password string
	basic    bool // authenticated by Basic credentials (still to be checked), not the cookie
	slot     *slot
	sess     *session // nil: no live session
}

// ofSession reports whether the caller is its live session's: by its cookie, or by the
// credentials the session holds. Such requests are never throttled.
func (c *caller) ofSession() bool {
	return c.sess != nil && (!c.basic || samePassword(c.password, c.sess.password))
}

// hasCredentials reports whether r carries an Authorization header or the session cookie.
func hasCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(CookieName)
	return err == nil
}

// unauthorized is a 401 to r with its challenge: the SRS scheme to a page (r has an Origin),
// Basic to a native client.
func unauthorized(r *http.Request, format string, args ...any) *httpkit.Error {
	scheme := "Basic"
	if r.Header.Get("Origin") != "" {
		scheme = pageScheme
	}
	return apiErrorf(http.StatusUnauthorized, format, args...).WithHeader("WWW-Authenticate", scheme+` realm="`+Realm+`"`)
}

// identify finds who r is from: Basic credentials win over the cookie. A locked-out user name
// is refused unless the credentials are those of its live session: throttling holds back new
// logins (and password guesses), never a live session's requests. The caller's slot is
// locked; release it with s.store.release.
func (s *server) identify(ctx context.Context, r *http.Request, st *settings) (*caller, error) {
	if user, pass, ok := r.BasicAuth(); ok {
		if user == "" {
			return nil, unauthorized(r, "no user name in the Basic credentials")
		}
		sl := s.store.acquire(user)
		cl := &caller{r: r, user: user, password: pass, basic: true, slot: sl, sess: s.live(ctx, sl)}
		if cl.ofSession() {
			return cl, nil
		}
		if d := s.throttle.locked(user, time.Now()); d > 0 {
			s.store.release(sl)
			return nil, apiErrorf(http.StatusTooManyRequests, "too many failed logins of %s: try again in %s", user, d.Round(time.Second)).
				WithHeader("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		}
		return cl, nil
	}
	if r.Header.Get("Authorization") != "" {
		return nil, unauthorized(r, "want Basic credentials in Authorization")
	}
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil, unauthorized(r, "no credentials: send Authorization: Basic, or the session cookie")
	}
	expired := unauthorized(r, "the session of this cookie has ended (logout or ping timeout): log in again").
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
	return &caller{r: r, user: sess.agent, password: sess.password, slot: sl, sess: sess}, nil
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

// verify checks the caller's credentials with the verifier, counting failures towards a
// lockout.
func (s *server) verify(ctx context.Context, st *settings, cl *caller, servers []string) error {
	user := cl.user
	err := st.verifier.verify(ctx, user, cl.password, servers)
	switch {
	case err == nil:
		s.throttle.ok(user)
		return nil
	case errors.Is(err, ErrInvalidCredentials):
		s.throttle.fail(user, time.Now(), st.cfg.ThrottleFailures, st.cfg.ThrottleLockout)
		s.log.InfoContext(ctx, "srs: login refused", "agent", user, "reason", err)
		return unauthorized(cl.r, "wrong user name or password")
	}
	s.log.WarnContext(ctx, "srs: cannot verify credentials", "agent", user, "error", err)
	return apiErrorf(http.StatusInternalServerError, "%v", err)
}

// checkSession checks the credentials of a caller who has a session: the cookie is enough;
// Basic credentials must be the session's password, or else pass the verifier (the agent
// changed it), which then replaces it. The session's own requests leave the failure count
// alone (only a verified login clears it), so that an agent's pings do not lift a lockout.
func (s *server) checkSession(ctx context.Context, st *settings, c *caller) error {
	if c.ofSession() {
		return nil
	}
	if err := s.verify(ctx, st, c, c.sess.servers()); err != nil {
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
