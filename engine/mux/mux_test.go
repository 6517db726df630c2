package mux

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/internal/mediatest"
)

func TestSegmentPath(t *testing.T) {
	tests := []struct {
		out  string
		i    int
		want string
	}{
		{"a/rec.mp4", 3, "a/rec-003.mp4"},
		{"rec.mp4", 1, "rec-001.mp4"},
		{"rec.mp4", 999, "rec-999.mp4"},
		{"rec.mp4", 1234, "rec-1234.mp4"},
		{"/tmp/x/rec", 2, "/tmp/x/rec-002"},
		{"rec", 10, "rec-010"},
		{"a.b/rec", 4, "a.b/rec-004"},
		{"rec.tar.mp4", 5, "rec.tar-005.mp4"},
	}
	for _, tc := range tests {
		if got := SegmentPath(tc.out, tc.i); got != tc.want {
			t.Errorf("SegmentPath(%q, %d) = %q, want %q", tc.out, tc.i, got, tc.want)
		}
	}
}

// openEncoder opens libx264 without lookahead: each frame's packet comes out of Encode at
// once, as the muxer's tests feed them (the default settings hold frames back).
func openEncoder(t *testing.T, w, h int) *encode.Encoder {
	t.Helper()
	e, err := encode.Open("libx264", encode.Params{Width: w, Height: h, FPS: 10,
		Options: map[string]string{"rc-lookahead": "0", "mbtree": "0"}})
	if err != nil {
		t.Fatalf("open libx264: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

func blackFrame(t *testing.T, w, h int) *astiav.Frame {
	t.Helper()
	f := astiav.AllocFrame()
	t.Cleanup(f.Free)
	f.SetWidth(w)
	f.SetHeight(h)
	f.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := f.AllocBuffer(0); err != nil {
		t.Fatal(err)
	}
	if err := f.ImageFillBlack(); err != nil {
		t.Fatal(err)
	}
	return f
}

type probeStream struct {
	CodecName    string            `json:"codec_name"`
	Width        int               `json:"width"`
	Height       int               `json:"height"`
	AvgFrameRate string            `json:"avg_frame_rate"`
	StartTime    string            `json:"start_time"`
	NbReadFrames string            `json:"nb_read_frames"`
	Tags         map[string]string `json:"tags"`
}

type probeResult struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		Duration  string            `json:"duration"`
		StartTime string            `json:"start_time"`
		Tags      map[string]string `json:"tags"`
	} `json:"format"`
}

func ffprobe(t *testing.T, path string) probeResult {
	t.Helper()
	mediatest.SkipIfUnavailable(t)
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_format", "-show_streams", "-of", "json", path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("ffprobe %s: %v: %s", path, err, ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probeResult
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	return p
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return f
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestCreateNoStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.mp4")
	f, err := Create(path, nil, nil, Options{})
	if !errors.Is(err, ErrCreate) || f != nil {
		t.Fatalf("Create with no streams = %v, %v; want ErrCreate", f, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Create with no streams left %s behind (%v)", path, err)
	}
}

func TestCreateMissingFolder(t *testing.T) {
	e := openEncoder(t, 128, 72)
	dir := filepath.Join(t.TempDir(), "missing")
	path := filepath.Join(dir, "rec.mp4")
	f, err := Create(path, []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}}, nil, Options{})
	if !errors.Is(err, ErrCreate) || f != nil {
		t.Fatalf("Create in a missing folder = %v, %v; want ErrCreate", f, err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v should wrap the cause (not exist)", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Create made the folder %s (%v)", dir, err)
	}
}

