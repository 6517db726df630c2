package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/screenrec/recorder/engine/api"
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
	// releaseOnce releases the session from the engine, doneOnce closes done: a failure the
	// catalog did not take yet closes done but keeps the session live (recordLater).
	releaseOnce sync.Once
	doneOnce    sync.Once
	meter       sessionMeter
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
		"contact_id":             fmt.Sprint(api.ContactIDOf(rec.ContactID, s.req.Labels)),
		"interaction_id":         rec.InteractionID,
		"frontend":               s.req.Frontend,
	}
	if id := api.ContactIDOf(rec.ContactID, s.req.Labels); id != rec.ContactID {
		meta["local_contact_id"] = fmt.Sprint(rec.ContactID)
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

// shutdown stops the session for Engine.Close whatever it is doing, waiting while it is busy
// (starting, stopping) until ctx ends: then it reports the state it was stuck in rather than
// holding Close for ever.
func (s *session) shutdown(ctx context.Context) error {
	for {
		err := s.stop()
		if err == nil || !errors.Is(err, ErrBusy) {
			return nil
		}
		select {
		case <-ctx.Done():
			st, _ := s.m.State()
			return fmt.Errorf("engine: close: session %s still %s: %w", s.id, st, ctx.Err())
		case <-time.After(time.Millisecond):
		}
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

// complete writes the finished recording to the catalog with its upload jobs.
func (s *session) complete() error {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	dur, frames := sink.Duration(), sink.Frames() // not under s.mu: see counts
	s.mu.Lock()
	s.endedAt = time.Now()
	ended := s.endedAt
	masks, masked := s.closedMasks(dur)
	end := catalog.Ending{Seals: s.seals(), Spans: s.spans(dur)}
	geo := s.geometry(frames)
	s.mu.Unlock()
	end.Update = func(r *catalog.Recording) error {
		r.State = StateCompleted.String()
		r.EndedAt = ended
		r.Duration = dur
		r.Masked = masked
		r.MaskedIntervals = toCatalog(masks)
		r.Geometry = geo
		return nil
	}
	return s.record(end)
}

// record writes the session's end and queues its files' uploads, in one catalog transaction:
// a crash leaves the recording either unfinished (recovery finalises and queues it) or ended
// with its upload jobs.
func (s *session) record(end catalog.Ending) error {
	e := s.e
	if err := e.failAt(stepFinishBegin); err != nil {
		return fmt.Errorf("engine: catalog: %w", err)
	}
	update := end.Update
	end.Update = func(r *catalog.Recording) error {
		if err := e.failAt(stepFinishInTransaction); err != nil {
			return err
		}
		return update(r)
	}
	end.UploadTargets = e.cfg.UploadTargets
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	_, jobs, err := e.cat.FinishRecording(ctx, s.id, end)
	if err != nil {
		return fmt.Errorf("engine: catalog: %w", err)
	}
	if err := e.failAt(stepFinishCommitted); err != nil {
		return fmt.Errorf("engine: catalog: %w", err)
	}
	if len(jobs) > 0 {
		e.wakeUploads()
	}
	return nil
}

// seals are the sizes and checksums of the session's closed segments, as they were closed:
// written again with the end, so that a checksum the catalog missed (its write failed) is not
// lost. s.mu is held.
func (s *session) seals() []catalog.SegmentSeal {
	var out []catalog.SegmentSeal
	for _, sg := range s.segments {
		if sg.Closed {
			out = append(out, catalog.SegmentSeal{ID: s.segIDs[sg.Index], Bytes: sg.Bytes, SHA256: sg.SHA256})
		}
	}
	return out
}

// spans places each segment in the recording, which lasted total. s.mu is held.
func (s *session) spans(total time.Duration) []catalog.SegmentSpan {
	idx := make([]int, 0, len(s.segStarts))
	for i := range s.segStarts {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]catalog.SegmentSpan, 0, len(idx))
	for k, i := range idx {
		end := total
		if k+1 < len(idx) {
			end = s.segStarts[idx[k+1]]
		}
		out = append(out, catalog.SegmentSpan{ID: s.segIDs[i], Start: s.segStarts[i], Duration: max(0, end-s.segStarts[i])})
	}
	return out
}

// failAndFinish moves the session to failed, keeps what it recorded up to its last complete
// fragment, records why in the catalog with the upload of what was kept, and releases it.
func (s *session) failAndFinish(cause error) {
	if err := s.m.fail(cause.Error()); err != nil && !errors.Is(err, ErrTerminal) {
		s.e.log.ErrorContext(s.ctx, "recording failed", "session", s.id, "err", cause, "state", err)
	}
	// The machine's reason: a failure that came first wins over this one.
	_, reason := s.m.State()
	if reason == "" {
		reason = cause.Error()
	}
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	var dur time.Duration
	var frames []int64
	var kept playable
	if sink != nil {
		sink.Stop()
		// Its error is cause (watch took it from there) or nil after a failed completion.
		sink.Wait() //nolint:errcheck // see above
		s.hashing.Wait()
		dur, frames = sink.Duration(), sink.Frames() // not under s.mu: see counts
		kept = s.keepPlayable()
		if kept.cut {
			dur = kept.duration
		}
	}
	s.mu.Lock()
	s.endedAt = time.Now()
	ended := s.endedAt
	masks, masked := s.closedMasks(dur)
	geo := s.geometry(frames)
	s.mu.Unlock()
	end := catalog.Ending{Seals: kept.seals, Spans: kept.spans, Removed: kept.removed,
		Update: func(r *catalog.Recording) error {
			r.State, r.Error, r.EndedAt, r.Duration, r.Masked = StateFailed.String(), reason, ended, dur, masked
			r.MaskedIntervals = toCatalog(masks)
			if geo != nil {
				r.Geometry = geo
			}
			return nil
		}}
	if err := s.record(end); err != nil {
		// The session stays failed in memory, and answers as such, until the catalog takes it.
		s.e.log.ErrorContext(s.ctx, "the failure of a recording could not be recorded in the catalog; retrying",
			"session", s.id, "reason", reason, "err", err)
		s.e.publish(Event{Kind: EventWarning, SessionID: s.id, Reason: fmt.Sprintf("recording the failure: %v", err)})
		s.closeDone()
		go s.recordLater(end)
		return
	}
	s.finishUp()
}

// recordLater retries record until it succeeds or the engine closes, then releases the
// session. Until then the session is live: the API shows it failed, from memory.
func (s *session) recordLater(end catalog.Ending) {
	defer s.finishUp()
	delay := 100 * time.Millisecond
	for {
		time.Sleep(delay)
		closing := s.e.closing()
		err := s.record(end)
		if err == nil {
			s.e.log.InfoContext(s.ctx, "the failure of a recording is recorded in the catalog", "session", s.id)
			return
		}
		if closing {
			s.e.log.ErrorContext(s.ctx, "the failure of a recording was not recorded in the catalog; the next start finalises it",
				"session", s.id, "err", err)
			return
		}
		delay = min(2*delay, time.Second)
	}
}

// closing reports whether Close has been called.
func (e *Engine) closing() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// playable is what a failed session keeps of its files: each cut back to its last complete
// fragment.
type playable struct {
	seals    []catalog.SegmentSeal
	spans    []catalog.SegmentSpan
	removed  []int64 // files with nothing playable, deleted
	duration time.Duration
	cut      bool // some file was cut back, or was never sealed
}

// keepPlayable cuts each of the session's files back to its last complete fragment (a failed
// write can leave a torn one), deletes those with nothing playable, and seals the others. It
// runs once the sink has ended and its files are checksummed.
func (s *session) keepPlayable() playable {
	s.mu.Lock()
	segs := append([]SegmentInfo(nil), s.segments...)
	ids, starts := maps.Clone(s.segIDs), maps.Clone(s.segStarts)
	s.mu.Unlock()
	sort.Slice(segs, func(i, j int) bool { return segs[i].Index < segs[j].Index })
	var out playable
	for _, sg := range segs {
		id := ids[sg.Index]
		res, err := mux.Repair(sg.Path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, mux.ErrNotFragmentedMP4) || (err == nil && res.Fragments == 0) {
			if err := os.Remove(sg.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.e.log.WarnContext(s.ctx, "remove an empty segment", "session", s.id, "path", sg.Path, "err", err)
			}
			out.removed = append(out.removed, id)
			out.cut = true
			continue
		}
		if err != nil {
			// Left as the sink closed it; its seal (if any) is still true of it.
			s.e.log.WarnContext(s.ctx, "cut a failed recording's segment back", "session", s.id, "path", sg.Path, "err", err)
			if sg.Closed {
				out.seals = append(out.seals, catalog.SegmentSeal{ID: id, Bytes: sg.Bytes, SHA256: sg.SHA256})
			}
			continue
		}
		sum, size := sg.SHA256, sg.Bytes
		if res.Truncated > 0 || !sg.Closed {
			out.cut = true
			if sum, err = mux.SHA256File(sg.Path); err != nil {
				s.e.log.WarnContext(s.ctx, "checksum", "session", s.id, "path", sg.Path, "err", err)
				continue
			}
			size = res.Size
			s.mu.Lock()
			for i := range s.segments {
				if s.segments[i].Index == sg.Index {
					s.segments[i].Bytes, s.segments[i].SHA256, s.segments[i].Closed = size, sum, true
				}
			}
			s.mu.Unlock()
		}
		out.seals = append(out.seals, catalog.SegmentSeal{ID: id, Bytes: size, SHA256: sum})
		start, ok := starts[sg.Index]
		if !ok {
			start = out.duration // it follows the ones before
		}
		out.spans = append(out.spans, catalog.SegmentSpan{ID: id, Start: start, Duration: res.Duration})
		out.duration = start + res.Duration
	}
	return out
}

// finishUp releases the ended session and tells its waiters.
func (s *session) finishUp() {
	s.releaseOnce.Do(func() { s.e.release(s) })
	s.closeDone()
}

// closeDone tells the session's waiters (Stop, Wait) that it has ended.
func (s *session) closeDone() {
	s.doneOnce.Do(func() { close(s.done) })
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
