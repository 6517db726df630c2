package mux

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/internal/avext"
)

// recorder writes 128x72 libx264 tracks, 100 ms per frame, into a File.
type recorder struct {
	t      *testing.T
	m      *File
	encs   []*encode.Encoder
	frames []*astiav.Frame
	rnd    *rand.Rand
}

func newRecorder(t *testing.T, path string, tracks int) *recorder {
	t.Helper()
	r := &recorder{t: t, rnd: rand.New(rand.NewPCG(1, uint64(tracks)))}
	var streams []Stream
	for i := 0; i < tracks; i++ {
		e := openEncoder(t, 128, 72)
		r.encs = append(r.encs, e)
		r.frames = append(r.frames, blackFrame(t, 128, 72))
		streams = append(streams, Stream{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10})
	}
	m, err := Create(path, streams, map[string]string{"recording_id": "repair-test"}, Options{})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	r.m = m
	return r
}

// frame encodes frame i (pts i*100 ms) on every track. A few random blocks change in every
// frame, so that fragments are a few KiB rather than a few hundred bytes of black.
func (r *recorder) frame(i int) {
	r.t.Helper()
	for ti, e := range r.encs {
		f := r.frames[ti]
		for b := 0; b < 12; b++ {
			x, y := r.rnd.IntN(16)*8, r.rnd.IntN(9)*8
			c := avext.YUV{Y: uint8(16 + r.rnd.IntN(220)), U: uint8(16 + r.rnd.IntN(224)), V: uint8(16 + r.rnd.IntN(224))}
			if err := avext.FillRect(f, image.Rect(x, y, x+8, y+8), c); err != nil {
				r.t.Fatal(err)
			}
		}
		f.SetPts(int64(i) * 100)
		if err := e.Encode(f, false, func(p *astiav.Packet) error { return r.m.WritePacket(ti, p) }); err != nil {
			r.t.Fatalf("track %d frame %d: %v", ti, i, err)
		}
	}
}

