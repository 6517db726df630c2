package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/capture"
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
	// Frames is how many frames were encoded.
	Frames int64 `json:"frames"`
	// Dropped is how many frames the capture missed (gaps longer than 1.5 frame intervals).
	Dropped int64 `json:"dropped"`
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
	Frames  int64   // of the first track
	Dropped int64   // over all tracks
	Bytes   int64   // written so far
	FPS     float64 // average since start
	Bitrate float64 // average bits per second since start
}

type track struct {
	info    capture.Track
	src     capture.Source
	conv    *encode.Converter
	enc     *encode.Encoder
	w, h    int
	frames  atomic.Int64
	dropped atomic.Int64
	lastPts atomic.Int64 // ms since the recording's start
}

// Recording is a running recording.
type Recording struct {
	spec    Spec
	tracks  []*track
	seg     *mux.Segments
	start   time.Time
	meta    map[string]string
	skipped []encode.Status
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
	summary *Summary
	err     error
}

// Start opens the display, the encoders and the output and starts recording. Every error from
// Start is a problem with the spec or the machine; nothing is left on disk when it fails.
// The recording runs until spec.Duration, Stop, or ctx ends, and then finalises its file.
func Start(ctx context.Context, spec Spec) (_ *Recording, err error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	display, err := capture.ResolveDisplay(spec.Display)
	if err != nil {
		return nil, err
	}
	screen, err := capture.Discover(ctx, display)
	if err != nil {
		return nil, err
	}
	plan, err := capture.Plan(screen, spec.Monitors, spec.Layout, spec.Region)
	if err != nil {
		return nil, err
	}
	r := &Recording{spec: spec, stop: make(chan struct{}), done: make(chan struct{})}
	defer func() {
		if err != nil {
			r.closeTracks()
		}
	}()
	for i, pt := range plan {
		t := &track{info: pt}
		r.tracks = append(r.tracks, t)
		if t.src, err = capture.Open(ctx, pt, capture.SourceOptions{Display: display, FPS: spec.FPS, DrawMouse: spec.DrawMouse}); err != nil {
			return nil, err
		}
		sw, sh := t.src.Size()
		t.w, t.h = encode.FitSize(sw, sh, spec.MaxWidth, spec.MaxHeight)
		p := encode.Params{Width: t.w, Height: t.h, FPS: spec.FPS, Options: spec.EncoderOptions}
		if i == 0 {
			t.enc, r.skipped, err = encode.OpenFirst(ctx, spec.Encoders, p)
			if err != nil {
				return nil, err
			}
			r.skipped = r.skipped[:len(r.skipped)-1] // the last one tried is the one used
		} else if t.enc, err = encode.Open(r.tracks[0].enc.Name(), p); err != nil {
			return nil, err
		}
		if t.conv, err = encode.NewConverter(sw, sh, t.src.PixelFormat(), t.w, t.h, t.enc.PixelFormat(), pt.Blank); err != nil {
			return nil, err
		}
	}

	r.start = time.Now()
	r.meta = r.metadata(screen, plan)
	streams := make([]mux.Stream, len(r.tracks))
	for i, t := range r.tracks {
		streams[i] = mux.Stream{Codec: t.enc.CodecContext(), TimeBase: encode.TimeBase, FPS: spec.FPS, Title: t.info.Name}
	}
	r.seg, err = mux.NewSegments(mux.SegmentsConfig{Out: spec.Out, Every: spec.SegmentEvery, Streams: streams, Metadata: r.meta})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	go r.run(ctx)
	return r, nil
}

func (r *Recording) metadata(screen *capture.Screen, plan []capture.Track) map[string]string {
	m := map[string]string{
		MetaStartTime:   r.start.UTC().Format(time.RFC3339Nano),
		"creation_time": r.start.UTC().Format("2006-01-02T15:04:05.000000Z"),
		MetaLayout:      string(r.spec.Layout),
		MetaEncoder:     r.tracks[0].enc.Name(),
		MetaDisplay:     screen.Display,
	}
	var mons []string
	for _, t := range plan {
		for _, mo := range t.Monitors {
			mons = append(mons, mo.String())
		}
	}
	m[MetaMonitors] = strings.Join(mons, ";")
	for k, v := range r.spec.Metadata {
		m[k] = v
	}
	if m[MetaRecordingID] == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		m[MetaRecordingID] = hex.EncodeToString(b[:])
	}
	if m[MetaOwner] == "" {
		if u, err := user.Current(); err == nil {
			m[MetaOwner] = u.Username
		}
	}
	return m
}

