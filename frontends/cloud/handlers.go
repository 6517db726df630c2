package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/httpkit"
	"github.com/screenrec/recorder/plugins/sdk"
)

// The API's paths. Start and stop are served with and without /v1: the vendor's own pages
// use both.
const (
	PathToken          = "/authentication/v1/token/access-key"
	PathStart          = "/interaction-recording-management-service/v1/interactions/start-screen-interaction-recording"
	PathStartNoVersion = "/interaction-recording-management-service/interactions/start-screen-interaction-recording"
	PathStop           = "/interaction-recording-management-service/v1/interactions/stop-screen-interaction-recording"
	PathStopNoVersion  = "/interaction-recording-management-service/interactions/stop-screen-interaction-recording"
)

// MinRecordingDuration and MaxRecordingDuration bound recordingDuration, in seconds (5 s to
// 3 h 30 min).
const (
	MinRecordingDuration = 5
	MaxRecordingDuration = 13200
)

// Label is the label every recording started here carries, with the value LabelValue.
const (
	Label      = "source"
	LabelValue = "cloud-api"
)

// pollInterval is how often a start asks the engine whether the first frame is there; a
// variable so tests can shorten it.
var pollInterval = 25 * time.Millisecond

// The success bodies.
type (
	tokenResponse struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	startOK struct {
		Description   string `json:"description"`
		ContactID     int64  `json:"contactId"`
		InteractionID string `json:"interactionId"`
		HTTPStatus    string `json:"httpStatus"`
	}
	startAccepted struct {
		ContactID     int64  `json:"contactId"`
		InteractionID string `json:"interactionId"`
		HTTPStatus    string `json:"httpStatus"`
	}
	stopOK struct {
		Description string `json:"description"`
		ContactID   int64  `json:"contactId"`
		HTTPStatus  string `json:"httpStatus"`
	}
	stopAccepted struct {
		ContactID  int64  `json:"contactId"`
		HTTPStatus string `json:"httpStatus"`
	}
)

const arrivalKey = "cloud.arrival"

// handlers serve the API with one engine.
type handlers struct {
	c   *Cloud
	eng sdk.Engine
}

// newHTTP returns the API's HTTP server (httpkit: listeners, timeouts, draining, telemetry,
// panics, body limit, error answers) with the routes of the API.
func newHTTP(c *Cloud, eng sdk.Engine, st *settings) *httpkit.Server {
	h := &handlers{c: c, eng: eng}
	hs := httpkit.New(httpkit.Options{
		Name: Name, Listen: st.cfg.Listen, HTTPSListen: st.cfg.HTTPSListen,
		// The certificate of the config in force, so a new config (or renewed files) rotate it.
		CertFiles: func() (string, string) { c := c.settings().cfg; return c.CertFile, c.KeyFile },
		ErrorBody: answerBody,
		MaxBody:   MaxBodyBytes,
		// A start or stop makes up to three engine calls and waits out the confirmation window.
		HandlerTimeout: func() time.Duration { c := c.settings().cfg; return 3*c.EngineTimeout + c.ConfirmWindow },
		Log:            slog.Default(),
	})
	e := hs.Echo()
	e.Use(noteArrival)
	e.POST(PathToken, h.token)
	e.POST(PathStart, h.start)
	e.POST(PathStartNoVersion, h.start)
	e.POST(PathStop, h.stop)
	e.POST(PathStopNoVersion, h.stop)
	return hs
}

// noteArrival notes the request's arrival: the confirmation window counts from it.
func noteArrival(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		ec.Set(arrivalKey, time.Now())
		return next(ec)
	}
}

func arrival(ec echo.Context) time.Time {
	if t, ok := ec.Get(arrivalKey).(time.Time); ok {
		return t
	}
	return time.Now()
}