// finish flushes the encoders and closes the file.
func (r *recorder) finish() {
	r.t.Helper()
	for ti, e := range r.encs {
		if err := e.Flush(func(p *astiav.Packet) error { return r.m.WritePacket(ti, p) }); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := r.m.Close(); err != nil {
		r.t.Fatalf("Close: %v", err)
	}
}

// recordFile writes a closed file of 40 frames (4 s) per track and returns its path and bytes.
func recordFile(t *testing.T, tracks int) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.mp4")
	r := newRecorder(t, path, tracks)
	for i := 0; i < 40; i++ {
		r.frame(i)
	}
	r.finish()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// fragmentsOf lists the complete fragments of path, as Inspect sees them.
func fragmentsOf(t *testing.T, path string) []fragment {
	t.Helper()
	var frags []fragment
	if _, err := repair(path, false, func(f fragment) { frags = append(frags, f) }); err != nil {
		t.Fatalf("scan %s: %v", path, err)
	}
	return frags
}

// framesPerTrack sums the trun sample counts of frags per track (track IDs 1…tracks, in
// stream order as FFmpeg numbers them).
func framesPerTrack(t *testing.T, frags []fragment, tracks int) []int {
	t.Helper()
	n := make([]int, tracks)
	for _, f := range frags {
		for id, c := range f.Samples {
			if id < 1 || int(id) > tracks {
				t.Fatalf("fragment at %d has track ID %d; want 1…%d", f.Start, id, tracks)
			}
			n[id-1] += c
		}
	}
	return n
}

// probeFrames is ffprobe's count of frames per stream; it fails the test if ffprobe fails.
func probeFrames(t *testing.T, path string) []int {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "json", path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("ffprobe %s: %v: %s", path, err, ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p struct {
		Streams []struct {
			NbReadFrames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	n := make([]int, len(p.Streams))
	for i, s := range p.Streams {
		if s.NbReadFrames != "" {
			if n[i], err = strconv.Atoi(s.NbReadFrames); err != nil {
				t.Fatalf("nb_read_frames %q", s.NbReadFrames)
			}
		}
	}
	return n
}

func requireFFprobe(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
}

func sha(t *testing.T, path string) string {
	t.Helper()
	s, err := SHA256File(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

var trackCases = []struct {
	name   string
	tracks int
}{
	{"one track", 1},
	{"two tracks", 2},
}

func TestInspectRepairIntact(t *testing.T) {
	requireFFprobe(t)
	for _, tc := range trackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, data := recordFile(t, tc.tracks)
			res, err := Inspect(path)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if !res.Complete || res.Fragments < 4 || res.Truncated != 0 || res.Size != int64(len(data)) {
				t.Errorf("Inspect = %+v; want complete, ≥ 4 fragments, nothing truncated, size %d", res, len(data))
			}
			if absDur(res.Duration-4*time.Second) > 150*time.Millisecond {
				t.Errorf("Duration = %v, want about 4 s", res.Duration)
			}
			frags := fragmentsOf(t, path)
			if len(frags) != res.Fragments {
				t.Errorf("%d fragments listed, Inspect says %d", len(frags), res.Fragments)
			}
			for i, f := range frags {
				if i > 0 && f.Start != frags[i-1].End {
					t.Errorf("fragment %d starts at %d, previous ends at %d", i, f.Start, frags[i-1].End)
				}
			}
			want := framesPerTrack(t, frags, tc.tracks)
			for i, n := range want {
				if n != 40 {
					t.Errorf("track %d: trun samples add up to %d, want 40", i+1, n)
				}
			}
			if got := probeFrames(t, path); !slices.Equal(got, want) {
				t.Errorf("ffprobe frames %v, trun samples %v", got, want)
			}

			before := sha(t, path)
			rep, err := Repair(path)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if rep != res {
				t.Errorf("Repair = %+v, Inspect said %+v", rep, res)
			}
			if got := fileSize(t, path); got != int64(len(data)) {
				t.Errorf("Repair changed the size of an intact file: %d → %d", len(data), got)
			}
			if after := sha(t, path); after != before {
				t.Errorf("Repair changed an intact file: sha256 %s → %s", before, after)
			}
		})
	}
}

// TestRepairCutPoints simulates crashes: the closed file cut at every 97th byte of its last three
// fragments and its mfra, and around every box boundary there.
func TestRepairCutPoints(t *testing.T) {
	requireFFprobe(t)
	for _, tc := range trackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, data := recordFile(t, tc.tracks)
			frags := fragmentsOf(t, path)
			if len(frags) < 4 {
				t.Fatalf("%d fragments, want at least 4", len(frags))
			}
			last3 := frags[len(frags)-3:]
			lo, size := last3[0].Start, int64(len(data))
			cuts := map[int64]bool{}
			for c := lo; c < size; c += 97 {
				cuts[c] = true
			}
			for _, f := range last3 {
				for _, c := range []int64{f.Start, f.Start + 1, f.Start + 7, f.Start + 8, f.Start + 9,
					f.MdatStart - 1, f.MdatStart, f.MdatStart + 4, f.MdatStart + 8, f.MdatStart + 9, f.End - 1, f.End, f.End + 1, f.End + 8} {
					cuts[c] = true
				}
			}
			cuts[size-1] = true
			var points []int64
			for c := range cuts {
				if c >= lo && c < size {
					points = append(points, c)
				}
			}
			slices.Sort(points)

			cut := filepath.Join(t.TempDir(), "cut.mp4")
			probed := map[int64][]int{} // kept size → ffprobe frames
			for _, c := range points {
				// What must survive: the fragments wholly before the cut.
				k := 0
				for k < len(frags) && frags[k].End <= c {
					k++
				}
				kept := frags[k-1].End
				wantFrames := framesPerTrack(t, frags[:k], tc.tracks)
				want := RepairResult{Size: kept, Truncated: c - kept, Fragments: k, Duration: frags[k-1].EndTime}

				if err := os.WriteFile(cut, data[:c], 0o644); err != nil {
					t.Fatal(err)
				}
				ins, err := Inspect(cut)
				if err != nil || ins != want {
					t.Fatalf("cut at %d: Inspect = %+v, %v; want %+v", c, ins, err, want)
				}
				if got := fileSize(t, cut); got != c {
					t.Fatalf("cut at %d: Inspect changed the size to %d", c, got)
				}
				res, err := Repair(cut)
				if err != nil || res != want {
					t.Fatalf("cut at %d: Repair = %+v, %v; want %+v", c, res, err, want)
				}
				got, err := os.ReadFile(cut)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data[:kept]) {
					t.Fatalf("cut at %d: repaired file (%d bytes) is not the first %d bytes of the original", c, len(got), kept)
				}
				again, err := Repair(cut)
				want.Truncated = 0
				if err != nil || again != want {
					t.Fatalf("cut at %d: second Repair = %+v, %v; want %+v", c, again, err, want)
				}
				// The repaired file is exactly data[:kept], so one ffprobe per kept size covers
				// every cut that keeps it.
				frames, ok := probed[kept]
				if !ok {
					frames = probeFrames(t, cut)
					probed[kept] = frames
				}
				if !slices.Equal(frames, wantFrames) {
					t.Errorf("cut at %d: ffprobe reads %v frames, the kept fragments hold %v", c, frames, wantFrames)
				}
			}
			if len(probed) < 3 {
				t.Errorf("the cuts kept only %d distinct sizes", len(probed))
			}
			t.Logf("%d cut points in %d bytes, %d kept sizes probed", len(points), size-lo, len(probed))
		})
	}
}

