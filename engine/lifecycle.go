package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/engine/pipeline"
)

// catalogTimeout bounds catalog writes made on behalf of a session after its caller's
// context is gone (finalisation runs in the background).
const catalogTimeout = 10 * time.Second

// session is one recording session. Its state lives in m; the fields below mu are what the
// running recording adds to it.
type session struct {
	e       *Engine
	id      string
	req     StartRequest
	display string
	m       *machine
	done    chan struct{}   // closed when the session has ended and is released
	span    trace.Span      // from Start to completed or failed
	ctx     context.Context // carries span, for log lines about the session

	mu        sync.Mutex
	rec       catalog.Recording
	capture   *pipeline.Capture
	sink      *pipeline.Sink
	startedAt time.Time
	endedAt   time.Time
	masks     []Interval
	segIDs    map[int]int64 // segment index → catalog id
	segStarts map[int]time.Duration
	segments  []SegmentInfo
	tracks    []pipeline.TrackInfo // as the capture made them; frames come from the sink
	hashing   sync.WaitGroup
	stopOnce  sync.Once
	meter     sessionMeter
}

func newSession(e *Engine, id string, req StartRequest, span trace.Span) *session {
	span.SetAttributes(attrSession.String(id))
	s := &session{e: e, id: id, req: req, display: displayOf(req.Source.Display), done: make(chan struct{}),
		segIDs: map[int]int64{}, segStarts: map[int]time.Duration{}, span: span,
		ctx: trace.ContextWithSpan(context.Background(), span)}
	s.m = newMachine(s.notify)
	return s
}

// notify publishes a state change; the machine calls it after releasing its lock.
func (s *session) notify(from, to State, reason string) {
	s.spanStateChange(from, to, reason)
	s.e.publish(Event{Kind: EventStateChanged, SessionID: s.id, From: from, To: to, Reason: reason})
	switch to {
	case StateCompleted:
		s.e.publish(Event{Kind: EventRecordingCompleted, SessionID: s.id})
	case StateFailed:
		s.e.publish(Event{Kind: EventRecordingFailed, SessionID: s.id, Reason: reason})
		s.e.log.WarnContext(s.ctx, "recording failed", "session", s.id, "owner", s.req.Owner, "reason", reason)
	}
}

// start runs idle → starting → recording (or masked).
func (s *session) start(ctx context.Context) error {
	err := s.m.transition(StateStarting, func() error {
		geo, _ := json.Marshal(geometry{Source: s.req.Source})
		rec, err := s.e.cat.CreateRecording(ctx, catalog.NewRecording{ID: s.id, Owner: s.req.Owner,
			Frontend: s.req.Frontend, Reason: s.req.Reason, State: StateStarting.String(), Geometry: geo,
			Labels: s.req.Labels})
		if err != nil {
			return fmt.Errorf("engine: catalog: %w", err)
		}
		s.mu.Lock()
		s.rec = rec
		s.mu.Unlock()
		return nil
	})
	if err != nil {
		s.e.release(s)
		close(s.done)
		endSpan(s.span, err) // it never started: no terminal state ends the span
		return err
	}
	var masked bool
	err = s.m.transition(StateRecording, func() error {
		if err := s.open(ctx); err != nil {
			return err
		}
		masked = s.capture.Masked()
		return nil
	})
	if err != nil {
		s.failAndFinish(err)
		return err
	}
	if masked {
		s.mu.Lock()
		at := s.startedAt // masked since before it started: from its very start
		s.mu.Unlock()
		s.syncMask(at)
	}
	go s.watch()
	return nil
}

