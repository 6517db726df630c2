package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/pipeline"
)

// Option configures an Engine beyond its Config.
type Option func(*options)

type options struct {
	log         *slog.Logger
	eventBuffer int
	tracer      trace.TracerProvider
	meter       metric.MeterProvider
	backend     capture.Backend
}

// WithLogger sets the engine's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithEventBuffer sets how many events a subscriber may fall behind before it loses the
// oldest (default 256).
func WithEventBuffer(n int) Option { return func(o *options) { o.eventBuffer = n } }

// WithTracerProvider sets where the engine's spans go: a span per session and per upload
// attempt (default otel.GetTracerProvider(), a no-op unless the program set one). A session's
// span is a child of the context passed to Start, so a front end's request and the recording
// it starts share a trace.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tracer = tp } }

// WithMeterProvider sets where the engine's metrics go (default otel.GetMeterProvider(), a
// no-op unless the program set one); see the Metric* names.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.meter = mp } }

// WithCaptureBackend sets where captures come from (default capture.System, the display
// server). It is the engine's test seam: a scripted screen (engine/capture/capturetest) lets
// the session rules (sharing, masking, limits, states, events) run without an X server.
func WithCaptureBackend(b capture.Backend) Option { return func(o *options) { o.backend = b } }

// Engine runs recording sessions. It is safe for concurrent use.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	cat  *catalog.Catalog
	hub  *hub
	spec pipeline.CaptureSpec // the capture settings every session shares
	tel  *telemetry

	mu             sync.Mutex
	closed         bool
	sessions       map[string]*session // not yet ended
	captures       map[string]*sharedCapture
	maskedOwners   map[string]bool
	maskedDisplays map[string]bool
	sessionsWG     sync.WaitGroup
	liveCaptures   map[*pipeline.Capture]struct{} // open captures, for the metrics
	retired        retired                        // what ended sessions and captures counted

	stopWatch context.CancelFunc // ends watchDisk
	watchDone chan struct{}      // closed when watchDisk has returned

	authMu     sync.Mutex
	auth       map[string]*UploadAuth // by owner; memory only
	uploadWake chan struct{}
	// removeMu serialises the deletion of uploaded segments' files.
	removeMu sync.Mutex
}

// New opens the spool folder and its catalog, and finalises recordings a crash left
// unfinished (kept up to their last complete fragment, marked completed and interrupted, and
// queued for upload). A damaged catalog (ErrCatalogDamaged), or a missing or empty one beside
// recordings (ErrCatalogEmpty), is refused and left as it is; the error names the file and
// how to rebuild it (RebuildCatalog).
func New(ctx context.Context, cfg Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := options{log: slog.Default(), eventBuffer: DefaultEventBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	if o.tracer == nil {
		o.tracer = otel.GetTracerProvider()
	}
	if o.meter == nil {
		o.meter = otel.GetMeterProvider()
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o750); err != nil {
		return nil, fmt.Errorf("engine: spool_dir: %w", err)
	}
	cat, err := OpenCatalog(ctx, cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, log: o.log, cat: cat, hub: newHub(o.eventBuffer),
		sessions: map[string]*session{}, captures: map[string]*sharedCapture{},
		maskedOwners: map[string]bool{}, maskedDisplays: map[string]bool{}, liveCaptures: map[*pipeline.Capture]struct{}{},
		auth: map[string]*UploadAuth{}, uploadWake: make(chan struct{}, 1),
		spec: pipeline.CaptureSpec{FPS: cfg.FPS, MaxWidth: cfg.MaxWidth, MaxHeight: cfg.MaxHeight,
			DrawMouse: !cfg.HideMouse, Encoders: cfg.Encoders, EncoderOptions: cfg.EncoderOptions, MaskColor: cfg.MaskColor,
			Method: cfg.CaptureMethod, MaxFrameGap: cfg.MaxFrameGap, Backend: o.backend}}
	if err := e.newTelemetry(o.tracer, o.meter); err != nil {
		cat.Close()
		return nil, err
	}
	if err := e.recover(ctx); err != nil {
		_ = e.tel.reg.Unregister()
		cat.Close()
		return nil, err
	}
	var wctx context.Context
	wctx, e.stopWatch = context.WithCancel(context.Background())
	e.watchDone = make(chan struct{})
	go e.watchDisk(wctx, e.watchDone)
	return e, nil
}

// Events streams the engine's events until ctx ends or the engine closes. A subscriber that
// falls behind loses its oldest events; the next event it gets says how many (Dropped).
// Events are delivered asynchronously: a session's last events may arrive after the Stop or
// Wait that saw it end has returned.
func (e *Engine) Events(ctx context.Context) <-chan Event { return e.hub.subscribe(ctx) }

func (e *Engine) publish(ev Event) { e.hub.publish(ev) }

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "rec-" + hex.EncodeToString(b[:])
}