// TestRepairKilledWriter copies a file a File is still writing, as a crash would leave it.
func TestRepairKilledWriter(t *testing.T) {
	requireFFprobe(t)
	for _, tc := range trackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "live.mp4")
			r := newRecorder(t, path, tc.tracks)
			for i := 0; i < 25; i++ {
				r.frame(i)
			}
			// No encoder flush, no Close: the muxer still holds its current fragment. The
			// writer flushes after every packet, so the disk has what a kill would leave.
			live, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			killed := filepath.Join(dir, "killed.mp4")
			if err := os.WriteFile(killed, live, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Repair(killed)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if res.Fragments < 1 || res.Complete || res.Size+res.Truncated != int64(len(live)) || fileSize(t, killed) != res.Size {
				t.Errorf("Repair = %+v of %d bytes (file now %d); want ≥ 1 fragment, not complete", res, len(live), fileSize(t, killed))
			}
			if res.Duration < time.Second || res.Duration > 2500*time.Millisecond {
				t.Errorf("Duration = %v; 25 frames were given, the muxer holds the last fragment", res.Duration)
			}
			frags := fragmentsOf(t, killed)
			want := framesPerTrack(t, frags, tc.tracks)
			if got := probeFrames(t, killed); !slices.Equal(got, want) {
				t.Errorf("ffprobe reads %v frames, the kept fragments hold %v", got, want)
			}
			t.Logf("killed at %d bytes: %+v, frames %v", len(live), res, want)

			// The writer was not disturbed: finishing it now, the complete file starts with
			// exactly the bytes the repair kept.
			for i := 25; i < 30; i++ {
				r.frame(i)
			}
			r.finish()
			full, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			kept, err := os.ReadFile(killed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(full, kept) {
				t.Errorf("the finished file does not start with the %d repaired bytes", len(kept))
			}
		})
	}
}