// open attaches the session to a capture of its source.
func (s *session) open(ctx context.Context) error {
	e := s.e
	spec := e.spec
	spec.Display = s.req.Source.Display
	spec.Monitors = s.req.Source.Monitors
	spec.Layout = s.req.Source.Layout
	spec.Region = s.req.Source.Region
	dur := s.req.Limits.MaxDuration
	if e.cfg.MaxDuration > 0 && (dur == 0 || dur > e.cfg.MaxDuration) {
		dur = e.cfg.MaxDuration
	}
	out := e.segmentPath(s.id)
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	meta := map[string]string{
		pipeline.MetaRecordingID: s.id,
		pipeline.MetaOwner:       s.req.Owner,
		"contact_id":             fmt.Sprint(rec.ContactID),
		"interaction_id":         rec.InteractionID,
		"frontend":               s.req.Frontend,
	}
	if s.req.Reason != "" {
		meta["reason"] = s.req.Reason
	}
	for k, v := range s.req.Labels {
		meta["label_"+k] = v
	}
	c, sink, err := e.attach(ctx, s.req.Owner, spec, pipeline.SinkConfig{Out: out, SegmentEvery: e.cfg.SegmentDuration,
		Duration: dur, Metadata: meta, OnSegmentOpen: s.segmentOpened, OnSegmentClose: s.segmentClosed})
	if err != nil {
		os.Remove(filepath.Dir(out)) // only succeeds when nothing was written
		return err
	}
	started := sink.StartTime()
	tracks := c.Tracks()
	geo, _ := json.Marshal(geometry{Source: s.req.Source, Tracks: tracks})
	_, err = e.cat.UpdateRecording(ctx, s.id, func(r *catalog.Recording) error {
		r.State = StateRecording.String()
		r.StartedAt = started
		r.Encoder = c.Encoder()
		r.Geometry = geo
		return nil
	})
	if err != nil {
		sink.Stop()
		return fmt.Errorf("engine: catalog: %w", err)
	}
	s.mu.Lock()
	s.capture, s.sink, s.startedAt, s.tracks = c, sink, started, tracks
	s.rec.Encoder = c.Encoder()
	s.mu.Unlock()
	return nil
}

// segmentOpened records a segment in the catalog before its file exists, so that recovery
// finds every file.
func (s *session) segmentOpened(index int, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	seg, err := s.e.cat.AddSegment(ctx, catalog.NewSegment{RecordingID: s.id, Index: index, Path: path})
	if err != nil {
		return fmt.Errorf("engine: catalog: %w", err)
	}
	s.mu.Lock()
	s.segIDs[index] = seg.ID
	s.segments = append(s.segments, SegmentInfo{Index: index, Path: path})
	s.mu.Unlock()
	return nil
}

