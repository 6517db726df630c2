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
	// Streams are the file's tracks; their time bases must all be the same. A stream with a
	// nil Codec is a track that has ended: files leave it out (see Reshape).
	Streams []Stream
	// Metadata are container tags written into every segment, plus "segment" (the segment's
	// index, from 1, also in a single file) and what Tags adds.
	Metadata map[string]string
	// Tags, if set, gives the tags that differ per segment (e.g. its wall-clock start): start
	// is the segment's offset from the recording's start. They override Metadata.
	Tags func(index int, start time.Duration) map[string]string
	// Options tune every file. Options.Now, when set, is the current time as the packets'
	// timestamps count it (from the capture's start, as Start): each file counts it from its
	// own start.
	Options Options
	// Start is the pts (in the streams' time base) the recording starts at: each track's
	// packets before its first keyframe at or after Start are dropped, and file timestamps
	// count from Start. Callers force that keyframe as for any cut (NextCut returns Start
	// until every track has started).
	Start int64
	// OnOpen, if set, is called before segment index's file is created at path; an error
	// stops the recording (the catalog records a segment before it exists on disk).
	OnOpen func(index int, path string) error
	// OnClose, if set, is called after a segment's file is closed.
	OnClose func(Segment)
}

// Segments writes a recording as one file or as consecutive standalone segments. Each segment
// starts with a keyframe on every track: callers force one on each track's first frame at or
// after NextCut, and Segments moves a track to the next file at its first keyframe from then.
type Segments struct {
	cfg      SegmentsConfig
	mu       sync.Mutex
	cur      *File
	next     *File
	curIdx   []int // a track's stream in cur, -1 when cur leaves it out
	nextIdx  []int
	reshape  *reshape // waits for a rotation in progress to end
	curStart int64
	cut      atomic.Int64 // pts where the next segment starts, MaxInt64 if none
	moved    []bool
	started  []bool
	index    int
	done     []Segment
	doneSize int64
	closed   bool
	forced   bool // the cut is a Reshape's
}

// NewSegments creates the first file.
func NewSegments(cfg SegmentsConfig) (*Segments, error) {
	s := &Segments{cfg: cfg, moved: make([]bool, len(cfg.Streams)), started: make([]bool, len(cfg.Streams)),
		curStart: cfg.Start}
	f, err := s.create(cfg.Start)
	if err != nil {
		return nil, err
	}
	s.cur, s.curIdx = f, s.fileIndexes()
	for i, st := range cfg.Streams {
		s.started[i] = st.Codec == nil // an ended track has nothing to wait for
	}
	s.cut.Store(cfg.Start) // the first keyframe of every track
	return s, nil
}

// reshape is a cut Reshape asked for.
type reshape struct {
	at      int64
	streams []Stream
	tags    map[string]string
}

// Reshape cuts a new segment at pts at whose files have streams in place of the configured
// ones (the same number; a nil Codec leaves an ended track out), and tags added to their
// metadata. A track whose size changed needs it: its encoder is reopened and an MP4 stream
// has one size. As for any cut, callers force a keyframe on every track at or after at; a
// single file (Every 0) goes on in a second file named as a segment. If a rotation is in
// progress the cut follows it.
func (s *Segments) Reshape(at int64, streams []Stream, tags map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &reshape{at: at, streams: append([]Stream(nil), streams...), tags: tags}
	if s.next != nil {
		s.reshape = r
		return
	}
	s.applyReshape(r)
}

func (s *Segments) applyReshape(r *reshape) {
	s.reshape = nil
	s.cfg.Streams = r.streams
	if len(r.tags) > 0 {
		meta := make(map[string]string, len(s.cfg.Metadata)+len(r.tags))
		for k, v := range s.cfg.Metadata {
			meta[k] = v
		}
		for k, v := range r.tags {
			meta[k] = v
		}
		s.cfg.Metadata = meta
	}
	for i, st := range s.cfg.Streams {
		if st.Codec == nil {
			s.started[i] = true // an ended track: nothing more to wait for
		}
	}
	s.forced = true
	s.cut.Store(r.at)
}