func TestRepairHeaderCut(t *testing.T) {
	path, data := recordFile(t, 1)
	frags := fragmentsOf(t, path)
	headerEnd := frags[0].Start // ftyp + moov
	ftypEnd := int64(binary.BigEndian.Uint32(data))
	cut := filepath.Join(t.TempDir(), "cut.mp4")
	for _, c := range []int64{0, 1, 4, 7, 8, 9, ftypEnd - 1, ftypEnd, ftypEnd + 4, ftypEnd + 8, ftypEnd + 100, headerEnd - 8, headerEnd - 1} {
		if err := os.WriteFile(cut, data[:c], 0o644); err != nil {
			t.Fatal(err)
		}
		if res, err := Inspect(cut); !errors.Is(err, ErrNotFragmentedMP4) {
			t.Errorf("cut at %d: Inspect = %+v, %v; want ErrNotFragmentedMP4", c, res, err)
		}
		if res, err := Repair(cut); !errors.Is(err, ErrNotFragmentedMP4) {
			t.Errorf("cut at %d: Repair = %+v, %v; want ErrNotFragmentedMP4", c, res, err)
		}
		if got, err := os.ReadFile(cut); err != nil || !bytes.Equal(got, data[:c]) {
			t.Errorf("cut at %d: Repair modified the file (%d bytes, %v)", c, len(got), err)
		}
	}
	// A complete header with no complete fragment: just the header is kept.
	for _, c := range []int64{headerEnd, headerEnd + 5, frags[0].MdatStart, frags[0].MdatStart + 12, frags[0].End - 1} {
		if err := os.WriteFile(cut, data[:c], 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Repair(cut)
		want := RepairResult{Size: headerEnd, Truncated: c - headerEnd}
		if err != nil || res != want {
			t.Errorf("cut at %d: Repair = %+v, %v; want %+v", c, res, err, want)
		}
		if got := fileSize(t, cut); got != headerEnd {
			t.Errorf("cut at %d: file is %d bytes, want the %d-byte header", c, got, headerEnd)
		}
	}
}

// box builds an MP4 box.
func box(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

func TestRepairGarbage(t *testing.T) {
	path, data := recordFile(t, 1)
	frags := fragmentsOf(t, path)
	headerEnd := frags[0].Start
	ftyp := data[:binary.BigEndian.Uint32(data)]
	dir := t.TempDir()
	file := filepath.Join(dir, "garbage.mp4")

	notMP4 := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if res, err := Repair(file); !errors.Is(err, ErrNotFragmentedMP4) {
			t.Errorf("%s: Repair = %+v, %v; want ErrNotFragmentedMP4", name, res, err)
		}
		if got, _ := os.ReadFile(file); !bytes.Equal(got, b) {
			t.Errorf("%s: Repair modified the file", name)
		}
	}
	rnd := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{1, 7, 8, 16, 100, 4096, 1 << 16} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		notMP4("random "+strconv.Itoa(n), b)
	}
	notMP4("empty", nil)
	moovNoMvex := box("moov", box("mvhd", make([]byte, 100)), box("trak", box("tkhd", make([]byte, 84))))
	notMP4("moov without mvex", append(slices.Clone(ftyp), moovNoMvex...))
	notMP4("mdat before moov", slices.Concat(ftyp, box("mdat", make([]byte, 50)), data[len(ftyp):headerEnd]))
	notMP4("moov that does not parse", slices.Concat(ftyp, box("moov", box("mvex", []byte{0, 0, 0, 200, 't', 'r', 'e', 'x'}))))
	notMP4("ftyp size 0", append([]byte{0, 0, 0, 0}, data[4:]...))
	notMP4("ftyp size 1, largesize 4", slices.Concat([]byte{0, 0, 0, 1}, []byte("ftyp"), make([]byte, 7), []byte{4}, data[16:]))
	if _, err := Repair(filepath.Join(dir, "missing.mp4")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Repair of a missing file = %v, want not exist", err)
	}
	if _, err := Repair(dir); err == nil {
		t.Errorf("Repair of a directory succeeded")
	}

	// Garbage after the last complete fragment is cut, whatever it claims to be.
	body := data[:frags[len(frags)-1].End]
	huge := binary.BigEndian.AppendUint64([]byte{0, 0, 0, 1, 'm', 'd', 'a', 't'}, 1<<62)
	tails := map[string][]byte{
		"size 0 box":              {0, 0, 0, 0, 'm', 'd', 'a', 't', 1, 2, 3},
		"size 3 box":              {0, 0, 0, 3, 'f', 'r', 'e', 'e', 1, 2, 3},
		"largesize 8":             binary.BigEndian.AppendUint64([]byte{0, 0, 0, 1, 'f', 'r', 'e', 'e'}, 8),
		"largesize beyond":        huge,
		"largesize above int64":   binary.BigEndian.AppendUint64([]byte{0, 0, 0, 1, 'm', 'o', 'o', 'f'}, 1<<63+5),
		"size beyond":             {0xff, 0xff, 0xff, 0xff, 'm', 'o', 'o', 'f', 0, 0},
		"half a header":           {0, 0, 1},
		"free box":                box("free", make([]byte, 10)),
		"garbage moof and mdat":   slices.Concat(box("moof", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}), box("mdat", make([]byte, 64))),
		"moof, moof":              slices.Concat(data[frags[0].Start:frags[0].MdatStart], data[frags[0].Start:frags[0].MdatStart]),
		"moof, free, mfra":        slices.Concat(data[frags[0].Start:frags[0].MdatStart], box("free"), box("mfra")),
		"moof with short mdat":    slices.Concat(data[frags[1].Start:frags[1].MdatStart], box("mdat", make([]byte, 4))),
		"second moov":             data[len(ftyp):headerEnd],
		"random bytes":            {0x9a, 0x11, 0x00, 0x42, 0x13, 0x37, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04},
		"moof of an unknown trak": slices.Concat(box("moof", box("traf", box("tfhd", []byte{0, 2, 0, 0, 0, 0, 0, 9}))), box("mdat")),
	}
	for name, tail := range tails {
		b := slices.Concat(body, tail)
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Repair(file)
		want := RepairResult{Size: int64(len(body)), Truncated: int64(len(tail)), Fragments: len(frags), Duration: frags[len(frags)-1].EndTime}
		if err != nil || res != want {
			t.Errorf("tail %s: Repair = %+v, %v; want %+v", name, res, err, want)
		}
		if got := fileSize(t, file); got != int64(len(body)) {
			t.Errorf("tail %s: file is %d bytes, want %d", name, got, len(body))
		}
	}

	// Boxes too large to read are refused, not read: a 17 MiB moov, a 17 MiB moof (sparse).
	for name, head := range map[string][]byte{
		"moov": slices.Concat(ftyp, binary.BigEndian.AppendUint32(nil, 17<<20), []byte("moov")),
		"moof": slices.Concat(data[:headerEnd], binary.BigEndian.AppendUint32(nil, 17<<20), []byte("moof")),
	} {
		f, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(head); err != nil {
			t.Fatal(err)
		}
		end := int64(len(head)) - 8 + 17<<20
		if err := f.Truncate(end); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if res, err := Repair(file); !errors.Is(err, ErrNotFragmentedMP4) {
			t.Errorf("huge %s: Repair = %+v, %v; want ErrNotFragmentedMP4", name, res, err)
		}
		if got := fileSize(t, file); got != end {
			t.Errorf("huge %s: Repair changed the size %d → %d", name, end, got)
		}
	}
}

