package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/httpkit"
)

// The API's paths.
const (
	PathHealth     = "/healthz"
	PathReady      = "/readyz"
	PathMetrics    = "/metrics"
	PathOpenAPI    = "/api/v1/openapi.yaml"
	PathSessions   = "/api/v1/sessions"
	PathStop       = "/api/v1/sessions/:id/stop"
	PathRecordings = "/api/v1/recordings"
	PathRecording  = "/api/v1/recordings/:id"
	PathUploads    = "/api/v1/uploads"
	PathMask       = "/api/v1/mask"
)

// Realm is the realm of the WWW-Authenticate challenge.
const Realm = "recorder-admin"

// routes adds the API's routes to e.
func (s *Server) routes(e *echo.Echo) {
	// Open: probes and the contract.
	e.GET(PathHealth, s.health)
	e.GET(PathReady, s.ready)
	e.GET(PathOpenAPI, openAPI)

	// Behind the token. (Unknown paths are 404 without it: the document is public anyway.)
	auth := s.requireToken
	e.GET(PathMetrics, s.metrics, auth)
	if s.deps.Fleet != nil {
		s.fleetRoutes(e)
	}
	if s.deps.Engine == nil {
		return // a fleet controller: no engine of its own to show
	}
	e.GET(PathSessions, s.sessions, auth)
	e.POST(PathStop, s.stop, auth)
	e.GET(PathRecordings, s.recordings, auth)
	e.GET(PathRecording, s.recording, auth)
	e.GET(PathUploads, s.uploads, auth)
	e.POST(PathMask, s.mask, auth)
	s.consoleRoutes(e)
}

// requireToken lets a request through only with the configured bearer token.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	want := sha256.Sum256([]byte(s.cfg.Token))
	return func(ec echo.Context) error {
		r := ec.Request()
		h := r.Header.Get("Authorization")
		if h == "" && s.consoleCookie(r) {
			return next(ec) // the web console, logged in with the token (console.go)
		}
		if h == "" {
			return unauthorized("", "missing Authorization header: send \"Authorization: Bearer <admin token>\"")
		}
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return unauthorized("invalid_request", "malformed Authorization header: want \"Bearer <admin token>\"")
		}
		// Hashes of equal length, so that the comparison's time says nothing about the
		// token, not even its length.
		got := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			s.log.Warn("admin API: wrong token", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			return unauthorized("invalid_token", "wrong admin token")
		}
		return next(ec)
	}
}

// unauthorized is a 401 with the RFC 6750 challenge (code: its error parameter, if any).
func unauthorized(code, msg string) *httpkit.Error {
	challenge := `Bearer realm="` + Realm + `"`
	if code != "" {
		challenge += `, error="` + code + `"`
	}
	return newError(http.StatusUnauthorized, CodeUnauthorized, "%s", msg).WithHeader("WWW-Authenticate", challenge)
}

// engineError maps an engine call's error to the answer: the engine's sentinels by
// errors.Is, anything else 500 naming the call.
func engineError(op string, err error) *httpkit.Error {
	switch {
	case errors.Is(err, api.ErrNotFound):
		return notFound("%v", err)
	case errors.Is(err, api.ErrTerminal), errors.Is(err, api.ErrIllegalTransition):
		return newError(http.StatusConflict, CodeConflict, "%v", err)
	case errors.Is(err, api.ErrBusy):
		return newError(http.StatusConflict, CodeBusy, "%v; retry when it has settled", err)
	case errors.Is(err, api.ErrInvalidRequest):
		return badRequest("%v", err)
	case errors.Is(err, api.ErrClosed):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "%v: the recorder is shutting down", err)
	}
	return internal("engine: %s: %v", op, err)
}

func (s *Server) health(ec echo.Context) error {
	return httpkit.WriteJSON(ec, http.StatusOK, Health{Status: "ok"})
}