// fileIndexes maps tracks to the streams of a file created now.
func (s *Segments) fileIndexes() []int {
	idx := make([]int, len(s.cfg.Streams))
	n := 0
	for i, st := range s.cfg.Streams {
		idx[i] = -1
		if st.Codec != nil {
			idx[i] = n
			n++
		}
	}
	return idx
}

// live are the streams of a file created now.
func (s *Segments) live() []Stream {
	var out []Stream
	for _, st := range s.cfg.Streams {
		if st.Codec != nil {
			out = append(out, st)
		}
	}
	return out
}

// create creates the next segment's file, which starts at pts start.
func (s *Segments) create(start int64) (*File, error) {
	index := s.index + 1
	path := s.cfg.Out
	if s.cfg.Every > 0 || index > 1 {
		path = SegmentPath(s.cfg.Out, index)
	}
	meta := make(map[string]string, len(s.cfg.Metadata)+1)
	for k, v := range s.cfg.Metadata {
		meta[k] = v
	}
	meta["segment"] = fmt.Sprint(index)
	if s.cfg.Tags != nil {
		for k, v := range s.cfg.Tags(index, s.offset(start)) {
			meta[k] = v
		}
	}
	if s.cfg.OnOpen != nil {
		if err := s.cfg.OnOpen(index, path); err != nil {
			return nil, err
		}
	}
	o := s.cfg.Options
	if now := o.Now; now != nil {
		o.Now = func() int64 { return now() - start }
	}
	f, err := Create(path, s.live(), meta, o)
	if err == nil {
		s.index = index
	}
	return f, err
}

func (s *Segments) setNextCut(start int64) {
	if s.forced {
		return // a Reshape's cut is pending
	}
	if s.cfg.Every <= 0 {
		s.cut.Store(math.MaxInt64)
		return
	}
	tb := s.cfg.Streams[0].TimeBase
	step := astiav.RescaleQ(s.cfg.Every.Microseconds(), astiav.NewRational(1, 1_000_000), tb)
	s.cut.Store(start + step)
}

// Started reports whether track idx has reached its first keyframe, i.e. whether its packets
// are being written.
func (s *Segments) Started(idx int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started[idx]
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
	if !s.started[idx] {
		if pkt.Pts() < s.cfg.Start || !pkt.Flags().Has(astiav.PacketFlagKey) {
			pkt.Unref()
			return nil
		}
		s.started[idx] = true
		if s.allTrue(s.started) {
			s.setNextCut(s.cfg.Start)
		}
		return s.writeFirst(s.cur, s.curStart, s.curIdx[idx], pkt)
	}
	cut := s.cut.Load()
	// Until every track has started, cut is the start, not a segment boundary.
	if s.allTrue(s.started) && !s.moved[idx] && pkt.Pts() >= cut && pkt.Flags().Has(astiav.PacketFlagKey) {
		if s.next == nil {
			f, err := s.create(cut)
			if err != nil {
				pkt.Unref()
				return err
			}
			s.next, s.nextIdx = f, s.fileIndexes()
		}
		s.moved[idx] = true
		// The track's last sample in the file it leaves lasts until the cut, where its
		// first one in the next file starts.
		if i := s.curIdx[idx]; i >= 0 {
			if err := s.cur.EndStream(i, cut-s.curStart); err != nil {
				pkt.Unref()
				return err
			}
		}
		if s.allTrue(s.moved) {
			if err := s.rotate(cut); err != nil {
				pkt.Unref()
				return err
			}
			// This packet now belongs to the new current file.
			return s.writeFirst(s.cur, s.curStart, s.curIdx[idx], pkt)
		}
		return s.writeFirst(s.next, cut, s.nextIdx[idx], pkt)
	}
	if s.moved[idx] {
		return s.write(s.next, cut, s.nextIdx[idx], pkt)
	}
	return s.write(s.cur, s.curStart, s.curIdx[idx], pkt)
}