// Start starts a recording session and returns once it records (state recording, or masked
// when its owner or display is masked) or has failed to start.
func (e *Engine) Start(ctx context.Context, req StartRequest) (Session, error) {
	if req.Source.Display == "" {
		req.Source.Display = e.cfg.Display
	}
	ctx, span := e.startSpan(ctx, req)
	if err := validateRequest(req); err != nil {
		endSpan(span, err)
		return Session{}, err
	}
	if err := e.checkSpace(ctx); err != nil {
		endSpan(span, err)
		return Session{}, err
	}
	s, err := e.reserve(req, span)
	if err != nil {
		endSpan(span, err)
		return Session{}, err
	}
	if err := s.start(ctx); err != nil {
		snap := s.snapshot()
		return snap, err
	}
	return s.snapshot(), nil
}

func validateRequest(req StartRequest) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidRequest, field, fmt.Sprintf(format, args...))
	}
	if req.Owner == "" {
		return bad("owner", "required")
	}
	if req.Frontend == "" {
		return bad("frontend", "required")
	}
	if req.Limits.MaxDuration < 0 {
		return bad("limits.max_duration", "%s is negative", req.Limits.MaxDuration)
	}
	if _, err := capture.ParseLayout(string(req.Source.Layout)); err != nil {
		return bad("source.layout", "%v", err)
	}
	if v, ok := req.Labels[api.LabelContactID]; ok {
		if id, err := strconv.ParseInt(v, 10, 64); err != nil || id <= 0 {
			return bad("labels."+api.LabelContactID, "%q: want a positive integer (a contact id)", v)
		}
	}
	return nil
}

// checkSpace refuses a start when the spool is over its quota or the disk below its floor.
func (e *Engine) checkSpace(ctx context.Context) error {
	if e.cfg.SpoolQuota > 0 {
		used, err := e.cat.SpoolBytes(ctx)
		if err != nil {
			return fmt.Errorf("engine: spool usage: %w", err)
		}
		if used >= e.cfg.SpoolQuota {
			return fmt.Errorf("%w: %d bytes kept, quota %d", ErrSpoolQuota, used, e.cfg.SpoolQuota)
		}
	}
	if e.cfg.MinFreeDisk > 0 {
		if free, ok := freeBytes(e.cfg.SpoolDir); ok && free < e.cfg.MinFreeDisk {
			return fmt.Errorf("%w: %d bytes free in %s, floor %d", ErrDiskFull, free, e.cfg.SpoolDir, e.cfg.MinFreeDisk)
		}
	}
	return nil
}

// reserve registers a new session after checking the engine-wide limits, all under one lock
// so that concurrent starts cannot both pass them.
func (e *Engine) reserve(req StartRequest, span trace.Span) (*session, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	for _, o := range e.sessions {
		if o.req.Owner == req.Owner && o.req.Frontend == req.Frontend {
			return nil, &AlreadyRecordingError{Session: o.snapshot()}
		}
	}
	if len(e.sessions) >= e.cfg.MaxSessions {
		return nil, fmt.Errorf("%w: %d running", ErrTooManySessions, len(e.sessions))
	}
	s := newSession(e, newID(), req, span)
	e.sessions[s.id] = s
	e.sessionsWG.Add(1)
	return s, nil
}

// release forgets an ended session, keeping what it counted in the metrics' totals.
func (e *Engine) release(s *session) {
	n := s.counts(time.Now()) // final: the sink has ended
	e.mu.Lock()
	if e.sessions[s.id] == s {
		delete(e.sessions, s.id)
		e.retireSession(n)
		e.sessionsWG.Done()
	}
	e.mu.Unlock()
}

func (e *Engine) live(id string) *session {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sessions[id]
}

// Stop stops a session and waits until its files are finalised (state completed or failed)
// or ctx ends. A stop while the session is starting or already stopping is ErrBusy: Wait for
// it instead. The session's last events (the moves to finalizing and completed, its last
// segment, recording_completed) may reach an Events subscriber after Stop has returned.
func (e *Engine) Stop(ctx context.Context, id string) (Session, error) {
	s := e.live(id)
	if s == nil {
		snap, err := e.Get(ctx, id)
		if err != nil {
			return Session{}, err
		}
		return snap, fmt.Errorf("%w: session %s is %s", ErrTerminal, id, snap.State)
	}
	if err := s.stop(); err != nil {
		return s.snapshot(), err
	}
	s.spanStopRequested(ctx)
	select {
	case <-s.done:
		return s.final()
	case <-ctx.Done():
		return s.snapshot(), ctx.Err()
	}
}

