package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os/user"
	"sync"
	"time"

	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/mux"
)

// Metadata keys written into every recording.
const (
	MetaRecordingID = "recording_id"
	MetaOwner       = "owner"
	MetaStartTime   = "start_time"
	MetaMonitors    = "monitors"
	MetaLayout      = "layout"
	MetaEncoder     = "video_encoder"
	MetaDisplay     = "display"
	// MetaCaptureFPS is the capture rate (frames per second): the files have a variable frame
	// rate, a constant-frame-rate export (engine/export) repeats pictures at this one.
	MetaCaptureFPS = "capture_fps"
)

// TrackInfo describes one video track of a finished recording.
type TrackInfo struct {
	// Name is the track's name (monitor name, "canvas" or "region").
	Name string `json:"name"`
	// Grab is the captured root-window area as WxH+X+Y.
	Grab string `json:"grab"`
	// Width and Height are the encoded size.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Monitors is how many monitors the track shows.
	Monitors int `json:"monitors"`
	// Frames is how many frames were written.
	Frames int64 `json:"frames"`
	// Dropped is how many frames the capture missed: frame times that went by while it was
	// busy.
	Dropped int64 `json:"dropped"`
	// Unchanged is how many frame times showed nothing new and cost no conversion or encode
	// (only with a change-tracking source).
	Unchanged int64 `json:"unchanged"`
	// Ended says why the track ended before the recording did (its monitor was disconnected).
	Ended string `json:"ended,omitempty"`
}

// Summary reports a finished recording.
type Summary struct {
	Path      string            `json:"path"`
	Segments  []mux.Segment     `json:"segments,omitempty"`
	StartTime time.Time         `json:"start_time"`
	Duration  float64           `json:"duration"` // seconds
	Frames    int64             `json:"frames"`   // of the first track
	Dropped   int64             `json:"dropped"`
	Size      int64             `json:"size"`
	Encoder   string            `json:"encoder"`
	Hardware  bool              `json:"hardware"`
	Skipped   []encode.Status   `json:"skipped_encoders,omitempty"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Tracks    []TrackInfo       `json:"tracks"`
	Metadata  map[string]string `json:"metadata"`
}

// Stats is a live view of a running recording.
type Stats struct {
	Elapsed time.Duration
	Frames  int64 // of the first track
	Dropped int64 // over all tracks
	// Unchanged is how many frame times of the first track were skipped: nothing changed.
	Unchanged int64
	Bytes     int64   // written so far
	FPS       float64 // average since start
	Bitrate   float64 // average bits per second since start
}

// Recording is a one-shot recording: a capture of its own with one sink.
type Recording struct {
	spec    Spec
	capture *Capture
	sink    *Sink
	stop    sync.Once
	done    chan struct{}
	summary *Summary
	err     error
}

// Start opens the display, the encoders and the output and starts recording. Every error from
// Start is a problem with the spec or the machine; nothing is left on disk when it fails.
// The recording runs until spec.Duration, Stop, or ctx ends, and then finalises its file.
func Start(ctx context.Context, spec Spec) (*Recording, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	c, err := OpenCapture(ctx, spec.CaptureSpec)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for k, v := range spec.Metadata {
		meta[k] = v
	}
	if meta[MetaRecordingID] == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		meta[MetaRecordingID] = hex.EncodeToString(b[:])
	}
	if meta[MetaOwner] == "" {
		if u, err := user.Current(); err == nil {
			meta[MetaOwner] = u.Username
		}
	}
	s, err := c.Attach(SinkConfig{Out: spec.Out, SegmentEvery: spec.SegmentEvery, Duration: spec.Duration, Metadata: meta})
	if err != nil {
		c.Stop()
		<-c.Done()
		return nil, err
	}
	r := &Recording{spec: spec, capture: c, sink: s, done: make(chan struct{})}
	go r.run(ctx)
	return r, nil
}

func (r *Recording) run(ctx context.Context) {
	defer close(r.done)
	select {
	case <-ctx.Done():
		r.Stop()
	case <-r.sink.Done():
	}
	segs, err := r.sink.Wait()
	<-r.capture.Done()
	r.err = errors.Join(err, r.capture.Err())
	r.summary = r.summarize(segs)
}

// Stop asks the recording to end; Wait returns once the file is finalised.
func (r *Recording) Stop() { r.stop.Do(r.sink.Stop) }

// Done is closed when the recording has ended and its file is finalised.
func (r *Recording) Done() <-chan struct{} { return r.done }

// Wait blocks until the recording has ended and returns its summary. The summary is valid
// even with an error: it describes what was recorded up to the failure.
func (r *Recording) Wait() (*Summary, error) {
	<-r.done
	return r.summary, r.err
}

// Stats reports progress so far.
func (r *Recording) Stats() Stats {
	el := time.Since(r.sink.StartTime())
	st := Stats{Elapsed: el, Frames: r.sink.Frames()[0], Bytes: r.sink.Bytes(), Unchanged: r.capture.tracks[0].unchanged.load()}
	for _, t := range r.capture.tracks {
		st.Dropped += t.dropped.Load()
	}
	if s := el.Seconds(); s > 0 {
		st.FPS = float64(st.Frames) / s
		st.Bitrate = float64(st.Bytes) * 8 / s
	}
	return st
}

func (r *Recording) summarize(segs []mux.Segment) *Summary {
	c := r.capture
	frames := r.sink.Frames()
	s := &Summary{Path: r.spec.Out, StartTime: r.sink.StartTime().UTC(), Encoder: c.Encoder(),
		Hardware: c.Hardware(), Skipped: c.Skipped(),
		Metadata: r.sink.Metadata(), Frames: frames[0], Duration: r.sink.Duration().Seconds(),
		Tracks: c.trackInfos(func(i int, _ *track) int64 { return frames[i] })}
	s.Width, s.Height = s.Tracks[0].Width, s.Tracks[0].Height
	if r.spec.SegmentEvery > 0 {
		s.Segments = segs
		if len(segs) > 0 {
			s.Path = segs[0].Path
		}
	}
	for _, sg := range segs {
		s.Size += sg.Bytes
	}
	for _, t := range s.Tracks {
		s.Dropped += t.Dropped
	}
	return s
}
