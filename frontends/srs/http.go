package srs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/plugins/sdk"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
	"go.opentelemetry.io/otel/attribute"
)

// Header and cookie names of the API.
const (
	// CookieName is the session cookie: a random session id (not the CSRF token), HttpOnly,
	// SameSite=Lax over HTTP and SameSite=None; Secure over HTTPS.
	CookieName = "SRSSESSION"
	// HeaderSupportCSRF on a login asks for CSRF protection of the session.
	HeaderSupportCSRF = "X-Support-CSRFP"
	// HeaderCSRFToken carries the session's CSRF token (login response; later POSTs).
	HeaderCSRFToken = "X-CSRF-Token"
	// HeaderCSRFHeader names the request header that must carry the token.
	HeaderCSRFHeader = "X-CSRF-Header"
	// Realm is the Basic realm of WWW-Authenticate.
	Realm = "SRS"

	corsAllowMethods  = "GET, POST, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, X-Support-CSRFP, X-CSRF-Token"
	corsExposeHeaders = "X-CSRF-Token, X-CSRF-Header"
	corsMaxAge        = "120"
)

// Timeouts of the request paths; variables so tests can shorten them.
var (
	// engineTimeout bounds one engine call (and its ErrBusy retries) made for a request or a
	// timeout. Engine calls do not end with the request: a desktop that hangs up during a
	// login must not leave a half-started recording behind.
	engineTimeout = 30 * time.Second
	// busyRetry is the pause between tries of an engine call answered ErrBusy.
	busyRetry = 100 * time.Millisecond
)

// apiError is an error answered as {"statusCode": status, "message": msg}.
type apiError struct {
	status       int
	msg          string
	retryAfter   time.Duration // 429: Retry-After
	expireCookie bool          // also expire the session cookie
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

func apiErrorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// errorBody is every error's JSON.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
}

// SessionBody is the JSON of a session (login and ping responses).
type SessionBody struct {
	StatusCode         int            `json:"statusCode"`
	Agent              string         `json:"agent"`
	Place              string         `json:"place"`
	Devices            []Device       `json:"devices"`
	Server             string         `json:"server"`
	PeerServer         string         `json:"peerServer"`
	Recording          *RecordingBody `json:"recording"` // null with recording_when: never
	PingTimeoutSeconds float64        `json:"pingTimeoutSeconds"`
}

// RecordingBody is the recording of a session: the engine's state name, the engine's
// session id and since when (start, or end once terminal; RFC 3339 UTC).
type RecordingBody struct {
	State       string    `json:"state"`
	RecordingID string    `json:"recordingId"`
	Since       time.Time `json:"since"`
}

// server is one Serve: the HTTP API over eng, its sessions and their timers.
type server struct {
	eng      sdk.Engine
	settings func() *settings
	store    *store
	throttle *throttle
	log      *slog.Logger

	base   context.Context // lives until Stop is done; the parent of timer-driven engine calls
	cancel context.CancelFunc

	stopping atomic.Bool // set by Stop (under mu): requests are answered 503, timers do nothing

	mu       sync.Mutex
	closed   bool                   // guarded by mu; no timer callback may start
	wg       sync.WaitGroup         // timer callbacks in progress
	requests sync.WaitGroup         // requests in progress (past the stopping check)
	orphans  map[string]*time.Timer // guarded by mu: recordings of an earlier run, by id
}

func newServer(eng sdk.Engine, conf func() *settings, log *slog.Logger, base context.Context) *server {
	ctx, cancel := context.WithCancel(base)
	return &server{eng: eng, settings: conf, store: newStore(), throttle: newThrottle(), log: log,
		base: ctx, cancel: cancel, orphans: map[string]*time.Timer{}}
}

// enterRequest registers a request; false once Stop began.
func (s *server) enterRequest() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		return false
	}
	s.requests.Add(1)
	return true
}

// drain makes every new request answer 503 and waits (until ctx ends) for those in progress.
func (s *server) drain(ctx context.Context) error {
	s.mu.Lock()
	s.stopping.Store(true)
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.requests.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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

// handler returns the HTTP API.
func (s *server) handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard) // never stdout: it carries a plugin's handshake
	e.HTTPErrorHandler = s.writeError
	// Outermost: a span per request named after its route template ("GET /api/v2/me") and
	// http.server.* metrics by route and status, with the global providers (the plugin
	// process's, which report to the host; the host's when in-process).
	e.Use(otelecho.Middleware("", otelecho.WithEchoMetricAttributeFn(metricAttrs)), s.recoverPanics, s.common)
	for _, p := range []string{"/api/v2/me", "/api/v2/me/"} {
		e.GET(p, s.loginDefault)
		e.POST(p, s.postMe)
		e.OPTIONS(p, s.preflight(corsAllowMethods))
	}
	e.GET("/ping", s.ping)
	e.OPTIONS("/ping", s.preflight("GET, OPTIONS"))
	return e
}

