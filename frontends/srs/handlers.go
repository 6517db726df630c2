package srs

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/httpkit"
)

// The API's handlers: login (GET and POST /api/v2/me), logout and ping, and the session JSON.

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

// loginDefault is GET /api/v2/me: log in with the agent's default place and the configured
// RWS, or return the agent's session if it has one.
func (s *server) loginDefault(c echo.Context) error {
	return s.withCaller(c, func(ctx context.Context, st *settings, cl *caller) error {
		if sess := cl.sess; sess != nil {
			if err := s.checkSession(ctx, st, cl); err != nil {
				return err
			}
			if err := s.ensureRecording(ctx, st, sess, sess.place, sess.devices, sess.server, sess.peerServer); err != nil {
				return err
			}
			return s.loggedIn(c, st, cl.slot, sess)
		}
		if err := s.verify(ctx, st, cl, servers(st.cfg.Server, st.cfg.PeerServer)); err != nil {
			return err
		}
		a := st.agent(cl.user)
		return s.open(ctx, c, st, cl, &loginConfig{server: st.cfg.Server, peerServer: st.cfg.PeerServer,
			place: a.Place, devices: a.Devices})
	})
}

// postMe is POST /api/v2/me: a login with configuration, or a logout.
func (s *server) postMe(c echo.Context) error {
	r := c.Request()
	if !hasCredentials(r) {
		return unauthorized(r, "no credentials: send Authorization: Basic, or the session cookie")
	}
	b, err := readJSONBody(r)
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
	return s.withCaller(c, func(ctx context.Context, st *settings, cl *caller) error {
		sess := cl.sess
		if lc.place == "" {
			a := st.agent(cl.user)
			lc.place, lc.devices = a.Place, a.Devices
		}
		// The CSRF check comes as soon as the caller is known to be the session's agent.
		known := cl.ofSession()
		if known {
			if err := checkCSRF(c.Request(), sess); err != nil {
				return err
			}
		}
		if err := s.verify(ctx, st, cl, servers(lc.server, lc.peerServer)); err != nil {
			return err
		}
		if sess == nil {
			return s.open(ctx, c, st, cl, lc)
		}
		if !known {
			if err := checkCSRF(c.Request(), sess); err != nil {
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
	})
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
	return httpkit.WriteJSON(c, http.StatusOK, s.body(sess))
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
		return httpkit.WriteJSON(c, http.StatusOK, struct {
			StatusCode int `json:"statusCode"`
		}{0})
	})
}

// withSession runs fn for a request that needs the caller's live session: the caller is
// identified and holds its slot while fn runs, must have a session (else 401 with
// noSession, formatted with the user) and pass the session's checks.
func (s *server) withSession(c echo.Context, noSession string, fn func(ctx context.Context, st *settings, cl *caller) error) error {
	return s.withCaller(c, func(ctx context.Context, st *settings, cl *caller) error {
		if cl.sess == nil {
			return unauthorized(c.Request(), noSession, cl.user)
		}
		if err := s.checkSession(ctx, st, cl); err != nil {
			return err
		}
		return fn(ctx, st, cl)
	})
}

// withCaller runs fn for the caller of a request, identified, holding its slot while fn
// runs, with the config in force and a context for engine calls (see engineCtx).
func (s *server) withCaller(c echo.Context, fn func(ctx context.Context, st *settings, cl *caller) error) error {
	r := c.Request()
	st := s.settings()
	ctx, cancel := engineCtx(r)
	defer cancel()
	cl, err := s.identify(ctx, r, st)
	if err != nil {
		return err
	}
	defer s.store.release(cl.slot)
	return fn(ctx, st, cl)
}

// ping is GET /ping: keep the session alive and report it.
func (s *server) ping(c echo.Context) error {
	return s.withSession(c, "%s has no session (logged out or timed out): log in again",
		func(ctx context.Context, st *settings, cl *caller) error {
			s.refresh(ctx, cl.sess)
			s.arm(cl.slot, cl.sess, st)
			return httpkit.WriteJSON(c, http.StatusOK, s.body(cl.sess))
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
