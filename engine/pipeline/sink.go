package pipeline

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/mux"
)

// SinkConfig configures one recording's output.
type SinkConfig struct {
	// Out is the output file (with SegmentEvery, the pattern of segment names).
	Out string
	// SegmentEvery rotates to a new standalone file this often (0: one file).
	SegmentEvery time.Duration
	// Duration ends the recording this long after its start (0: until stopped). The end is
	// cut on timestamps, so the file holds exactly this span.
	Duration time.Duration
	// Metadata are container tags; start_time and creation_time (each segment's own start),
	// segment (its index, from 1), layout, monitors, display and video_encoder are added.
	Metadata map[string]string
	// OnSegmentOpen and OnSegmentClose are called around every segment file.
	OnSegmentOpen  func(index int, path string) error
	OnSegmentClose func(mux.Segment)
}

// Validate checks the output fields, and that Out's folder exists and is writable.
func (sc SinkConfig) Validate() error {
	if sc.SegmentEvery < 0 || (sc.SegmentEvery > 0 && sc.SegmentEvery < time.Second) {
		return invalid("segment", "%s must be 0 (one file) or at least 1s", sc.SegmentEvery)
	}
	if sc.Duration < 0 {
		return invalid("duration", "%s is negative", sc.Duration)
	}
	if sc.Out == "" {
		return invalid("out", "no output path")
	}
	return checkWritableDir(sc.Out)
}

// Sink writes a capture's packets from its start to its stop into its own MP4 file(s).
type Sink struct {
	c        *Capture
	seg      *mux.Segments
	start    int64 // capture pts of the sink's start
	stopAt   atomic.Int64
	ended    []bool  // per track; guarded by c.mu
	written  []int64 // packets written per track; guarded by c.mu
	lastPts  []int64 // guarded by c.mu
	meta     map[string]string
	failed   error // a write error; guarded by c.mu
	end      int64 // where the files end once finished (mux.NoEnd: unknown); guarded by c.mu
	once     sync.Once
	done     chan struct{}
	segments []mux.Segment
	err      error
}