// metricAttrs labels the HTTP metrics with the front end's name, in-process or not, so that
// they do not clash with another front end's.
func metricAttrs(echo.Context) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("plugin", Name)}
}

// writeError answers err as the JSON error body.
func (s *server) writeError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := &apiError{}
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he):
		ae = &apiError{status: he.Code, msg: strings.ToLower(http.StatusText(he.Code))}
		switch he.Code {
		case http.StatusNotFound:
			ae.msg = "no such endpoint: " + c.Request().URL.Path
		case http.StatusMethodNotAllowed:
			ae.msg = fmt.Sprintf("method %s is not allowed on %s", c.Request().Method, c.Request().URL.Path)
		}
	default:
		s.log.ErrorContext(c.Request().Context(), "srs: internal error", "path", c.Request().URL.Path, "error", err)
		ae = apiErrorf(http.StatusInternalServerError, "internal error: %v", err)
	}
	h := c.Response().Header()
	switch ae.status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Basic realm="`+Realm+`"`)
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(ae.retryAfter.Seconds()))))
	case http.StatusServiceUnavailable:
		h.Set("Connection", "close")
	}
	if ae.expireCookie {
		http.SetCookie(c.Response(), expiredCookie(c.Request()))
	}
	_ = writeJSON(c, ae.status, errorBody{StatusCode: ae.status, Message: ae.msg})
}

func writeJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Type", "application/json")
	c.Response().WriteHeader(status)
	_, err = c.Response().Write(append(b, '\n'))
	return err
}

// recoverPanics answers a panicking handler with 500 instead of dropping the connection.
func (s *server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(c.Request().Context(), "srs: handler panicked", "path", c.Request().URL.Path, "panic", fmt.Sprint(p))
				err = apiErrorf(http.StatusInternalServerError, "internal error: handler panicked")
			}
		}()
		return next(c)
	}
}

// common sets the headers of every response, the CORS headers of actual requests from
// allowed origins, refuses state-changing requests from other origins, and answers 503 while
// stopping.
func (s *server) common(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, h := c.Request(), c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		allowed := origin != "" && allowedOrigin(s.settings().origins, origin)
		if allowed && r.Method != http.MethodOptions {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		if !s.enterRequest() {
			return apiErrorf(http.StatusServiceUnavailable, "the recorder is shutting down")
		}
		defer s.requests.Done()
		if origin != "" && !allowed && r.Method == http.MethodPost {
			return apiErrorf(http.StatusForbidden, "origin %s is not allowed", origin)
		}
		return next(c)
	}
}

// preflight answers CORS pre-flights (and plain OPTIONS) of a path whose methods are allow.
func (s *server) preflight(allow string) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, h := c.Request(), c.Response().Header()
		origin := r.Header.Get("Origin")
		if origin == "" {
			h.Set("Allow", allow)
			return c.NoContent(http.StatusOK)
		}
		if !allowedOrigin(s.settings().origins, origin) {
			return apiErrorf(http.StatusForbidden, "origin %s is not allowed", origin)
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		if strings.EqualFold(strings.TrimSpace(r.Header.Get("Access-Control-Request-Private-Network")), "true") {
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
		return c.NoContent(http.StatusOK)
	}
}

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

func unauthorized(format string, args ...any) *apiError {
	return apiErrorf(http.StatusUnauthorized, format, args...)
}

// identify finds who r is from: Basic credentials (whose user name must not be locked out)
// win over the cookie. The caller's slot is locked; release it with s.store.release.
func (s *server) identify(ctx context.Context, r *http.Request, st *settings) (*caller, error) {
	if user, pass, ok := r.BasicAuth(); ok {
		if user == "" {
			return nil, unauthorized("no user name in the Basic credentials")
		}
		if d := s.throttle.locked(user, time.Now()); d > 0 {
			return nil, &apiError{status: http.StatusTooManyRequests, retryAfter: d,
				msg: fmt.Sprintf("too many failed logins of %s: try again in %s", user, d.Round(time.Second))}
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
	expired := &apiError{status: http.StatusUnauthorized, expireCookie: true,
		msg: "the session of this cookie has ended (logout or ping timeout): log in again"}
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

// checkCSRF refuses a state-changing request of a CSRF-protected session without its token.
func checkCSRF(r *http.Request, sess *session) error {
	if sess.csrf == "" {
		return nil
	}
	if got := r.Header.Get(HeaderCSRFToken); got == "" || !constantTimeEqual(got, sess.csrf) {
		return apiErrorf(http.StatusForbidden, "Missing or invalid Csrf token")
	}
	return nil
}

// wantsCSRF reports whether a login asks for CSRF protection.
func wantsCSRF(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get(HeaderSupportCSRF)), "true")
}

// engineCtx is the context of engine calls made for r: not cancelled when the client hangs
// up, bounded by engineTimeout.
func engineCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), engineTimeout)
}

// loginDefault is GET /api/v2/me: log in with the agent's default place and the configured
// RWS, or return the agent's session if it has one.
func (s *server) loginDefault(c echo.Context) error {
	r := c.Request()
	st := s.settings()
	ctx, cancel := engineCtx(r)
	defer cancel()
	cl, err := s.identify(ctx, r, st)
	if err != nil {
		return err
	}
	defer s.store.release(cl.slot)
	if sess := cl.sess; sess != nil {
		if err := s.checkSession(ctx, st, cl); err != nil {
			return err
		}
		if err := s.ensureRecording(ctx, st, sess, sess.place, sess.devices, sess.server, sess.peerServer); err != nil {
			return err
		}
		return s.loggedIn(c, st, cl.slot, sess)
	}
	if err := s.verify(ctx, st, cl.user, cl.password, servers(st.cfg.Server, st.cfg.PeerServer)); err != nil {
		return err
	}
	a := st.agent(cl.user)
	return s.open(ctx, c, st, cl, &loginConfig{server: st.cfg.Server, peerServer: st.cfg.PeerServer,
		place: a.Place, devices: a.Devices})
}

// postMe is POST /api/v2/me: a login with configuration, or a logout.
func (s *server) postMe(c echo.Context) error {
	r := c.Request()
	if !hasCredentials(r) {
		return unauthorized("no credentials: send Authorization: Basic, or the session cookie")
	}
	b, err := readJSONBody(c.Response(), r)
	if err != nil {
		return err
	}
	body, err := parseMeBody(b)
	if err != nil {
		return err
	}
	if body.operation != "" {
		return s.logout(c)
	}
	return s.loginConfigured(c, body.login)
}

// loginConfigured is a POST login: a new session, or an update of the agent's session in
// place (hot seating, disaster recovery) whose recording goes on.
func (s *server) loginConfigured(c echo.Context, lc *loginConfig) error {
	r := c.Request()
	st := s.settings()
	ctx, cancel := engineCtx(r)
	defer cancel()
	cl, err := s.identify(ctx, r, st)
	if err != nil {
		return err
	}
	defer s.store.release(cl.slot)
	sess := cl.sess
	if lc.place == "" {
		a := st.agent(cl.user)
		lc.place, lc.devices = a.Place, a.Devices
	}
	// The CSRF check comes as soon as the caller is known to be the session's agent.
	known := sess != nil && (!cl.basic || samePassword(cl.password, sess.password))
	if known {
		if err := checkCSRF(r, sess); err != nil {
			return err
		}
	}
	if err := s.verify(ctx, st, cl.user, cl.password, servers(lc.server, lc.peerServer)); err != nil {
		return err
	}
	if sess == nil {
		return s.open(ctx, c, st, cl, lc)
	}
	if !known {
		if err := checkCSRF(r, sess); err != nil {
			return err
		}
	}
	if err := s.ensureRecording(ctx, st, sess, lc.place, lc.devices, lc.server, lc.peerServer); err != nil {
		return err
	}
	sess.place, sess.devices, sess.server, sess.peerServer = lc.place, lc.devices, lc.server, lc.peerServer
	sess.password = cl.password
	s.log.InfoContext(ctx, "srs: session updated", "agent", cl.user, "place", lc.place, "server", lc.server)
	return s.loggedIn(c, st, cl.slot, sess)
}

// open starts a session for a verified caller: its recording (recording_when: session), its
// cookie, its CSRF token if asked, its ping timer.
func (s *server) open(ctx context.Context, c echo.Context, st *settings, cl *caller, lc *loginConfig) error {
	sess := &session{id: randomToken(), agent: cl.user, password: cl.password}
	if err := s.ensureRecording(ctx, st, sess, lc.place, lc.devices, lc.server, lc.peerServer); err != nil {
		return err
	}
	sess.place, sess.devices, sess.server, sess.peerServer = lc.place, lc.devices, lc.server, lc.peerServer
	s.store.attach(cl.slot, sess)
	recID := ""
	if sess.rec != nil {
		recID = sess.rec.ID
	}
	s.log.InfoContext(ctx, "srs: session opened", "agent", cl.user, "place", lc.place, "server", lc.server, "recording", recID)
	return s.loggedIn(c, st, cl.slot, sess)
}

// loggedIn answers a successful login: the session, its cookie and, if asked, its CSRF
// token (made now if the session has none yet); the ping timer restarts.
func (s *server) loggedIn(c echo.Context, st *settings, sl *slot, sess *session) error {
	r, h := c.Request(), c.Response().Header()
	if wantsCSRF(r) {
		if sess.csrf == "" {
			sess.csrf = randomToken()
		}
		h.Set(HeaderCSRFToken, sess.csrf)
		h.Set(HeaderCSRFHeader, HeaderCSRFToken)
	}
	s.arm(sl, sess, st)
	// The agent's recordings upload with the agent's own credentials and RWS (a DR switch
	// moves uploads too); the engine keeps them in memory only.
	auth := &api.UploadAuth{Credentials: api.Credentials{Username: sess.agent, Password: sess.password},
		Server: sess.server, PeerServer: sess.peerServer}
	if err := s.eng.SetUploadAuth(r.Context(), sess.agent, auth); err != nil {
		s.log.WarnContext(r.Context(), "srs: lending the agent's credentials to uploads failed", "agent", sess.agent, "err", err)
	}
	http.SetCookie(c.Response(), sessionCookie(r, sess.id))
	return writeJSON(c, http.StatusOK, s.body(sess))
}

// logout is POST /api/v2/me {"operationName": "EndContactCenterSession"}: stop and finalise
// the session's recording, end the session.
func (s *server) logout(c echo.Context) error {
	return s.withSession(c, "%s has no session", func(ctx context.Context, st *settings, cl *caller) error {
		r := c.Request()
		if err := checkCSRF(r, cl.sess); err != nil {
			return err
		}
		if err := s.stopRecording(ctx, cl.sess); err != nil {
			s.log.WarnContext(ctx, "srs: logout: cannot stop the recording", "agent", cl.user, "error", err)
			return apiErrorf(http.StatusInternalServerError, "%v", err)
		}
		s.store.detach(cl.slot)
		s.log.InfoContext(ctx, "srs: session ended", "agent", cl.user, "reason", "logout")
		http.SetCookie(c.Response(), expiredCookie(r))
		return writeJSON(c, http.StatusOK, struct {
			StatusCode int `json:"statusCode"`
		}{0})
	})
}

// withSession runs fn for a request that needs the caller's live session: the caller is
// identified and holds its slot while fn runs, must have a session (else 401 with
// noSession, formatted with the user) and pass the session's checks.
func (s *server) withSession(c echo.Context, noSession string, fn func(ctx context.Context, st *settings, cl *caller) error) error {
	r := c.Request()
	st := s.settings()
	ctx, cancel := engineCtx(r)
	defer cancel()
	cl, err := s.identify(ctx, r, st)
	if err != nil {
		return err
	}
	defer s.store.release(cl.slot)
	if cl.sess == nil {
		return unauthorized(noSession, cl.user)
	}
	if err := s.checkSession(ctx, st, cl); err != nil {
		return err
	}
	return fn(ctx, st, cl)
}

// ping is GET /ping: keep the session alive and report it.
func (s *server) ping(c echo.Context) error {
	return s.withSession(c, "%s has no session (logged out or timed out): log in again",
		func(ctx context.Context, st *settings, cl *caller) error {
			s.refresh(ctx, cl.sess)
			s.arm(cl.slot, cl.sess, st)
			return writeJSON(c, http.StatusOK, s.body(cl.sess))
		})
}

// body is the JSON of sess.
func (s *server) body(sess *session) SessionBody {
	b := SessionBody{Agent: sess.agent, Place: sess.place, Devices: sess.devices, Server: sess.server,
		PeerServer: sess.peerServer, PingTimeoutSeconds: sess.timeout.Seconds()}
	if b.Devices == nil {
		b.Devices = []Device{}
	}
	if rec := sess.rec; rec != nil {
		since := rec.StartedAt
		if rec.State.Terminal() && !rec.EndedAt.IsZero() {
			since = rec.EndedAt
		}
		if since.IsZero() {
			since = rec.CreatedAt
		}
		if since.IsZero() {
			since = sess.recSeen
		}
		b.Recording = &RecordingBody{State: rec.State.String(), RecordingID: rec.ID, Since: since.UTC()}
	}
	return b
}

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
