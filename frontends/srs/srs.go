// Package srs is the SRS-compatible local API (docs/api/srs.md): the front
// end an agent desktop (a browser page or a native app on the same machine) calls to say that
// an agent logged in, to keep the session alive and to log out. With recording_when: session
// (the default) a session records the agent's screen from login to logout or ping timeout.
//
//	OPTIONS /api/v2/me, /ping   CORS pre-flight                          → 200 (no auth)
//	GET     /api/v2/me          login with the default place (idempotent) → 200 session
//	POST    /api/v2/me          [{"name","value"}…]: login with configuration (hot seating,
//	                            disaster recovery; updates a live session in place) → 200 session
//	POST    /api/v2/me          {"operationName":"EndContactCenterSession"}: logout → 200 {"statusCode":0}
//	GET     /ping               keep-alive                                 → 200 session, 401
//
// (/api/v2/me/ with a trailing slash is the same endpoint.) Every call but a pre-flight is
// authenticated with Basic credentials, checked by the configured verifier (a users file of
// bcrypt hashes, or the RWS), or with the session cookie. Errors are JSON
// {"statusCode": N, "message": "..."}. openapi.yaml (OpenAPI) describes it all.
//
// Decisions where the vendor is silent:
//   - The session cookie is SRSSESSION, a random 256-bit id (not the CSRF token): HttpOnly,
//     Path=/, SameSite=Lax over HTTP, SameSite=None; Secure over HTTPS; expired by logout and
//     by any request bearing it after its session ended.
//   - A login with X-Support-CSRFP: true gets the session's 256-bit CSRF token (made then if
//     it has none); a GET login of the session's agent returns it again, so a reloaded page
//     can recover it. Later POSTs of a protected session need it in X-CSRF-Token, compared
//     in constant time.
//   - Pre-flights from origins that are not allowed, and POSTs from them, are answered 403;
//     other requests from them get no CORS headers. Requests without Origin (native
//     desktops) are not cross-origin and are served.
//   - A login whose session's recording has ended (failed, stopped elsewhere) starts a new
//     one; a login while it runs keeps it.
//   - Recordings of this front end that the engine already runs when serving starts (a
//     restarted plugin process) are adopted by their agent's next login, or stopped after
//     ping_timeout.
//   - Stop stops serving but not the recordings: the host and engine finalise them.
package srs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
)

// Name is the plugin's name, and the Frontend of the sessions it starts.
const Name = "srs"

// Version is the plugin's version.
const Version = "1.0.0"

// SRS is the front end. Create it with New, then Configure, Serve and Stop.
type SRS struct {
	settings atomic.Pointer[settings]

	mu      sync.Mutex
	srv     *server // while serving
	stopped bool
}

var _ sdk.Frontend = (*SRS)(nil)

// New returns an unconfigured front end; it does nothing until Configure and Serve.
func New() *SRS { return &SRS{} }

// Info identifies the plugin.
func (s *SRS) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindFrontend, Version: Version}, nil
}

// ConfigSchema describes the config section (see Config).
func (s *SRS) ConfigSchema(context.Context) (sdk.Schema, error) {
	out := sdk.Schema{Fields: append([]sdk.Field(nil), schema.Fields...)}
	return out, nil
}

// Configure checks the config section (see Config) strictly: unknown keys and bad values are
// error diagnostics naming the key ("origins[1]", "agents[0].display"), and the previous
// config is kept. It loads the users file and the certificate. While serving, a new config
// applies to the next request (origins, verifier, agents, timeouts, certificate), except the
// listen addresses, which take effect at the next Serve.
func (s *SRS) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, diags := loadSettings(raw)
	if st == nil {
		return diags, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.settings.Load(); old != nil && s.srv != nil {
		if old.cfg.Listen != st.cfg.Listen || old.cfg.HTTPSListen != st.cfg.HTTPSListen {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: "listen",
				Summary: "listen addresses change at the next start",
				Detail:  "the front end keeps serving on its current addresses until it is served again"})
		}
	}
	s.settings.Store(st)
	return diags, nil
}

// Serve starts the HTTP listener (and the HTTPS one when configured) and returns their
// endpoints: {"http", "http://host:port"} and {"https", "https://host:port"}.
func (s *SRS) Serve(ctx context.Context, eng sdk.Engine) ([]sdk.Endpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.settings.Load()
	switch {
	case s.stopped:
		return nil, fmt.Errorf("srs: %w", sdk.ErrStopped)
	case st == nil:
		return nil, fmt.Errorf("srs: %w", sdk.ErrNotConfigured)
	case s.srv != nil:
		return nil, errors.New("srs: already serving")
	case eng == nil:
		return nil, errors.New("srs: no engine")
	}
	srv := newServer(eng, s.settings.Load, slog.Default().With("frontend", Name), context.WithoutCancel(ctx))
	srv.http = srv.newHTTP(st)
	// Orphans are armed before the first request, which may adopt one.
	srv.adoptOrphans(ctx, st)
	started, err := srv.http.Start(ctx)
	if err != nil {
		_ = srv.close(ctx)
		return nil, fmt.Errorf("srs: %w", err)
	}
	eps := make([]sdk.Endpoint, 0, len(started))
	for _, ep := range started {
		eps = append(eps, sdk.Endpoint(ep))
	}
	s.srv = srv
	return eps, nil
}

// Stop stops accepting requests and returns once those in flight are done and the session
// timers are stopped, or ctx ends. Until those in flight are done, the listeners stay open
// and answer every new request 503 (so a polling desktop learns the recorder is going away);
// then they close. The sessions' recordings are left running: the host and the engine
// finalise them on shutdown. It is idempotent.
func (s *SRS) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	srv.stopping.Store(true) // no session times out from now on
	err := srv.http.Stop(ctx)
	if e := srv.close(ctx); e != nil && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("srs: stop: %w", err)
	}
	return nil
}

// Credentials returns the Basic credentials user logged in with, while user has a live
// session: the hand-off to an uploader that uploads with the agent's own login. They live in
// memory only.
func (s *SRS) Credentials(user string) (sdk.Credentials, bool) {
	var out sdk.Credentials
	ok := s.withSession(user, func(sess *session) {
		out = sdk.Credentials{Username: sess.agent, Password: sess.password}
	})
	return out, ok
}

// AgentSession is what a live session knows about its agent, for embedders (an uploader that
// follows the session's RWS after a disaster-recovery login, say).
type AgentSession struct {
	Agent      string
	Place      string
	Devices    []Device
	Server     string
	PeerServer string
	// RecordingID is the engine session recording it; empty with recording_when: never.
	RecordingID string
}

// Session returns user's live session.
func (s *SRS) Session(user string) (AgentSession, bool) {
	var out AgentSession
	ok := s.withSession(user, func(sess *session) {
		out = AgentSession{Agent: sess.agent, Place: sess.place, Server: sess.server,
			PeerServer: sess.peerServer, Devices: append([]Device(nil), sess.devices...)}
		if sess.rec != nil {
			out.RecordingID = sess.rec.ID
		}
	})
	return out, ok
}

// withSession calls fn with user's live session, its slot locked.
func (s *SRS) withSession(user string, fn func(*session)) bool {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return false
	}
	sl := srv.store.acquire(user)
	defer srv.store.release(sl)
	if sl.sess == nil || !time.Now().Before(sl.sess.deadline) {
		return false
	}
	fn(sl.sess)
	return true
}