// TestCreateHeaderFailureRemovesFile: a stream the mp4 muxer cannot store fails the header
// and leaves nothing on disk.
func TestCreateHeaderFailureRemovesFile(t *testing.T) {
	cc := astiav.AllocCodecContext(nil) // codec id none
	defer cc.Free()
	cc.SetWidth(64)
	cc.SetHeight(64)
	path := filepath.Join(t.TempDir(), "bad.mp4")
	f, err := Create(path, []Stream{{Codec: cc, TimeBase: encode.TimeBase}}, nil, Options{})
	if !errors.Is(err, ErrCreate) || f != nil {
		t.Fatalf("Create = %v, %v; want ErrCreate", f, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("failed Create left %s behind (%v)", path, err)
	}
}

func TestFile(t *testing.T) {
	const w, h, frames = 128, 72, 30
	e := openEncoder(t, w, h)
	path := filepath.Join(t.TempDir(), "rec.mp4")
	meta := map[string]string{"recording_id": "abc-123", "owner": "tester"}
	m, err := Create(path, []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10, Title: "DP-1"}}, meta, Options{})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if m.Path() != path {
		t.Errorf("Path() = %q, want %q", m.Path(), path)
	}
	headerBytes := m.Bytes()
	if headerBytes <= 0 {
		t.Errorf("Bytes() after the header = %d, want > 0", headerBytes)
	}
	if got := fileSize(t, path); got != headerBytes {
		t.Errorf("after Create: file is %d bytes, Bytes() = %d", got, headerBytes)
	}

	fr := blackFrame(t, w, h)
	written := 0
	emit := func(p *astiav.Packet) error {
		written++
		err := m.WritePacket(0, p)
		if p.Size() != 0 {
			t.Errorf("WritePacket left the packet with %d bytes; it must take the reference", p.Size())
		}
		return err
	}
	for i := 0; i < frames; i++ {
		fr.SetPts(int64(i) * 100)
		if err := e.Encode(fr, false, emit); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if err := e.Flush(emit); err != nil {
		t.Fatal(err)
	}
	if written != frames {
		t.Fatalf("wrote %d packets, want %d", written, frames)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	if err := m.WritePacket(0, pkt); !errors.Is(err, ErrClosed) {
		t.Errorf("WritePacket after Close = %v, want ErrClosed", err)
	}
	size := fileSize(t, path)
	if m.Bytes() != size {
		t.Errorf("Bytes() = %d, file is %d bytes", m.Bytes(), size)
	}
	if size <= headerBytes {
		t.Errorf("file is %d bytes, no more than its %d-byte header", size, headerBytes)
	}

	p := ffprobe(t, path)
	if len(p.Streams) != 1 {
		t.Fatalf("%d streams, want 1", len(p.Streams))
	}
	s := p.Streams[0]
	if s.CodecName != "h264" || s.Width != w || s.Height != h || s.NbReadFrames != strconv.Itoa(frames) {
		t.Errorf("stream = %s %dx%d, %s frames; want h264 %dx%d, %d frames", s.CodecName, s.Width, s.Height, s.NbReadFrames, w, h, frames)
	}
	// Every frame at its own time. (avg_frame_rate is not 10/1: the first fragment holds one
	// frame whose sample claims 1 ms, see WritePacket; the next fragment starts on time.)
	if got, want := packetTimes(t, path), frameTimes(frames, 100); !slices.Equal(got, want) {
		t.Errorf("packet times %v, want %v", got, want)
	}
	if s.Tags["handler_name"] != "DP-1" {
		t.Errorf("handler_name = %q, want DP-1", s.Tags["handler_name"])
	}
	if d := num(t, p.Format.Duration); math.Abs(d-3.0) > 0.11 {
		t.Errorf("duration = %.3f s, want about 3", d)
	}
	if st := num(t, s.StartTime); st != 0 {
		t.Errorf("start_time = %v, want 0", st)
	}
	for k, v := range meta {
		if got := p.Format.Tags[k]; got != v {
			t.Errorf("format tag %s = %q, want %q (tags %v)", k, got, v, p.Format.Tags)
		}
	}
}

// TestFileSyncDisabled: a negative SyncInterval starts no sync loop, and Close still works.
func TestFileSyncDisabled(t *testing.T) {
	e := openEncoder(t, 64, 36)
	path := filepath.Join(t.TempDir(), "nosync.mp4")
	m, err := Create(path, []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}}, nil,
		Options{SyncInterval: -1, FragmentDuration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fr := blackFrame(t, 64, 36)
	emit := func(p *astiav.Packet) error { return m.WritePacket(0, p) }
	for i := 0; i < 5; i++ {
		fr.SetPts(int64(i) * 100)
		if err := e.Encode(fr, false, emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Flush(emit); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ffprobe(t, path).Streams[0].NbReadFrames; got != "5" {
		t.Errorf("frames = %s, want 5", got)
	}
}

// feed encodes frames pts 0, 100, … (n frames) on each encoder in turn, forcing a keyframe on
// each track's first frame at or after NextCut as engine/pipeline/recording.go does, and
// writes the packets to s; encoder i feeds stream first+i.
func feed(t *testing.T, s *Segments, first int, encs []*encode.Encoder, frames []*astiav.Frame, n int) {
	t.Helper()
	counts := make([]int, len(encs))
	for i := range counts {
		counts[i] = n
	}
	feedUneven(t, s, first, encs, frames, counts)
}

// feedUneven encodes frames at 100 ms steps into s, interleaving the tracks as concurrent
// capture goroutines would, track ti getting counts[ti] frames; keyframes are forced the way
// engine/pipeline forces them, at each track's first frame at or after NextCut.
func feedUneven(t *testing.T, s *Segments, first int, encs []*encode.Encoder, frames []*astiav.Frame, counts []int) {
	t.Helper()
	lastCut := make([]int64, len(encs))
	for i := range lastCut {
		lastCut[i] = -1
	}
	n := 0
	for _, c := range counts {
		n = max(n, c)
	}
	for i := 0; i < n; i++ {
		pts := int64(i) * 100
		for ti, e := range encs {
			if i >= counts[ti] {
				continue
			}
			cut := s.NextCut()
			key := pts >= cut && cut != lastCut[ti]
			if key {
				lastCut[ti] = cut
			}
			frames[ti].SetPts(pts)
			if err := e.Encode(frames[ti], key, func(p *astiav.Packet) error { return writeTimed(s, first+ti, p) }); err != nil {
				t.Fatalf("track %d frame %d: %v", ti, i, err)
			}
		}
	}
	for ti, e := range encs {
		if err := e.Flush(func(p *astiav.Packet) error { return writeTimed(s, first+ti, p) }); err != nil {
			t.Fatal(err)
		}
	}
}

// writeTimed gives the packet the frame interval as its duration, as engine/pipeline does
// (FFmpeg 5.1's libx264 leaves it 0), and writes it.
func writeTimed(s *Segments, idx int, p *astiav.Packet) error {
	if p.Duration() <= 0 {
		p.SetDuration(100)
	}
	return s.WritePacket(idx, p)
}

func TestSegments(t *testing.T) {
	tests := []struct {
		name   string
		tracks int
	}{
		{"one track", 1},
		{"two tracks", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sizes := [][2]int{{128, 72}, {64, 36}}
			var encs []*encode.Encoder
			var frames []*astiav.Frame
			var streams []Stream
			for i := 0; i < tc.tracks; i++ {
				e := openEncoder(t, sizes[i][0], sizes[i][1])
				encs = append(encs, e)
				frames = append(frames, blackFrame(t, sizes[i][0], sizes[i][1]))
				streams = append(streams, Stream{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10, Title: "track" + strconv.Itoa(i)})
			}
			out := filepath.Join(t.TempDir(), "rec.mp4")
			s, err := NewSegments(SegmentsConfig{Out: out, Every: time.Second, Streams: streams,
				Metadata: map[string]string{"recording_id": "seg-test"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.NextCut(); got != 0 {
				t.Errorf("NextCut before any packet = %d, want 0 (the start: every track's first keyframe)", got)
			}
			feed(t, s, 0, encs, frames, 35) // pts 0 … 3400
			if got := s.NextCut(); got != 4000 {
				t.Errorf("NextCut after 3.4 s = %d, want 4000", got)
			}
			before := s.Bytes()
			segs, err := s.Close()
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
			if len(segs) != 4 {
				t.Fatalf("got %d segments, want 4: %+v", len(segs), segs)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s exists; segments must use SegmentPath names", out)
			}
			var total int64
			wantFrames := []int{10, 10, 10, 5}
			for i, sg := range segs {
				if sg.Index != i+1 || sg.Path != SegmentPath(out, i+1) || sg.Start != time.Duration(i)*time.Second {
					t.Errorf("segment %d = %+v, want index %d path %s start %v", i, sg, i+1, SegmentPath(out, i+1), time.Duration(i)*time.Second)
				}
				if size := fileSize(t, sg.Path); sg.Bytes != size {
					t.Errorf("segment %d Bytes = %d, file is %d", i+1, sg.Bytes, size)
				}
				total += sg.Bytes
				p := ffprobe(t, sg.Path)
				if len(p.Streams) != tc.tracks {
					t.Fatalf("segment %d has %d streams, want %d", i+1, len(p.Streams), tc.tracks)
				}
				for si, st := range p.Streams {
					if st.CodecName != "h264" || st.NbReadFrames != strconv.Itoa(wantFrames[i]) {
						t.Errorf("segment %d stream %d: %s with %s frames, want h264 with %d", i+1, si, st.CodecName, st.NbReadFrames, wantFrames[i])
					}
					if v := num(t, st.StartTime); math.Abs(v) > 0.001 {
						t.Errorf("segment %d stream %d starts at %v s, want 0", i+1, si, v)
					}
					if st.Tags["handler_name"] != "track"+strconv.Itoa(si) {
						t.Errorf("segment %d stream %d handler_name = %q", i+1, si, st.Tags["handler_name"])
					}
				}
				if got := p.Format.Tags["segment"]; got != strconv.Itoa(i+1) {
					t.Errorf("segment %d has segment tag %q", i+1, got)
				}
				if got := p.Format.Tags["recording_id"]; got != "seg-test" {
					t.Errorf("segment %d has recording_id %q", i+1, got)
				}
				wantDur := 1.0
				if i == 3 {
					wantDur = 0.5
				}
				if d := num(t, p.Format.Duration); math.Abs(d-wantDur) > 0.11 {
					t.Errorf("segment %d lasts %.3f s, want about %.1f", i+1, d, wantDur)
				}
			}
			// Before Close the trailers are not written yet, so Bytes() is at most the total.
			// (Bytes() after Close is TestSegmentsBytesAfterClose.)
			if before <= 0 || before > total {
				t.Errorf("Bytes() before Close = %d; segments total %d", before, total)
			}
			again, err := s.Close()
			if err != nil || len(again) != 4 {
				t.Errorf("second Close = %d segments, %v", len(again), err)
			}
			pkt := astiav.AllocPacket()
			defer pkt.Free()
			if err := s.WritePacket(0, pkt); !errors.Is(err, ErrClosed) {
				t.Errorf("WritePacket after Close = %v, want ErrClosed", err)
			}
			if _, err := os.Stat(SegmentPath(out, 5)); !os.IsNotExist(err) {
				t.Errorf("a fifth segment file exists")
			}
		})
	}
}

func TestSegmentsSingleFile(t *testing.T) {
	e := openEncoder(t, 64, 36)
	out := filepath.Join(t.TempDir(), "one.mp4")
	s, err := NewSegments(SegmentsConfig{Out: out, Streams: []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}},
		Metadata: map[string]string{"owner": "me"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.NextCut(); got != 0 {
		t.Errorf("NextCut before any packet = %d, want 0 (the start)", got)
	}
	feed(t, s, 0, []*encode.Encoder{e}, []*astiav.Frame{blackFrame(t, 64, 36)}, 25)
	if got := s.NextCut(); got != math.MaxInt64 {
		t.Errorf("NextCut once started = %d, want MaxInt64", got)
	}
	segs, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0].Path != out || segs[0].Index != 1 || segs[0].Start != 0 || segs[0].Bytes != fileSize(t, out) {
		t.Fatalf("segments = %+v, want one: %s from 0", segs, out)
	}
	p := ffprobe(t, out)
	if p.Streams[0].NbReadFrames != "25" {
		t.Errorf("frames = %s, want 25", p.Streams[0].NbReadFrames)
	}
	if got := p.Format.Tags["segment"]; got != "1" {
		t.Errorf("single file has segment tag %q, want 1", got)
	}
	if p.Format.Tags["owner"] != "me" {
		t.Errorf("owner tag = %q", p.Format.Tags["owner"])
	}
}

// TestSegmentsCloseWithPendingNext: when one track has moved to the next segment and the other
// has not yet reached its keyframe, Close finishes both files.
func TestSegmentsCloseWithPendingNext(t *testing.T) {
	e0, e1 := openEncoder(t, 64, 36), openEncoder(t, 64, 36)
	f0, f1 := blackFrame(t, 64, 36), blackFrame(t, 64, 36)
	out := filepath.Join(t.TempDir(), "rec.mp4")
	s, err := NewSegments(SegmentsConfig{Out: out, Every: time.Second, Streams: []Stream{
		{Codec: e0.CodecContext(), TimeBase: encode.TimeBase, FPS: 10},
		{Codec: e1.CodecContext(), TimeBase: encode.TimeBase, FPS: 10},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Track 0 runs to 1.4 s with a keyframe at 1 s; track 1 stops at 0.9 s.
	feedUneven(t, s, 0, []*encode.Encoder{e0, e1}, []*astiav.Frame{f0, f1}, []int{15, 10})
	if got := s.NextCut(); got != 1000 {
		t.Errorf("NextCut = %d; the cut must wait for every track", got)
	}
	segs, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].Start != 0 || segs[1].Start != time.Second ||
		segs[0].Path != SegmentPath(out, 1) || segs[1].Path != SegmentPath(out, 2) {
		t.Fatalf("segments = %+v", segs)
	}
	p1, p2 := ffprobe(t, segs[0].Path), ffprobe(t, segs[1].Path)
	if p1.Streams[0].NbReadFrames != "10" || p1.Streams[1].NbReadFrames != "10" {
		t.Errorf("segment 1 frames = %s, %s; want 10, 10", p1.Streams[0].NbReadFrames, p1.Streams[1].NbReadFrames)
	}
	// ffprobe reports no frame count at all for the empty track.
	if p2.Streams[0].NbReadFrames != "5" || (p2.Streams[1].NbReadFrames != "" && p2.Streams[1].NbReadFrames != "0") {
		t.Errorf("segment 2 frames = %q, %q; want 5 and none", p2.Streams[0].NbReadFrames, p2.Streams[1].NbReadFrames)
	}
}

func TestNewSegmentsError(t *testing.T) {
	e := openEncoder(t, 64, 36)
	out := filepath.Join(t.TempDir(), "missing", "rec.mp4")
	s, err := NewSegments(SegmentsConfig{Out: out, Every: time.Second, Streams: []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase}}})
	if !errors.Is(err, ErrCreate) || s != nil {
		t.Fatalf("NewSegments in a missing folder = %v, %v; want ErrCreate", s, err)
	}
	s, err = NewSegments(SegmentsConfig{Out: filepath.Join(t.TempDir(), "x.mp4"), Every: time.Second})
	if !errors.Is(err, ErrCreate) || s != nil {
		t.Fatalf("NewSegments without streams = %v, %v; want ErrCreate", s, err)
	}
}

// TestSegmentsBytesAfterClose: Bytes after Close once counted the closed files twice, and
// pipeline.Recording.Stats reports it as bytes written.
func TestSegmentsBytesAfterClose(t *testing.T) {
	e := openEncoder(t, 64, 36)
	out := filepath.Join(t.TempDir(), "one.mp4")
	s, err := NewSegments(SegmentsConfig{Out: out, Streams: []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, 0, []*encode.Encoder{e}, []*astiav.Frame{blackFrame(t, 64, 36)}, 5)
	segs, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, out)
	if len(segs) != 1 || segs[0].Bytes != size {
		t.Fatalf("segments = %+v, file is %d bytes", segs, size)
	}
	if got := s.Bytes(); got != size {
		t.Errorf("Bytes() after Close = %d, want the file size %d", got, size)
	}
}

// TestSegmentsStartLater: a recording attached at 1 s to an encode running since 0 keeps only
// packets from each track's first keyframe at or after 1 s, timestamped from there.
func TestSegmentsStartLater(t *testing.T) {
	e := openEncoder(t, 64, 36)
	out := filepath.Join(t.TempDir(), "late.mp4")
	var opened []string
	var closed []Segment
	s, err := NewSegments(SegmentsConfig{Out: out, Start: 1000,
		Streams: []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}},
		OnOpen:  func(i int, p string) error { opened = append(opened, p); return nil },
		OnClose: func(sg Segment) { closed = append(closed, sg) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.NextCut(); got != 1000 {
		t.Fatalf("NextCut = %d, want the start, 1000", got)
	}
	feed(t, s, 0, []*encode.Encoder{e}, []*astiav.Frame{blackFrame(t, 64, 36)}, 25) // 0 … 2400 ms
	segs, err := s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || opened[0] != out || len(closed) != 1 || closed[0] != segs[0] {
		t.Errorf("hooks: opened %v, closed %+v, segments %+v", opened, closed, segs)
	}
	p := ffprobe(t, out)
	if p.Streams[0].NbReadFrames != "15" {
		t.Errorf("frames = %s, want 15 (1.0 s … 2.4 s)", p.Streams[0].NbReadFrames)
	}
	if d, _ := strconv.ParseFloat(p.Format.Duration, 64); d < 1.4 || d > 1.6 {
		t.Errorf("duration = %s, want 1.5", p.Format.Duration)
	}
}

// A recording starting between two frames begins at 0 with its first frame, and later frames
// keep their offsets from the start: the file's timeline is the recording's, which masked
// intervals and segment offsets count on, however late the first frame was captured.
func TestSegmentsFirstFrameAtStart(t *testing.T) {
	e := openEncoder(t, 64, 36)
	out := filepath.Join(t.TempDir(), "between.mp4")
	s, err := NewSegments(SegmentsConfig{Out: out, Start: 1040,
		Streams: []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, 0, []*encode.Encoder{e}, []*astiav.Frame{blackFrame(t, 64, 36)}, 15) // 0 … 1400 ms
	if _, err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if p := ffprobe(t, out); num(t, p.Format.StartTime) != 0 || p.Streams[0].NbReadFrames != "4" {
		t.Errorf("start %s, %s frames; want 0 and 4 (1.1 … 1.4 s)", p.Format.StartTime, p.Streams[0].NbReadFrames)
	}
	want := []int64{0, 160, 260, 360}
	if got := packetTimes(t, out); !slices.Equal(got, want) {
		t.Errorf("packet times %v, want %v", got, want)
	}
}

// packetTimes lists the pts of the first video stream's packets, in milliseconds.
func packetTimes(t *testing.T, path string) []int64 {
	t.Helper()
	secs, err := mediatest.PacketTimes(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]int64, len(secs))
	for i, s := range secs {
		ms[i] = int64(math.Round(s * 1000))
	}
	return ms
}

// frameTimes is n times stepMs apart from 0.
func frameTimes(n int, stepMs int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i) * stepMs
	}
	return out
}

// Frames far apart (a still screen is not encoded) keep their times, also right after the
// first fragment, which is flushed before the second frame is known.
func TestSegmentsVariableFrameRate(t *testing.T) {
	e := openEncoder(t, 64, 36)
	out := filepath.Join(t.TempDir(), "vfr.mp4")
	s, err := NewSegments(SegmentsConfig{Out: out, Streams: []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	f := blackFrame(t, 64, 36)
	for i, pts := range []int64{0, 1, 1000, 1100, 2500, 2501} {
		f.SetPts(pts)
		if err := e.Encode(f, i == 0, func(p *astiav.Packet) error { return writeTimed(s, 0, p) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 1, 1000, 1100, 2500, 2501}
	if got := packetTimes(t, out); !slices.Equal(got, want) {
		t.Errorf("packet times %v, want %v", got, want)
	}
}

// A still screen sends no packet to close a fragment with: after half a fragment without
// packets the open fragment is written anyway, and later frames keep their times.
func TestFileFlushesIdleFragment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "idle.mp4")
	s, encodeAt := blackSegments(t, out, Options{SyncInterval: 200 * time.Millisecond, FragmentDuration: 400 * time.Millisecond})
	encodeAt(0)
	encodeAt(100)
	before := fileSize(t, out)
	time.Sleep(700 * time.Millisecond) // the sync loop notices the idle file
	if after := fileSize(t, out); after <= before {
		t.Fatalf("file stayed at %d bytes while idle: the frame at 100 ms is not on disk", after)
	}
	encodeAt(1500)
	if _, err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 100, 1500}
	if got := packetTimes(t, out); !slices.Equal(got, want) {
		t.Errorf("packet times %v, want %v", got, want)
	}
}

// Close never waits on the sync loop while holding what the loop needs: closing files whose
// loop ticks constantly finishes (it deadlocked once).
func TestFileCloseWhileSyncLoopTicks(t *testing.T) {
	e := openEncoder(t, 64, 36)
	f := blackFrame(t, 64, 36)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			m, err := Create(filepath.Join(t.TempDir(), "tick.mp4"), []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}},
				nil, Options{SyncInterval: time.Millisecond, FragmentDuration: 4 * time.Millisecond})
			if err != nil {
				t.Error(err)
				return
			}
			f.SetPts(int64(i) * 100)
			if err := e.Encode(f, true, func(p *astiav.Packet) error { return m.WritePacket(0, p) }); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Duration(i%5) * time.Millisecond)
			if err := m.Close(); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hung")
	}
}

// Each sample lasts until the next one and each fragment starts where the samples before it
// end, read box by box: also across a fragment written while a track was idle (its last frame
// written before its duration was known and patched when the next came), with two tracks of
// which one is still, and to the end given at Close.
func TestFileTimelineContinuous(t *testing.T) {
	e0, e1 := openEncoder(t, 64, 36), openEncoder(t, 64, 36)
	f0, f1 := blackFrame(t, 64, 36), blackFrame(t, 64, 36)
	out := filepath.Join(t.TempDir(), "timeline.mp4")
	s, err := NewSegments(SegmentsConfig{Out: out, Streams: []Stream{
		{Codec: e0.CodecContext(), TimeBase: encode.TimeBase, FPS: 10},
		{Codec: e1.CodecContext(), TimeBase: encode.TimeBase, FPS: 10},
	}, Options: Options{SyncInterval: 50 * time.Millisecond, FragmentDuration: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	encodeAt := func(e *encode.Encoder, f *astiav.Frame, idx int, pts int64) {
		t.Helper()
		f.SetPts(pts)
		if err := e.Encode(f, pts == 0, func(p *astiav.Packet) error { return writeTimed(s, idx, p) }); err != nil {
			t.Fatal(err)
		}
	}
	// Track 0 busy at first, track 1 still after its first frame.
	for pts := int64(0); pts <= 500; pts += 100 {
		encodeAt(e0, f0, 0, pts)
		if pts == 0 {
			encodeAt(e1, f1, 1, 0)
		}
	}
	before := fileSize(t, out)
	// Both idle: their newest frames reach the file without waiting for the next ones.
	for deadline := time.Now().Add(10 * time.Second); fileSize(t, out) == before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the idle tracks' frames never reached the file")
		}
	}
	encodeAt(e0, f0, 0, 1300)
	encodeAt(e1, f1, 1, 1700)
	for _, e := range []*encode.Encoder{e0, e1} {
		idx := 0
		if e == e1 {
			idx = 1
		}
		if err := e.Flush(func(p *astiav.Packet) error { return writeTimed(s, idx, p) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CloseAt(2000); err != nil {
		t.Fatal(err)
	}
	tls, err := mediatest.ReadTimelines(out)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]time.Duration{
		{100, 100, 100, 100, 100, 800, 700},
		{1700, 300},
	}
	for i, tl := range tls {
		if g := tl.Gaps(); len(g) > 0 {
			t.Errorf("track %d: %v", i, g)
		}
		_, durs := tl.Samples()
		var ms []time.Duration
		for _, d := range durs {
			ms = append(ms, d/time.Millisecond)
		}
		if !slices.Equal(ms, want[i]) {
			t.Errorf("track %d sample durations %v ms, want %v (each until the next, the last until 2 s)", i, ms, want[i])
		}
		if len(tl.Fragments) < 2 {
			t.Errorf("track %d in %d fragments: the idle flush wrote none", i, len(tl.Fragments))
		}
	}
}

// A still stream's last sample on disk is extended as the clock (Options.Now) goes on, so
// that what a crash leaves spans the time the screen was still, with no frame encoded for it;
// the next packet still gives it its real duration.
func TestFileExtendsStillStream(t *testing.T) {
	out := filepath.Join(t.TempDir(), "still.mp4")
	var clock atomic.Int64
	s, encodeAt := blackSegments(t, out, Options{SyncInterval: 100 * time.Millisecond, FragmentDuration: 200 * time.Millisecond, Now: clock.Load})
	encodeAt(0)
	encodeAt(100)
	// What a crash would leave: the file cut back to its last complete fragment, as recovery
	// does.
	crashed := func() time.Duration {
		t.Helper()
		res, err := Inspect(out) // what Repair would keep, the file left as it is
		if err != nil {
			t.Fatal(err)
		}
		return res.Duration
	}
	for _, now := range []int64{1500, 4000} {
		clock.Store(now)
		var got time.Duration
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if got = crashed(); got == time.Duration(now)*time.Millisecond {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("clock at %d ms: a crash would leave %s of a still stream", now, got)
			}
		}
	}
	// A frame an encoder held while the screen was still comes out now: the file's end on
	// disk stays where it was.
	encodeAt(200)
	if got := crashed(); got != 4000*time.Millisecond {
		t.Errorf("after a late packet of 200 ms a crash would leave %s, want 4s", got)
	}
	encodeAt(4200)
	if _, err := s.CloseAt(4500); err != nil {
		t.Fatal(err)
	}
	tls, err := mediatest.ReadTimelines(out)
	if err != nil {
		t.Fatal(err)
	}
	_, durs := tls[0].Samples()
	var ms []time.Duration
	for _, d := range durs {
		ms = append(ms, d/time.Millisecond)
	}
	if want := []time.Duration{100, 100, 4000, 300}; !slices.Equal(ms, want) || len(tls[0].Gaps()) > 0 {
		t.Errorf("sample durations %v ms, gaps %v; want %v", ms, tls[0].Gaps(), want)
	}
}

// blackSegments writes one 64x36 stream to out with opts; encodeAt encodes a black frame at
// pts ms (a keyframe at 0) into it.
func blackSegments(t *testing.T, out string, opts Options) (*Segments, func(pts int64)) {
	t.Helper()
	e := openEncoder(t, 64, 36)
	s, err := NewSegments(SegmentsConfig{Out: out, Streams: []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}},
		Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	f := blackFrame(t, 64, 36)
	return s, func(pts int64) {
		t.Helper()
		f.SetPts(pts)
		if err := e.Encode(f, pts == 0, func(p *astiav.Packet) error { return writeTimed(s, 0, p) }); err != nil {
			t.Fatal(err)
		}
	}
}