// Attach starts a recording of the capture from now: its file starts at a keyframe forced
// for it. It fails with ErrCaptureStopped when the capture is stopping.
func (c *Capture) Attach(cfg SinkConfig) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return nil, ErrCaptureStopped
	}
	start := c.now()
	startTime := c.start.Add(time.Duration(start) * time.Millisecond)
	s := &Sink{c: c, start: start, ended: make([]bool, len(c.tracks)), written: make([]int64, len(c.tracks)),
		lastPts: make([]int64, len(c.tracks)), done: make(chan struct{}), end: mux.NoEnd}
	for i, t := range c.tracks {
		s.ended[i] = t.gone != "" // its monitor was disconnected before this recording
	}
	s.meta = c.metadata(startTime)
	for k, v := range cfg.Metadata {
		s.meta[k] = v
	}
	stop := int64(math.MaxInt64)
	if cfg.Duration > 0 {
		stop = start + cfg.Duration.Milliseconds()
	}
	s.stopAt.Store(stop)
	seg, err := mux.NewSegments(mux.SegmentsConfig{Out: cfg.Out, Every: cfg.SegmentEvery, Streams: c.streams,
		Metadata: s.meta, Tags: func(_ int, off time.Duration) map[string]string { return startTags(startTime.Add(off)) },
		Start: start, OnOpen: cfg.OnSegmentOpen, OnClose: cfg.OnSegmentClose,
		// A still screen's last frame on disk is extended as time goes by (what a crash
		// leaves spans it): the frames the encoder holds then show the same picture, and
		// none needs encoding for it.
		Options: mux.Options{Now: c.now}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	s.seg = seg
	c.sinks = append(c.sinks, s)
	c.poke() // its first keyframe is due now
	return s, nil
}

func (c *Capture) metadata(start time.Time) map[string]string {
	m := startTags(start)
	m[MetaLayout] = string(c.spec.Layout)
	m[MetaEncoder] = c.Encoder()
	m[MetaDisplay] = c.screen.Display
	m[MetaCaptureFPS] = strconv.Itoa(c.spec.FPS)
	for k, v := range c.geometryTags() {
		m[k] = v
	}
	return m
}

// geometryTags are the tags that describe what the tracks show now: a segment cut at a
// screen change carries its own. c.mu is held.
func (c *Capture) geometryTags() map[string]string {
	var mons []string
	for _, t := range c.tracks {
		if t.gone != "" {
			continue
		}
		for _, mo := range t.info.Monitors {
			mons = append(mons, mo.String())
		}
	}
	return map[string]string{MetaMonitors: strings.Join(mons, ";")}
}

// startTags are the tags that say when a file starts: each segment has its own.
func startTags(start time.Time) map[string]string {
	return map[string]string{
		MetaStartTime:   start.UTC().Format(time.RFC3339Nano),
		"creation_time": start.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
}

// write hands one packet of track idx to the sink, taking its reference; it reports whether
// the sink has now ended. c.mu is held.
func (s *Sink) write(idx int, p *astiav.Packet) (ended bool) {
	if s.ended[idx] {
		return false
	}
	// By decode timestamp: every frame shown before the stop is then in the file, with the
	// references it needs, even when the encoder reorders frames.
	if p.Dts() >= s.stopAt.Load() {
		s.ended[idx] = true
		return s.allEnded()
	}
	pts := p.Pts()
	if err := s.seg.WritePacket(idx, p); err != nil {
		if s.failed != nil {
			err = errors.Join(s.failed, err) // Fail's cause first
		}
		s.failed = err
		for i := range s.ended {
			s.ended[i] = true
		}
		return true
	}
	if s.seg.Started(idx) { // packets before the track's first keyframe are dropped
		s.written[idx]++
		s.lastPts[idx] = pts
	}
	return false
}

func (s *Sink) allEnded() bool {
	for _, e := range s.ended {
		if !e {
			return false
		}
	}
	return true
}

// Stop ends the recording now: packets captured from now on are not written. When no other
// sink is recording, the capture stops too. Stop does not wait: use Done or Wait.
func (s *Sink) Stop() {
	c := s.c
	now := c.now()
	c.mu.Lock()
	if s.stopAt.Load() > now {
		s.stopAt.Store(now)
	}
	active := 0
	for _, o := range c.sinks {
		if o.stopAt.Load() == math.MaxInt64 {
			active++
		}
	}
	c.mu.Unlock()
	c.poke() // its last frame is due now
	if active == 0 {
		// Nothing else needs this capture: stop it so the encoder is flushed and every frame
		// before the stop reaches the file at once.
		c.Stop()
	}
}

// Fail ends the recording now, as Stop does (its files end cleanly at the last frame before
// now), and makes Wait report cause: the recording had to end (e.g. the disk is below its
// floor). The first failure is kept.
func (s *Sink) Fail(cause error) {
	s.c.mu.Lock()
	if s.failed == nil {
		s.failed = cause
	}
	s.c.mu.Unlock()
	s.Stop()
}

// finish closes the sink's files; it runs once, outside c.mu.
func (s *Sink) finish(captureErr error) {
	s.once.Do(func() {
		// The files end where the recording did, their last frames lasting until then; an
		// end not asked for (the capture failed) leaves them their frame interval.
		end := s.stopAt.Load()
		if end == math.MaxInt64 {
			end = mux.NoEnd
		}
		segs, err := s.seg.CloseAt(end)
		s.c.mu.Lock()
		s.end = end
		failed := s.failed
		s.c.mu.Unlock()
		s.segments = segs
		s.err = errors.Join(failed, err, captureErr)
		close(s.done)
	})
}

// Done is closed when the sink's files are finalised.
func (s *Sink) Done() <-chan struct{} { return s.done }

// Wait waits for the sink to finish and returns its segments; the error is a write or
// capture failure (the segments are valid up to it).
func (s *Sink) Wait() ([]mux.Segment, error) {
	<-s.done
	return s.segments, s.err
}

// StartTime is the wall-clock time of the sink's first possible frame.
func (s *Sink) StartTime() time.Time {
	return s.c.start.Add(time.Duration(s.start) * time.Millisecond)
}

// Metadata are the container tags written into the sink's files.
func (s *Sink) Metadata() map[string]string { return s.meta }

// Bytes is how much the sink has written so far.
func (s *Sink) Bytes() int64 { return s.seg.Bytes() }

// Written lists the sink's segments so far, the open one(s) with their bytes until now.
func (s *Sink) Written() []mux.Segment { return s.seg.Written() }

// Frames is how many frames the sink has written for each track.
func (s *Sink) Frames() []int64 {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return append([]int64(nil), s.written...)
}

// Duration is the span of the frames written so far: from the start to the end of the last
// frame of the first track; once finished, to where the files end.
func (s *Sink) Duration() time.Duration {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.written[0] == 0 {
		return 0
	}
	if s.end != mux.NoEnd {
		return time.Duration(s.end-s.start) * time.Millisecond
	}
	ms := s.lastPts[0] - s.start
	return time.Duration(ms)*time.Millisecond + time.Second/time.Duration(s.c.spec.FPS)
}

// checkWritableDir fails early, before any device is opened, when out's folder is missing or
// not writable.
func checkWritableDir(out string) error {
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, out, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s: %s is not a folder", ErrOutput, out, dir)
	}
	probe, err := os.CreateTemp(dir, ".recorder-probe-*")
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, out, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return fmt.Errorf("%w: %s is a folder", ErrOutput, out)
	}
	return nil
}