// allTrue reports whether flags holds for every track that has not ended.
func (s *Segments) allTrue(flags []bool) bool {
	for i, f := range flags {
		if !f && s.cfg.Streams[i].Codec != nil {
			return false
		}
	}
	return true
}

func (s *Segments) rotate(cut int64) error {
	old := s.cur
	err := s.finish(old, s.curStart, cut)
	s.cur, s.next, s.curStart, s.curIdx = s.next, nil, cut, s.nextIdx
	for i := range s.moved {
		s.moved[i] = false
	}
	s.forced = false
	s.setNextCut(cut)
	if s.reshape != nil {
		s.applyReshape(s.reshape)
	}
	return err
}

// finish closes f, which starts at start, its last samples lasting until end (NoEnd: their
// packets' durations).
func (s *Segments) finish(f *File, start, end int64) error {
	var err error
	if end == NoEnd {
		err = f.Close()
	} else {
		err = f.CloseAt(end - start)
	}
	seg := Segment{Index: len(s.done) + 1, Path: f.Path(), Bytes: f.Bytes(), Start: s.offset(start)}
	s.done = append(s.done, seg)
	s.doneSize += f.Bytes()
	if s.cfg.OnClose != nil {
		s.cfg.OnClose(seg)
	}
	return err
}

// offset is how far pts is from the recording's start.
func (s *Segments) offset(pts int64) time.Duration {
	tb := s.cfg.Streams[0].TimeBase
	us := astiav.RescaleQ(pts, tb, astiav.NewRational(1, 1_000_000)) - astiav.RescaleQ(s.cfg.Start, tb, astiav.NewRational(1, 1_000_000))
	return time.Duration(us) * time.Microsecond
}

// writeFirst writes a track's first packet in file f, a keyframe captured at or after the
// file's start. It is stamped at the start, so the file begins at 0 and later timestamps
// (and so masked intervals and segment offsets) still count from the start; a player would
// otherwise begin at this frame and shift the whole timeline by the lag between the start
// and the first capture, which a loaded machine makes large.
func (s *Segments) writeFirst(f *File, start int64, idx int, pkt *astiav.Packet) error {
	pkt.SetDts(min(pkt.Dts(), start))
	pkt.SetPts(start)
	return s.write(f, start, idx, pkt)
}

func (s *Segments) write(f *File, start int64, idx int, pkt *astiav.Packet) error {
	if idx < 0 { // a track the file leaves out
		pkt.Unref()
		return nil
	}
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

// Written lists every segment so far: the finished ones, then the open one(s) with the
// bytes written into them until now.
func (s *Segments) Written() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Segment(nil), s.done...)
	if s.closed {
		return out
	}
	index := s.index
	if s.next != nil {
		index-- // s.index is next's
	}
	if s.cur != nil {
		out = append(out, Segment{Index: index, Path: s.cur.Path(), Bytes: s.cur.Bytes(), Start: s.offset(s.curStart)})
	}
	if s.next != nil {
		out = append(out, Segment{Index: index + 1, Path: s.next.Path(), Bytes: s.next.Bytes(), Start: s.offset(s.cut.Load())})
	}
	return out
}

// Close finishes the open segment(s) and returns every segment written; it is idempotent.
// The last frames keep their packets' durations: CloseAt ends them at the recording's end.
func (s *Segments) Close() ([]Segment, error) { return s.CloseAt(NoEnd) }

// CloseAt is Close for a recording that ends at pts end (in the streams' time base, as
// Start): each track's last frame lasts until then, so the files span the recording exactly.
func (s *Segments) CloseAt(end int64) ([]Segment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.done, nil
	}
	s.closed = true
	err := s.finish(s.cur, s.curStart, end)
	if s.next != nil {
		if e := s.finish(s.next, s.cut.Load(), end); err == nil {
			err = e
		}
	}
	return s.done, err
}