// ready runs the readiness checks: the fleet's state answers (a controller), the engine's
// (engineChecks). The checks run one after the other, each within ReadyTimeout.
func (s *Server) ready(ec echo.Context) error {
	ctx := ec.Request().Context()
	check := func(c Check, fn func(context.Context) error) Check {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
		defer cancel()
		if err := fn(cctx); err != nil {
			c.Error = err.Error()
			return c
		}
		c.OK = true
		return c
	}
	var checks []Check
	if s.deps.Fleet != nil {
		checks = append(checks, check(Check{Name: CheckFleet}, s.deps.Fleet.Ping))
	}
	if s.deps.Engine != nil {
		checks = append(checks, s.engineChecks(check)...)
	}
	out := Readiness{Status: "ready", Checks: checks}
	status := http.StatusOK
	for _, c := range checks {
		if !c.OK {
			out.Status, status = "not_ready", http.StatusServiceUnavailable
		}
	}
	return httpkit.WriteJSON(ec, status, out)
}

// engineChecks are the readiness checks of the engine's side: it answers, its catalog is
// healthy, each display answers, the plugins are up, the spool takes a file.
func (s *Server) engineChecks(check func(Check, func(context.Context) error) Check) []Check {
	checks := []Check{
		check(Check{Name: CheckEngine}, s.deps.Engine.Ping),
		check(Check{Name: CheckCatalog}, s.deps.Engine.CheckCatalog),
	}
	displays := s.deps.Displays
	if len(displays) == 0 {
		displays = []string{""}
	}
	for _, d := range displays {
		checks = append(checks, check(Check{Name: CheckDisplay, Display: d}, func(ctx context.Context) error {
			return s.deps.Engine.CheckDisplay(ctx, d)
		}))
	}
	checks = append(checks,
		check(Check{Name: CheckPlugins}, func(context.Context) error {
			if s.deps.Plugins == nil {
				return nil
			}
			return s.deps.Plugins.Ready()
		}),
		check(Check{Name: CheckSpool}, func(ctx context.Context) error {
			if err := writable(s.deps.SpoolDir); err != nil {
				return err
			}
			return s.deps.Engine.CheckSpace(ctx)
		}),
	)
	return checks
}

// writable checks that a file can be created, written and removed in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".readyz-*")
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte("ok"))
	cerr := f.Close()
	rerr := os.Remove(f.Name())
	return errors.Join(werr, cerr, rerr)
}

func openAPI(ec echo.Context) error {
	return ec.Blob(http.StatusOK, "application/yaml", OpenAPI)
}

func (s *Server) metrics(ec echo.Context) error {
	if s.deps.Metrics == nil {
		return notFound("metrics are off: this recorder runs without telemetry")
	}
	s.deps.Metrics.ServeHTTP(ec.Response(), ec.Request())
	return nil
}

// liveStates are the states of sessions that have not ended.
var liveStates = []api.State{api.StateIdle, api.StateStarting, api.StateRecording, api.StateMasked,
	api.StateStopping, api.StateFinalizing}

func (s *Server) sessions(ec echo.Context) error {
	list, err := s.deps.Engine.List(ec.Request().Context(), api.ListFilter{States: liveStates})
	if err != nil {
		return engineError("list", err)
	}
	// A session can end between the catalog's answer and now.
	live := list[:0]
	for _, x := range list {
		if !x.State.Terminal() {
			live = append(live, x)
		}
	}
	return httpkit.WriteJSON(ec, http.StatusOK, Sessions{Sessions: toSessions(live)})
}

func (s *Server) recordings(ec echo.Context) error {
	q := ec.QueryParams()
	f := api.ListFilter{Owner: q.Get("owner")}
	for _, name := range values(q["state"]) {
		st, err := api.ParseState(name)
		if err != nil {
			return badRequest("state %q is not a session state: use idle, starting, recording, masked, stopping, finalizing, completed or failed", httpkit.Clip(name))
		}
		f.States = append(f.States, st)
	}
	list, err := s.deps.Engine.List(ec.Request().Context(), f)
	if err != nil {
		return engineError("list", err)
	}
	return httpkit.WriteJSON(ec, http.StatusOK, Recordings{Recordings: toSessions(list)})
}