// segmentClosed checksums a finished segment off the capture's goroutine and seals it.
func (s *session) segmentClosed(sg mux.Segment) {
	s.hashing.Add(1)
	go func() {
		defer s.hashing.Done()
		sum, err := mux.SHA256File(sg.Path)
		if err != nil {
			s.e.publish(Event{Kind: EventWarning, SessionID: s.id, Reason: fmt.Sprintf("checksum of %s: %v", sg.Path, err)})
			return
		}
		s.mu.Lock()
		id := s.segIDs[sg.Index]
		s.segStarts[sg.Index] = sg.Start
		for i := range s.segments {
			if s.segments[i].Index == sg.Index {
				s.segments[i].Bytes, s.segments[i].SHA256, s.segments[i].Closed = sg.Bytes, sum, true
			}
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
		defer cancel()
		if err := s.e.cat.CloseSegment(ctx, id, sg.Bytes, sum); err != nil {
			s.e.publish(Event{Kind: EventWarning, SessionID: s.id, Reason: fmt.Sprintf("catalog: %v", err)})
			return
		}
		s.e.publish(Event{Kind: EventSegmentClosed, SessionID: s.id,
			Segment: &SegmentEvent{Index: sg.Index, Path: sg.Path, Bytes: sg.Bytes, SHA256: sum}})
		s.spanSegmentClosed(sg.Index, sg.Bytes)
	}()
}

// stop runs recording/masked → stopping: the sink stops taking frames now. A session that
// is still starting, or already stopping or finalizing, is busy.
func (s *session) stop() error {
	// The check is the machine's guard, so that two concurrent stops cannot both pass it: the
	// second sees stopping (or the first's move still running) and is busy.
	busy := func(st State) error {
		switch st {
		case StateIdle, StateStarting, StateStopping, StateFinalizing:
			return fmt.Errorf("%w: session %s is %s", ErrBusy, s.id, st)
		}
		return nil
	}
	return s.m.transitionIf(StateStopping, busy, func() error {
		s.mu.Lock()
		sink := s.sink
		s.mu.Unlock()
		sink.Stop()
		return nil
	})
}

// shutdown stops the session for Engine.Close whatever it is doing.
func (s *session) shutdown() {
	for {
		err := s.stop()
		if err == nil || !errors.Is(err, ErrBusy) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// watch waits for the sink to end (stop, max duration, or a failure) and finalises.
func (s *session) watch() {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	_, sinkErr := sink.Wait()
	// The sink may have ended by itself (max duration, failure): move to stopping if no Stop
	// did. A Stop in progress holds the machine only while it signals the sink.
	for {
		err := s.m.transition(StateStopping, nil)
		if err == nil || !errors.Is(err, ErrBusy) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if sinkErr != nil {
		s.failAndFinish(sinkErr)
		return
	}
	err := s.m.transition(StateFinalizing, func() error {
		s.hashing.Wait()
		return nil
	})
	if err == nil {
		err = s.m.transition(StateCompleted, s.complete)
	}
	if err != nil && !errors.Is(err, ErrTerminal) {
		s.failAndFinish(err)
		return
	}
	s.finishUp()
}

// complete writes the finished recording to the catalog and queues its upload.
func (s *session) complete() error {
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	dur, frames := sink.Duration(), sink.Frames() // not under s.mu: see counts
	s.mu.Lock()
	s.endedAt = time.Now()
	masks, masked := s.closedMasks(dur)
	spans := s.spans(dur)
	geo := s.geometry(frames)
	s.mu.Unlock()
	for id, sp := range spans {
		if err := s.e.cat.SetSegmentSpan(ctx, id, sp[0], sp[1]); err != nil {
			return fmt.Errorf("engine: catalog: %w", err)
		}
	}
	_, err := s.e.cat.UpdateRecording(ctx, s.id, func(r *catalog.Recording) error {
		r.State = StateCompleted.String()
		r.EndedAt = s.endedAt
		r.Duration = dur
		r.Masked = masked
		r.MaskedIntervals = toCatalog(masks)
		r.Geometry = geo
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: catalog: %w", err)
	}
	if _, err := s.e.cat.EnqueueUploads(ctx, s.id, s.e.cfg.UploadTarget); err != nil {
		return fmt.Errorf("engine: upload queue: %w", err)
	}
	s.e.wakeUploads()
	return nil
}

// spans gives each segment's catalog id its start and duration in the recording, which lasted
// total. s.mu is held.
func (s *session) spans(total time.Duration) map[int64][2]time.Duration {
	idx := make([]int, 0, len(s.segStarts))
	for i := range s.segStarts {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make(map[int64][2]time.Duration, len(idx))
	for k, i := range idx {
		end := total
		if k+1 < len(idx) {
			end = s.segStarts[idx[k+1]]
		}
		out[s.segIDs[i]] = [2]time.Duration{s.segStarts[i], max(0, end-s.segStarts[i])}
	}
	return out
}

// failAndFinish moves the session to failed, records why, and releases it.
func (s *session) failAndFinish(cause error) {
	reason := cause.Error()
	_ = s.m.fail(reason)
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	if sink != nil {
		sink.Stop()
		_, _ = sink.Wait()
		s.hashing.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	var dur time.Duration
	var frames []int64
	if sink != nil {
		dur, frames = sink.Duration(), sink.Frames() // not under s.mu: see counts
	}
	s.mu.Lock()
	s.endedAt = time.Now()
	masks, masked := s.closedMasks(dur)
	geo := s.geometry(frames)
	s.mu.Unlock()
	_, _ = s.e.cat.UpdateRecording(ctx, s.id, func(r *catalog.Recording) error {
		r.State, r.Error, r.EndedAt, r.Duration, r.Masked = StateFailed.String(), reason, s.endedAt, dur, masked
		r.MaskedIntervals = toCatalog(masks)
		if geo != nil {
			r.Geometry = geo
		}
		return nil
	})
	s.finishUp()
}

func (s *session) finishUp() {
	s.stopOnce.Do(func() {
		s.e.release(s)
		close(s.done)
	})
}

// syncMask brings the session's state and masked intervals in line with its capture's mask,
// which changed at when.
func (s *session) syncMask(when time.Time) {
	s.mu.Lock()
	c := s.capture
	s.mu.Unlock()
	if c == nil {
		return // still starting: start applies the mask once attached
	}
	to := StateRecording
	if c.Masked() {
		to = StateMasked
	}
	var off time.Duration
	err := s.m.transition(to, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		off = max(0, when.Sub(s.startedAt))
		if to == StateMasked {
			s.masks = append(s.masks, Interval{Start: off})
		} else if n := len(s.masks); n > 0 && s.masks[n-1].End == 0 {
			s.masks[n-1].End = off
		}
		masks := toCatalog(s.masks)
		// Kept in the catalog as it happens, so a crash does not lose when the screen was masked.
		ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
		defer cancel()
		_, err := s.e.cat.UpdateRecording(ctx, s.id, func(r *catalog.Recording) error {
			r.State, r.MaskedIntervals = to.String(), masks
			return nil
		})
		return err
	})
	if err == nil {
		s.spanMask(to == StateMasked, off)
	}
}

// closedMasks returns the masked intervals with an open one closed at end, and their total.
// s.mu is held.
func (s *session) closedMasks(end time.Duration) ([]Interval, time.Duration) {
	out := append([]Interval(nil), s.masks...)
	var total time.Duration
	for i := range out {
		if out[i].End == 0 {
			out[i].End = max(out[i].Start, end)
		}
		total += out[i].End - out[i].Start
	}
	return out, total
}

// snapshot is the session as it is now.
func (s *session) snapshot() Session {
	st, reason := s.m.State()
	if st == StateIdle {
		// Reserved and on its way to starting (its catalog row may already say so): to
		// callers it is starting.
		st = StateStarting
	}
	// The sink's figures take the capture's locks, which the capture holds while it calls
	// into the session (a new segment): read them before taking s.mu, never under it.
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	var (
		dur     time.Duration
		written []mux.Segment
		frames  []int64
	)
	if sink != nil {
		dur, written, frames = sink.Duration(), sink.Written(), sink.Frames()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Session{ID: s.id, ContactID: s.rec.ContactID, InteractionID: s.rec.InteractionID, Owner: s.req.Owner,
		Frontend: s.req.Frontend, Reason: s.req.Reason, State: st, Error: reason, Source: s.req.Source,
		Labels: maps.Clone(s.req.Labels), Encoder: s.rec.Encoder, CreatedAt: s.rec.CreatedAt,
		StartedAt: s.startedAt, EndedAt: s.endedAt, Segments: append([]SegmentInfo(nil), s.segments...),
		Duration: dur, Tracks: apiTracks(s.tracks, frames)}
	// An open segment (or one closed but not yet checksummed) has the bytes written so far.
	for i, sg := range snap.Segments {
		for _, w := range written {
			if w.Index == sg.Index && !sg.Closed {
				snap.Segments[i].Bytes = w.Bytes
			}
		}
	}
	// Totals count an open interval up to now; the intervals show it still open (End 0).
	_, snap.Masked = s.closedMasks(snap.Duration)
	snap.MaskedIntervals = append([]Interval(nil), s.masks...)
	return snap
}

// geometry is the catalog's geometry of the recording, its tracks with frames (nil before the
// session recorded). s.mu is held.
func (s *session) geometry(frames []int64) []byte {
	if s.tracks == nil {
		return nil
	}
	tracks := append([]pipeline.TrackInfo(nil), s.tracks...)
	for i := range tracks {
		if i < len(frames) {
			tracks[i].Frames = frames[i]
		}
	}
	geo, _ := json.Marshal(geometry{Source: s.req.Source, Tracks: tracks})
	return geo
}

// apiTracks describes tracks for the API, with frames when given (else their own count).
func apiTracks(tracks []pipeline.TrackInfo, frames []int64) []Track {
	if len(tracks) == 0 {
		return nil
	}
	out := make([]Track, len(tracks))
	for i, t := range tracks {
		out[i] = Track{Name: t.Name, Width: t.Width, Height: t.Height, Monitors: t.Monitors, Frames: t.Frames}
		if i < len(frames) {
			out[i].Frames = frames[i]
		}
	}
	return out
}

// final is the snapshot of an ended session, read back from the catalog.
func (s *session) final() (Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	snap, err := s.e.Get(ctx, s.id)
	if err != nil {
		return s.snapshot(), err
	}
	return snap, nil
}
