package mux

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
)

// Segment describes one finished file of a recording.
type Segment struct {
	// Index counts segments from 1.
	Index int `json:"index"`
	// Path is the file's path.
	Path string `json:"path"`
	// Bytes is the file's size.
	Bytes int64 `json:"bytes"`
	// Start is the segment's start, relative to the recording's start.
	Start time.Duration `json:"start"`
}

// SegmentPath names segment i (from 1) of a recording written to out: "rec.mp4" becomes
// "rec-001.mp4".
func SegmentPath(out string, i int) string {
	ext := filepath.Ext(out)
	return fmt.Sprintf("%s-%03d%s", strings.TrimSuffix(out, ext), i, ext)
}

// SegmentsConfig configures a Segments writer.
type SegmentsConfig struct {
	// Out is the output path; with Every > 0 it is the pattern SegmentPath expands.
	Out string
	// Every is the segment length; 0 writes a single file.
	Every time.Duration
	// Streams are the file's tracks; their time bases must all be the same.
	Streams []Stream
	// Metadata are container tags written into every segment (plus "segment").
	Metadata map[string]string
	// Options tune every file.
	Options Options
}

// Segments writes a recording as one file or as consecutive standalone segments. Each segment
// starts with a keyframe on every track: callers force one on each track's first frame at or
// after NextCut, and Segments moves a track to the next file at its first keyframe from then.
type Segments struct {
	cfg      SegmentsConfig
	mu       sync.Mutex
	cur      *File
	next     *File
	curStart int64
	cut      atomic.Int64 // pts where the next segment starts, MaxInt64 if none
	moved    []bool
	index    int
	done     []Segment
	doneSize int64
	closed   bool
}

// NewSegments creates the first file.
func NewSegments(cfg SegmentsConfig) (*Segments, error) {
	s := &Segments{cfg: cfg, moved: make([]bool, len(cfg.Streams))}
	f, err := s.create()
	if err != nil {
		return nil, err
	}
	s.cur = f
	s.setNextCut(0)
	return s, nil
}

func (s *Segments) create() (*File, error) {
	index := s.index + 1
	path := s.cfg.Out
	meta := s.cfg.Metadata
	if s.cfg.Every > 0 {
		path = SegmentPath(s.cfg.Out, index)
		meta = make(map[string]string, len(s.cfg.Metadata)+1)
		for k, v := range s.cfg.Metadata {
			meta[k] = v
		}
		meta["segment"] = fmt.Sprint(index)
	}
	f, err := Create(path, s.cfg.Streams, meta, s.cfg.Options)
	if err == nil {
		s.index = index
	}
	return f, err
}

func (s *Segments) setNextCut(start int64) {
	if s.cfg.Every <= 0 {
		s.cut.Store(math.MaxInt64)
		return
	}
	tb := s.cfg.Streams[0].TimeBase
	step := astiav.RescaleQ(s.cfg.Every.Microseconds(), astiav.NewRational(1, 1_000_000), tb)
	s.cut.Store(start + step)
}

// NextCut is the pts at which the next segment starts (math.MaxInt64 when not segmenting).
func (s *Segments) NextCut() int64 { return s.cut.Load() }

// WritePacket writes pkt of stream idx to the segment it belongs to, taking its reference.
func (s *Segments) WritePacket(idx int, pkt *astiav.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		pkt.Unref()
		return ErrClosed
	}
	cut := s.cut.Load()
	if !s.moved[idx] && pkt.Pts() >= cut && pkt.Flags().Has(astiav.PacketFlagKey) {
		if s.next == nil {
			f, err := s.create()
			if err != nil {
				pkt.Unref()
				return err
			}
			s.next = f
		}
		s.moved[idx] = true
		if s.allMoved() {
			if err := s.rotate(cut); err != nil {
				pkt.Unref()
				return err
			}
			// This packet now belongs to the new current file.
			return s.write(s.cur, s.curStart, idx, pkt)
		}
	}
	if s.moved[idx] {
		return s.write(s.next, cut, idx, pkt)
	}
	return s.write(s.cur, s.curStart, idx, pkt)
}

func (s *Segments) allMoved() bool {
	for _, m := range s.moved {
		if !m {
			return false
		}
	}
	return true
}

func (s *Segments) rotate(cut int64) error {
	old := s.cur
	err := s.finish(old, s.curStart)
	s.cur, s.next, s.curStart = s.next, nil, cut
	for i := range s.moved {
		s.moved[i] = false
	}
	s.setNextCut(cut)
	return err
}

func (s *Segments) finish(f *File, start int64) error {
	err := f.Close()
	tb := s.cfg.Streams[0].TimeBase
	us := astiav.RescaleQ(start, tb, astiav.NewRational(1, 1_000_000))
	s.done = append(s.done, Segment{Index: len(s.done) + 1, Path: f.Path(), Bytes: f.Bytes(),
		Start: time.Duration(us) * time.Microsecond})
	s.doneSize += f.Bytes()
	return err
}

func (s *Segments) write(f *File, start int64, idx int, pkt *astiav.Packet) error {
	pkt.SetPts(pkt.Pts() - start)
	pkt.SetDts(pkt.Dts() - start)
	return f.WritePacket(idx, pkt)
}

// Bytes is the total written so far, over all segments.
func (s *Segments) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.doneSize
	if s.closed {
		return n // cur and next are counted in doneSize already
	}
	if s.cur != nil {
		n += s.cur.Bytes()
	}
	if s.next != nil {
		n += s.next.Bytes()
	}
	return n
}

// Close finishes the open segment(s) and returns every segment written; it is idempotent.
func (s *Segments) Close() ([]Segment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.done, nil
	}
	s.closed = true
	err := s.finish(s.cur, s.curStart)
	if s.next != nil {
		if e := s.finish(s.next, s.cut.Load()); err == nil {
			err = e
		}
	}
	return s.done, err
}