// values splits comma-separated query values: state=a&state=b and state=a,b are the same.
func values(raw []string) []string {
	var out []string
	for _, v := range raw {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// reID is what a session id can look like; anything else is 404 without asking the engine.
var reID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func sessionID(ec echo.Context) (string, *httpkit.Error) {
	id := ec.Param("id")
	if !reID.MatchString(id) {
		return "", notFound("no recording with id %q", httpkit.Clip(id))
	}
	return id, nil
}

func (s *Server) recording(ec echo.Context) error {
	id, herr := sessionID(ec)
	if herr != nil {
		return herr
	}
	sess, err := s.deps.Engine.Get(ec.Request().Context(), id)
	if err != nil {
		return engineError("get", err)
	}
	return httpkit.WriteJSON(ec, http.StatusOK, toSession(sess))
}

func (s *Server) uploads(ec echo.Context) error {
	q := ec.QueryParams()
	f := api.UploadFilter{RecordingID: q.Get("recording_id")}
	for _, name := range values(q["state"]) {
		st := api.UploadState(name)
		if !st.Valid() {
			var valid []string
			for _, v := range api.UploadStates() {
				valid = append(valid, string(v))
			}
			return badRequest("state %q is not an upload state: use %s or %s", httpkit.Clip(name),
				strings.Join(valid[:len(valid)-1], ", "), valid[len(valid)-1])
		}
		f.States = append(f.States, st)
	}
	jobs, err := s.deps.Engine.Uploads(ec.Request().Context(), f)
	if err != nil {
		return engineError("uploads", err)
	}
	out := Uploads{Uploads: make([]Upload, 0, len(jobs))}
	for _, j := range jobs {
		out.Uploads = append(out.Uploads, toUpload(j))
	}
	return httpkit.WriteJSON(ec, http.StatusOK, out)
}

// stop stops a session and waits, up to StopTimeout, for its files to be finalised: 200 with
// the ended session, or 202 with the session still finalising when the wait ran out.
func (s *Server) stop(ec echo.Context) error {
	id, herr := sessionID(ec)
	if herr != nil {
		return herr
	}
	// A client that hangs up does not cancel a stop half-way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ec.Request().Context()), s.cfg.StopTimeout)
	defer cancel()
	sess, err := s.deps.Engine.Stop(ctx, id)
	if errors.Is(err, context.DeadlineExceeded) {
		// Stop takes a running session's stop before it waits, so the deadline usually means
		// that only the finalisation is still going on: say where the session is now.
		gctx, gcancel := context.WithTimeout(context.WithoutCancel(ec.Request().Context()), s.cfg.ReadyTimeout)
		defer gcancel()
		got, gerr := s.deps.Engine.Get(gctx, id)
		switch {
		case gerr != nil:
			return engineError("stop", gerr)
		case got.State == api.StateStopping || got.State == api.StateFinalizing:
			s.log.Info("admin API: stop still finalising", "session", id, "state", got.State)
			return httpkit.WriteJSON(ec, http.StatusAccepted, toSession(got))
		case !got.State.Terminal():
			return internal("engine: stop: session %s is still %s after %s", id, got.State, s.cfg.StopTimeout)
		}
		sess, err = got, nil
	}
	if err != nil {
		return engineError("stop", err)
	}
	s.log.Info("admin API: session stopped", "session", id, "state", sess.State, "remote", ec.Request().RemoteAddr)
	return httpkit.WriteJSON(ec, http.StatusOK, toSession(sess))
}

func (s *Server) mask(ec echo.Context) error {
	body, err := httpkit.ReadBody(ec.Request())
	if err != nil {
		return err
	}
	req, herr := decodeMask(body)
	if herr != nil {
		return herr
	}
	list, err := s.deps.Engine.Mask(ec.Request().Context(), api.MaskTarget{Owner: req.Owner, Display: req.Display}, *req.On)
	if err != nil {
		return engineError("mask", err)
	}
	s.log.Info("admin API: mask", "owner", req.Owner, "display", req.Display, "on", *req.On, "sessions", len(list),
		"remote", ec.Request().RemoteAddr)
	return httpkit.WriteJSON(ec, http.StatusOK, Sessions{Sessions: toSessions(list)})
}

// decodeMask decodes a mask body strictly: one JSON object, no unknown fields, "on" given,
// and an owner or a display.
func decodeMask(body []byte) (MaskRequest, *httpkit.Error) {
	const want = `want {"owner": "...", "display": "...", "on": true|false} with an owner, a display or both`
	var req MaskRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, badRequest("%s: %v", want, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, badRequest("%s: more data after the JSON object", want)
	}
	switch {
	case req.On == nil:
		return req, badRequest("%s: \"on\" is required", want)
	case strings.TrimSpace(req.Owner) == "" && strings.TrimSpace(req.Display) == "":
		return req, badRequest("%s: neither owner nor display is given", want)
	}
	return req, nil
}