// Stop asks the recording to end; Wait returns once the file is finalised.
func (r *Recording) Stop() { r.stopped.Do(func() { close(r.stop) }) }

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
	el := time.Since(r.start)
	st := Stats{Elapsed: el, Frames: r.tracks[0].frames.Load(), Bytes: r.seg.Bytes()}
	for _, t := range r.tracks {
		st.Dropped += t.dropped.Load()
	}
	if s := el.Seconds(); s > 0 {
		st.FPS = float64(st.Frames) / s
		st.Bitrate = float64(st.Bytes) * 8 / s
	}
	return st
}

func (r *Recording) run(ctx context.Context) {
	defer close(r.done)
	errs := make([]error, len(r.tracks))
	var wg sync.WaitGroup
	for i, t := range r.tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.runTrack(ctx, i, t)
			if errs[i] != nil {
				r.Stop() // one failed track ends the whole recording
			}
		}()
	}
	wg.Wait()
	segs, cerr := r.seg.Close()
	r.closeTracks()
	r.err = errors.Join(append(errs, cerr)...)
	r.summary = r.summarize(segs)
}

func (r *Recording) runTrack(ctx context.Context, idx int, t *track) error {
	raw := astiav.AllocFrame()
	defer raw.Free()
	startUs := r.start.UnixMicro()
	durMs := r.spec.Duration.Milliseconds()
	intervalMs := int64(1000 / r.spec.FPS)
	lastPts, lastCut := int64(-1), int64(-1)
	emit := func(p *astiav.Packet) error { return r.seg.WritePacket(idx, p) }
	for {
		select {
		case <-r.stop:
			return t.enc.Flush(emit)
		default:
		}
		if err := t.src.Read(ctx, raw); err != nil {
			if ctx.Err() != nil {
				return t.enc.Flush(emit)
			}
			_ = t.enc.Flush(emit) // keep what was encoded before the failure
			return err
		}
		// x11grab stamps frames with the wall clock, so pts are the time since Start and the
		// file's timeline maps to the start_time tag exactly.
		pts := max(0, (raw.Pts()-startUs)/1000)
		if durMs > 0 && pts >= durMs {
			raw.Unref()
			return t.enc.Flush(emit)
		}
		if pts <= lastPts {
			pts = lastPts + 1
		} else if lastPts >= 0 && pts-lastPts > intervalMs*3/2 {
			t.dropped.Add((pts-lastPts)/intervalMs - 1)
		}
		lastPts = pts
		t.lastPts.Store(pts)
		out, err := t.conv.Convert(raw)
		raw.Unref()
		if err != nil {
			return err
		}
		out.SetPts(pts)
		cut := r.seg.NextCut()
		key := pts >= cut && cut != lastCut
		if key {
			lastCut = cut
		}
		if err := t.enc.Encode(out, key, emit); err != nil {
			return err
		}
		t.frames.Add(1)
	}
}

func (r *Recording) closeTracks() {
	for _, t := range r.tracks {
		if t.conv != nil {
			t.conv.Close()
		}
		if t.enc != nil {
			t.enc.Close()
		}
		if t.src != nil {
			t.src.Close()
		}
	}
}

func (r *Recording) summarize(segs []mux.Segment) *Summary {
	s := &Summary{Path: r.spec.Out, StartTime: r.start.UTC(), Encoder: r.tracks[0].enc.Name(),
		Hardware: r.tracks[0].enc.Hardware(), Skipped: r.skipped, Width: r.tracks[0].w,
		Height: r.tracks[0].h, Metadata: r.meta, Frames: r.tracks[0].frames.Load()}
	if r.spec.SegmentEvery > 0 {
		s.Segments = segs
		if len(segs) > 0 {
			s.Path = segs[0].Path
		}
	}
	for _, sg := range segs {
		s.Size += sg.Bytes
	}
	for _, t := range r.tracks {
		g := t.info.Grab
		s.Tracks = append(s.Tracks, TrackInfo{Name: t.info.Name, Grab: fmt.Sprintf("%dx%d+%d+%d", g.Dx(), g.Dy(), g.Min.X, g.Min.Y),
			Width: t.w, Height: t.h, Frames: t.frames.Load(), Dropped: t.dropped.Load()})
		s.Dropped += t.dropped.Load()
	}
	// The last frame lasts one frame interval.
	if s.Frames > 0 {
		s.Duration = float64(r.tracks[0].lastPts.Load())/1000 + 1/float64(r.spec.FPS)
	}
	return s
}