// Wait waits until session id has ended (completed or failed, whoever or whatever ended it)
// and returns its final snapshot, or its current one with ctx's error when ctx ends first. An
// ended session answers at once; an unknown one is ErrNotFound. As with Stop, the session's
// last events may reach an Events subscriber after Wait has returned.
func (e *Engine) Wait(ctx context.Context, id string) (Session, error) {
	s := e.live(id)
	if s == nil {
		return e.Get(ctx, id)
	}
	select {
	case <-s.done:
		return s.final()
	case <-ctx.Done():
		return s.snapshot(), ctx.Err()
	}
}

// Mask masks (on) or unmasks the recordings of target's owner and/or display, from this
// moment: frames captured while masked show the mask colour. A session started while its
// owner or display is masked starts masked. It returns the sessions affected.
func (e *Engine) Mask(ctx context.Context, target MaskTarget, on bool) ([]Session, error) {
	if target.Owner == "" && target.Display == "" {
		return nil, fmt.Errorf("%w: mask: owner or display required", ErrInvalidRequest)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	if target.Owner != "" {
		setFlag(e.maskedOwners, target.Owner, on)
	}
	if target.Display != "" {
		setFlag(e.maskedDisplays, displayOf(target.Display), on)
	}
	// Apply to captures first (that is when frames change), then to the sessions' states.
	changed := map[*pipeline.Capture]time.Time{}
	for _, sc := range e.captures {
		if sc.c == nil {
			continue // still opening: it applies the mask itself once open
		}
		want := e.maskedLocked(sc.owner, sc.display)
		if want != sc.c.Masked() {
			changed[sc.c] = sc.c.SetMasked(want)
		}
	}
	var affected []*session
	for _, s := range e.sessions {
		if (target.Owner != "" && s.req.Owner == target.Owner) || (target.Display != "" && s.display == displayOf(target.Display)) {
			affected = append(affected, s)
		}
	}
	e.mu.Unlock()

	out := make([]Session, 0, len(affected))
	for _, s := range affected {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		s.mu.Lock()
		at, ok := changed[s.capture]
		s.mu.Unlock()
		if !ok {
			at = time.Now()
		}
		s.syncMask(at)
		out = append(out, s.snapshot())
	}
	return out, nil
}

func setFlag(m map[string]bool, k string, on bool) {
	if on {
		m[k] = true
	} else {
		delete(m, k)
	}
}

// maskedLocked says whether recordings of owner on display must be masked; e.mu is held.
func (e *Engine) maskedLocked(owner, display string) bool {
	return e.maskedOwners[owner] || e.maskedDisplays[display]
}

// displayOf normalises a display name (":0" and ":0.0" are the same screen).
func displayOf(d string) string {
	if d == "" {
		d, _ = capture.ResolveDisplay("")
	}
	if n := len(d); n > 2 && d[n-2] == '.' && d[n-1] == '0' {
		d = d[:n-2]
	}
	return d
}

// Get returns a session, running or ended.
func (e *Engine) Get(ctx context.Context, id string) (Session, error) {
	if s := e.live(id); s != nil {
		return s.snapshot(), nil
	}
	rec, err := e.cat.GetRecording(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return Session{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Session{}, fmt.Errorf("engine: %w", err)
	}
	return e.fromCatalog(ctx, rec)
}

// List returns sessions matching f, oldest first.
func (e *Engine) List(ctx context.Context, f ListFilter) ([]Session, error) {
	cf := catalog.RecordingFilter{Owner: f.Owner, Limit: f.Limit}
	for _, st := range f.States {
		cf.States = append(cf.States, st.String())
	}
	recs, err := e.cat.ListRecordings(ctx, cf)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	out := make([]Session, 0, len(recs))
	for _, r := range recs {
		if s := e.live(r.ID); s != nil {
			out = append(out, s.snapshot())
			continue
		}
		snap, err := e.fromCatalog(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, snap)
	}
	return out, nil
}

// fromCatalog builds the snapshot of an ended session from its row.
func (e *Engine) fromCatalog(ctx context.Context, r catalog.Recording) (Session, error) {
	st, err := ParseState(r.State)
	if err != nil {
		st = StateFailed
	}
	snap := Session{ID: r.ID, ContactID: r.ContactID, InteractionID: r.InteractionID, Owner: r.Owner,
		Frontend: r.Frontend, Reason: r.Reason, State: st, Error: r.Error, Labels: r.Labels, Encoder: r.Encoder,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, EndedAt: r.EndedAt, Duration: r.Duration,
		Masked: r.Masked, Interrupted: r.Interrupted}
	var g geometry
	if len(r.Geometry) > 0 && json.Unmarshal(r.Geometry, &g) == nil {
		snap.Source = g.Source
		snap.Tracks = apiTracks(g.Tracks, nil)
	}
	for _, iv := range r.MaskedIntervals {
		snap.MaskedIntervals = append(snap.MaskedIntervals, Interval(iv))
	}
	segs, err := e.cat.Segments(ctx, r.ID)
	if err != nil {
		return snap, fmt.Errorf("engine: %w", err)
	}
	for _, sg := range segs {
		snap.Segments = append(snap.Segments, SegmentInfo{Index: sg.Index, Path: sg.Path, Bytes: sg.Bytes, SHA256: sg.SHA256, Closed: sg.Closed})
	}
	return snap, nil
}

// geometry is what the catalog's geometry column holds for a recording: what it captured, and
// the tracks it made of it.
type geometry struct {
	Source Source               `json:"source"`
	Tracks []pipeline.TrackInfo `json:"tracks,omitempty"`
}

func toCatalog(iv []Interval) []catalog.Interval {
	out := make([]catalog.Interval, len(iv))
	for i, v := range iv {
		out[i] = catalog.Interval(v)
	}
	return out
}

// Ping reports whether the engine can take work: ErrClosed from the first Close on,
// otherwise the error of a read through its catalog (nil when the database answers).
func (e *Engine) Ping(ctx context.Context) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if _, err := e.cat.SpoolBytes(ctx); err != nil {
		return fmt.Errorf("engine: catalog: %w", err)
	}
	return nil
}

// Close stops every session (finalising its files), waits for them within ctx, and closes
// the catalog. The engine refuses new work from the first call on.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.stopWatch()
	live := make([]*session, 0, len(e.sessions))
	for _, s := range e.sessions {
		live = append(live, s)
	}
	e.mu.Unlock()
	sort.Slice(live, func(i, j int) bool { return live[i].id < live[j].id })
	for _, s := range live {
		if err := s.shutdown(ctx); err != nil {
			e.log.Error("a session did not stop", "session", s.id, "err", err)
			return err
		}
	}
	done := make(chan struct{})
	go func() { e.sessionsWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("engine: close: %w", ctx.Err())
	}
	<-e.watchDone // it may be reading the catalog
	e.hub.close()
	_ = e.tel.reg.Unregister()
	return e.cat.Close()
}