// TestInspectCorrupted flips random bytes of a real file: the scan never panics, and whatever it
// keeps is a whole number of bytes of the file, at least the header when it succeeds.
func TestInspectCorrupted(t *testing.T) {
	_, data := recordFile(t, 2)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		b := slices.Clone(data)
		if i%2 == 0 {
			b = b[:rnd.IntN(len(b)+1)]
		}
		for n := 1 + rnd.IntN(4); n > 0 && len(b) > 0; n-- {
			at := rnd.IntN(len(b))
			if rnd.IntN(2) == 0 {
				b[at] = byte(rnd.Uint32())
			} else {
				b[at] ^= 0x80
			}
		}
		res, err := scan(bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			continue
		}
		if res.Size < 8 || res.Size > int64(len(b)) || res.Size+res.Truncated != int64(len(b)) || res.Fragments < 0 || res.Duration < 0 {
			t.Fatalf("iteration %d: scan = %+v for %d bytes", i, res, len(b))
		}
	}
}

func TestSHA256File(t *testing.T) {
	dir := t.TempDir()
	rnd := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 1000, 3<<20 + 17} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		path := filepath.Join(dir, "f"+strconv.Itoa(n))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := SHA256File(path)
		read, _ := os.ReadFile(path)
		sum := sha256.Sum256(read)
		if want := hex.EncodeToString(sum[:]); err != nil || got != want {
			t.Errorf("%d bytes: SHA256File = %q, %v; want %q", n, got, err, want)
		}
	}
	if _, err := SHA256File(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SHA256File of a missing file = %v, want not exist", err)
	}
}