// token is POST /authentication/v1/token/access-key.
func (h *handlers) token(ec echo.Context) error {
	st := h.c.settings()
	body, err := httpkit.ReadBody(ec.Request())
	if err != nil {
		return err
	}
	var req struct {
		AccessKeyID     string `json:"accessKeyId"`
		AccessKeySecret string `json:"accessKeySecret"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest(`want a JSON body {"accessKeyId": "...", "accessKeySecret": "..."}: %v`, err)
	}
	switch {
	case req.AccessKeyID == "":
		return badRequest("accessKeyId is required")
	case req.AccessKeySecret == "":
		return badRequest("accessKeySecret is required")
	}
	k, ok := st.checkAccessKey(req.AccessKeyID, req.AccessKeySecret)
	if !ok {
		slog.WarnContext(ec.Request().Context(), "cloud: access key refused", "access_key", httpkit.Clip(req.AccessKeyID))
		return httpkit.Errorf(http.StatusUnauthorized, "wrong access key id or secret")
	}
	tok, err := st.issueToken(req.AccessKeyID, k, time.Now())
	if err != nil {
		return internal("token: %v", err)
	}
	slog.InfoContext(ec.Request().Context(), "cloud: access token issued", "access_key", req.AccessKeyID, "signing_key", st.active)
	return httpkit.WriteJSON(ec, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(st.cfg.TokenTTL / time.Second)})
}

// request is what start and stop have in common once checked: the caller is authorised, the
// user is known and locked.
type request struct {
	st      *settings
	r       *http.Request
	arrival time.Time
	key     string // the caller's access key id
	user    string
	display string
	unlock  func()
}

// begin runs the checks start and stop share, in order: body size (413), token (401, 403),
// query (400, with more checked by parse), user (404), then the user's lock (425). The
// caller must call req.unlock.
func (h *handlers) begin(ec echo.Context, parse func(url.Values) *httpkit.Error) (*request, error) {
	st := h.c.settings()
	r := ec.Request()
	// The body is not used, but a body over the cap is still refused.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, err // answered 413
		}
	}
	key, herr := st.authorize(r, PermissionRecordScreenInteraction)
	if herr != nil {
		return nil, herr
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("malformed query string: %v", err)
	}
	user, herr := single(q, "userId", "user-id")
	if herr != nil {
		return nil, herr
	}
	if user == "" {
		return nil, badRequest("userId is required (also accepted as user-id)")
	}
	if herr := parse(q); herr != nil {
		return nil, herr
	}
	req := &request{st: st, r: r, arrival: arrival(ec), key: key, user: user}
	if h.c.dir != nil {
		return req, h.locate(req)
	}
	display, known := st.users[user]
	if !known {
		return nil, notFound("user %q is unknown to this recorder: no screen is mapped to it", httpkit.Clip(user))
	}
	unlock, ok := h.c.locks.try(user)
	if !ok {
		return nil, tooEarly("a previous start or stop for user %q is still being processed; retry when it has finished", user)
	}
	req.display, req.unlock = display, unlock
	return req, nil
}

// locate asks the directory where req's user is (404 when nowhere) and takes their lock (425
// when held).
func (h *handlers) locate(req *request) error {
	ctx, cancel := req.engineCtx()
	defer cancel()
	display, err := h.c.dir.Locate(ctx, req.user)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return notFound("user %q is present on no machine: %v", httpkit.Clip(req.user), err)
	case err != nil:
		return engineError("locate", err, req.st.cfg.EngineTimeout)
	}
	unlock, err := h.c.dir.Lock(ctx, req.user)
	switch {
	case errors.Is(err, api.ErrBusy):
		return tooEarly("a previous start or stop for user %q is still being processed; retry when it has finished", req.user)
	case err != nil:
		return engineError("lock", err, req.st.cfg.EngineTimeout)
	}
	req.display, req.unlock = display, unlock
	return nil
}

// engineCtx bounds an engine call by engine_timeout. It does not end when the client hangs
// up: a start or stop is never cancelled half-way.
func (req *request) engineCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(req.r.Context()), req.st.cfg.EngineTimeout)
}

// deadline is when the confirmation window ends.
func (req *request) deadline() time.Time { return req.arrival.Add(req.st.cfg.ConfirmWindow) }

// start is POST …/start-screen-interaction-recording.
func (h *handlers) start(ec echo.Context) error {
	var secs int64
	req, err := h.begin(ec, func(q url.Values) *httpkit.Error {
		var herr *httpkit.Error
		secs, herr = recordingDuration(q)
		return herr
	})
	if err != nil {
		return err
	}
	defer req.unlock()
	ctx, cancel := req.engineCtx()
	defer cancel()
	s, err := h.eng.Start(ctx, api.StartRequest{
		Owner:    req.user,
		Frontend: Name,
		Reason:   fmt.Sprintf("cloud API start by access key %s for %d s", req.key, secs),
		Source:   api.Source{Display: req.display},
		Limits:   api.Limits{MaxDuration: time.Duration(secs) * time.Second},
		Labels:   map[string]string{Label: LabelValue},
	})
	if errors.Is(err, api.ErrAlreadyRecording) {
		return h.alreadyRecording(ec, req, err)
	}
	if err != nil && h.c.dir != nil && errors.Is(err, api.ErrNotFound) {
		return notFound("user %q is no longer present where they were: %v", httpkit.Clip(req.user), err)
	}
	if err != nil {
		return engineError("start", err, req.st.cfg.EngineTimeout)
	}
	s, confirmed, herr := h.firstFrame(req, s)
	switch {
	case herr != nil:
		return herr
	case confirmed:
		return httpkit.WriteJSON(ec, http.StatusOK, startOK{
			Description: fmt.Sprintf("screen recording of user %s started (contact %d): first frame recorded; it stops by itself after %d s",
				req.user, s.ContactID, secs),
			ContactID: s.ContactID, InteractionID: s.InteractionID, HTTPStatus: reason(http.StatusOK)})
	}
	return httpkit.WriteJSON(ec, http.StatusAccepted, startAccepted{ContactID: s.ContactID, InteractionID: s.InteractionID,
		HTTPStatus: reason(http.StatusAccepted)})
}

// alreadyRecording answers a start for a user who already has a recording from this front
// end: 200 with its ids, unchanged, while it runs; 425 while it is still starting or
// stopping.
func (h *handlers) alreadyRecording(ec echo.Context, req *request, err error) error {
	var s api.Session
	if are := (*api.AlreadyRecordingError)(nil); errors.As(err, &are) && are != nil {
		s = are.Session
	} else {
		// An engine that does not say which session: look it up.
		ctx, cancel := req.engineCtx()
		defer cancel()
		list, lerr := h.eng.List(ctx, api.ListFilter{Owner: req.user})
		if lerr != nil {
			return engineError("list", lerr, req.st.cfg.EngineTimeout)
		}
		found := false
		for _, o := range list {
			if o.Frontend == Name && o.Owner == req.user && !o.State.Terminal() {
				s, found = o, true
			}
		}
		if !found {
			return tooEarly("engine: start: %v; the recording has ended meanwhile: retry", err)
		}
	}
	switch s.State {
	case api.StateRecording, api.StateMasked:
		return httpkit.WriteJSON(ec, http.StatusOK, startOK{
			Description: fmt.Sprintf("user %s is already being recorded through this API (contact %d): no new recording, duration unchanged",
				req.user, s.ContactID),
			ContactID: s.ContactID, InteractionID: s.InteractionID, HTTPStatus: reason(http.StatusOK)})
	case api.StateStopping, api.StateFinalizing:
		return tooEarly("the recording of user %s (contact %d) is still being stopped; retry when it has finished", req.user, s.ContactID)
	}
	return tooEarly("a start of user %s (contact %d) is still being processed (%s); retry when it has finished", req.user, s.ContactID, s.State)
}

// firstFrame waits until the window ends for the recording's first frame (a Duration above
// zero). It reports whether the frame came; a recording that failed meanwhile is a 500.
func (h *handlers) firstFrame(req *request, s api.Session) (api.Session, bool, *httpkit.Error) {
	deadline := req.deadline()
	for {
		switch {
		case s.Duration > 0:
			return s, true, nil
		case s.State == api.StateFailed:
			return s, false, internal("engine: start: the recording of contact %d failed: %s", s.ContactID, s.Error)
		case s.State.Terminal():
			return s, false, nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return s, false, nil
		}
		t := time.NewTimer(min(wait, pollInterval))
		select {
		case <-req.r.Context().Done(): // the client is gone: nobody waits for the answer
			t.Stop()
			return s, false, nil
		case <-t.C:
		}
		ctx, cancel := context.WithDeadline(req.r.Context(), deadline)
		ctx, cancel2 := context.WithTimeout(ctx, req.st.cfg.EngineTimeout)
		got, err := h.eng.Get(ctx, s.ID)
		cancel2()
		cancel()
		if err != nil {
			return s, false, nil // it started; only the confirmation is missing
		}
		s = got
	}
}

// stop is POST …/stop-screen-interaction-recording.
func (h *handlers) stop(ec echo.Context) error {
	var contact int64
	req, err := h.begin(ec, func(q url.Values) *httpkit.Error {
		var herr *httpkit.Error
		contact, herr = contactID(q)
		return herr
	})
	if err != nil {
		return err
	}
	defer req.unlock()
	ctx, cancel := req.engineCtx()
	list, err := h.eng.List(ctx, api.ListFilter{Owner: req.user})
	cancel()
	if err != nil {
		return engineError("list", err, req.st.cfg.EngineTimeout)
	}
	var s *api.Session
	for i, o := range list {
		if o.Frontend == Name && o.Owner == req.user && o.ContactID == contact && (s == nil || !o.State.Terminal()) {
			s = &list[i]
		}
	}
	if s == nil || s.State.Terminal() {
		return notFound("no running recording with contact %d for user %s", contact, req.user)
	}
	switch s.State {
	case api.StateRecording, api.StateMasked:
	case api.StateStopping, api.StateFinalizing:
		return tooEarly("the stop of contact %d is still being processed; retry when it has finished", contact)
	default:
		return tooEarly("the start of contact %d is still being processed (%s); retry when it has finished", contact, s.State)
	}
	return h.stopAndWait(ec, req, *s)
}

type stopResult struct {
	s   api.Session
	err error
}

// stopAndWait stops s and answers 200 if it is finalised within the window, 202 if the
// engine has taken the stop but is still finalising, or what the engine's answer says. The
// engine call itself runs with the full engine_timeout, in the background if it outlives the
// request.
func (h *handlers) stopAndWait(ec echo.Context, req *request, s api.Session) error {
	done := make(chan stopResult, 1)
	ctx, cancel := req.engineCtx()
	h.c.bg.add()
	go func() {
		defer h.c.bg.done()
		defer cancel()
		got, err := h.eng.Stop(ctx, s.ID)
		done <- stopResult{got, err}
	}()
	window := time.NewTimer(time.Until(req.deadline()))
	defer window.Stop()
	select {
	case res := <-done:
		return h.stopAnswer(ec, req, s, res)
	case <-window.C:
	}
	if got, err := h.get(req, s.ID); err == nil && stopTaken(got.State) {
		return h.stopAnswer(ec, req, s, stopResult{got, nil})
	}
	// The engine has not taken the stop yet: wait for its own answer.
	return h.stopAnswer(ec, req, s, <-done)
}

// stopTaken reports whether a session's state shows that a stop has been taken.
func stopTaken(st api.State) bool {
	return st == api.StateStopping || st == api.StateFinalizing || st.Terminal()
}

func (h *handlers) get(req *request, id string) (api.Session, error) {
	ctx, cancel := req.engineCtx()
	defer cancel()
	return h.eng.Get(ctx, id)
}

// stopAnswer turns the outcome of a stop into the answer.
func (h *handlers) stopAnswer(ec echo.Context, req *request, s api.Session, res stopResult) error {
	err := res.err
	if errors.Is(err, context.DeadlineExceeded) {
		// Stop waits for finalisation: its deadline may only mean that this is still going on.
		if got, gerr := h.get(req, s.ID); gerr == nil && stopTaken(got.State) {
			res, err = stopResult{got, nil}, nil
		}
	}
	switch {
	case errors.Is(err, api.ErrNotFound), errors.Is(err, api.ErrTerminal):
		return notFound("no running recording with contact %d for user %s: it has ended", s.ContactID, req.user)
	case err != nil:
		return engineError("stop", err, req.st.cfg.EngineTimeout)
	case res.s.State == api.StateCompleted:
		return httpkit.WriteJSON(ec, http.StatusOK, stopOK{
			Description: fmt.Sprintf("screen recording of user %s stopped (contact %d) and finalised", req.user, s.ContactID),
			ContactID:   s.ContactID, HTTPStatus: reason(http.StatusOK)})
	case res.s.State == api.StateFailed:
		return internal("engine: stop: the recording of contact %d failed: %s", s.ContactID, res.s.Error)
	}
	return httpkit.WriteJSON(ec, http.StatusAccepted, stopAccepted{ContactID: s.ContactID, HTTPStatus: reason(http.StatusAccepted)})
}

// single returns the value of a query parameter that may be spelt several ways (userId,
// user-id); different values are a 400. Absent: "".
func single(q url.Values, names ...string) (string, *httpkit.Error) {
	var val, from string
	for _, n := range names {
		for _, v := range q[n] {
			if from == "" {
				val, from = v, n
				continue
			}
			if v != val {
				if n == from {
					return "", badRequest("%s is given twice with different values (%q, %q)", n, httpkit.Clip(val), httpkit.Clip(v))
				}
				return "", badRequest("%s and %s name different values (%q, %q): give one", from, n, httpkit.Clip(val), httpkit.Clip(v))
			}
		}
	}
	return val, nil
}

// recordingDuration checks recordingDuration: whole seconds, 5 to 13200.
func recordingDuration(q url.Values) (int64, *httpkit.Error) {
	v, herr := single(q, "recordingDuration")
	if herr != nil {
		return 0, herr
	}
	if v == "" {
		return 0, badRequest("recordingDuration is required: whole seconds from %d to %d", MinRecordingDuration, MaxRecordingDuration)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest("recordingDuration %q is not a whole number of seconds (%d to %d)", httpkit.Clip(v), MinRecordingDuration, MaxRecordingDuration)
	}
	if n < MinRecordingDuration || n > MaxRecordingDuration {
		return 0, badRequest("recordingDuration %d is out of range: %d to %d seconds (3 h 30 min)", n, MinRecordingDuration, MaxRecordingDuration)
	}
	return n, nil
}

// contactID checks contactId: a positive integer, also accepted as a quoted numeric string
// ("1122334455").
func contactID(q url.Values) (int64, *httpkit.Error) {
	v, herr := single(q, "contactId")
	if herr != nil {
		return 0, herr
	}
	if v == "" {
		return 0, badRequest("contactId is required: the contactId the start answered")
	}
	digits := v
	if len(digits) >= 2 && digits[0] == '"' && digits[len(digits)-1] == '"' {
		digits = digits[1 : len(digits)-1]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		return 0, badRequest("contactId %q is not a contact id (a positive integer)", httpkit.Clip(v))
	}
	return n, nil
}

// userLocks is one try-lock per user: a start or stop holds its user's for the whole of its
// handling.
type userLocks struct {
	mu   sync.Mutex
	held map[string]bool
}

// try takes user's lock and returns its release, or reports that it is held.
func (l *userLocks) try(user string) (unlock func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[user] {
		return nil, false
	}
	if l.held == nil {
		l.held = map[string]bool{}
	}
	l.held[user] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, user)
			l.mu.Unlock()
		})
	}, true
}