// sharedCapture is a capture with the sessions' owner and display it serves.
type sharedCapture struct {
	key     string
	owner   string
	display string
	ready   chan struct{} // closed once c or err is set
	c       *pipeline.Capture
	err     error
}

// attach joins a capture of spec for owner, opening it if none runs, and attaches a sink.
func (e *Engine) attach(ctx context.Context, owner string, spec pipeline.CaptureSpec, cfg pipeline.SinkConfig) (*pipeline.Capture, *pipeline.Sink, error) {
	key := "owner=" + owner + " " + spec.Key()
	for attempt := 0; ; attempt++ {
		e.mu.Lock()
		sc, ok := e.captures[key]
		if !ok {
			sc = &sharedCapture{key: key, owner: owner, display: displayOf(spec.Display), ready: make(chan struct{})}
			e.captures[key] = sc
			e.mu.Unlock()
			e.open(ctx, sc, spec)
		} else {
			e.mu.Unlock()
		}
		select {
		case <-sc.ready:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if sc.err != nil {
			return nil, nil, sc.err
		}
		sink, err := sc.c.Attach(cfg)
		if errors.Is(err, pipeline.ErrCaptureStopped) && attempt < 3 {
			// It is going away (its last recording just stopped): open a new one.
			e.mu.Lock()
			if e.captures[key] == sc {
				delete(e.captures, key)
			}
			e.mu.Unlock()
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return sc.c, sink, nil
	}
}

// open opens sc's capture and watches it until it ends.
func (e *Engine) open(ctx context.Context, sc *sharedCapture, spec pipeline.CaptureSpec) {
	c, err := pipeline.OpenCapture(ctx, spec)
	e.mu.Lock()
	if err != nil {
		delete(e.captures, sc.key)
		sc.err = err
	} else {
		sc.c = c
		e.liveCaptures[c] = struct{}{}
		if e.maskedLocked(sc.owner, sc.display) {
			c.SetMasked(true)
		}
	}
	e.mu.Unlock()
	close(sc.ready)
	if err != nil {
		return
	}
	e.publish(Event{Kind: EventPipelineOpened, Pipeline: sc.key, Encoder: c.Encoder()})
	go func() {
		<-c.Done()
		e.retireCapture(c)
		e.mu.Lock()
		if e.captures[sc.key] == sc {
			delete(e.captures, sc.key)
		}
		e.mu.Unlock()
		ev := Event{Kind: EventPipelineClosed, Pipeline: sc.key}
		if err := c.Err(); err != nil {
			ev.Reason = err.Error()
		}
		e.publish(ev)
	}()
}

// segmentPath is where a session's recording goes.
func (e *Engine) segmentPath(id string) string {
	return filepath.Join(e.cfg.SpoolDir, id, id+".mp4")
}
