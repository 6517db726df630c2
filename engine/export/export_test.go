package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/capture/capturetest"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/engine/pipeline"
	"github.com/screenrec/recorder/internal/mediatest"
)

var (
	red   = color.RGBA{R: 200, G: 30, B: 30, A: 255}
	green = color.RGBA{R: 30, G: 200, B: 30, A: 255}
	blue  = color.RGBA{R: 30, G: 30, B: 200, A: 255}
)

// record records a scripted screen of two monitors (two tracks), still between colour
// changes, for about 2.6 s at 10 fps; segment > 0 cuts it into segments. It returns the
// summary.
func record(t *testing.T, segment time.Duration, size int) *pipeline.Summary {
	t.Helper()
	return recordAll(t, recording{segment, size})[0]
}

// recording is what record records: segments of segment (0: one file) of monitors size wide.
type recording struct {
	segment time.Duration
	size    int
}

// recordAll makes the recordings at the same time, as record makes one: each lasts 2.6 s of
// real time, mostly waiting, and none depends on another.
func recordAll(t *testing.T, recs ...recording) []*pipeline.Summary {
	t.Helper()
	sums := make([]*pipeline.Summary, len(recs))
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for i, r := range recs {
		out := filepath.Join(t.TempDir(), "rec.mp4")
		wg.Go(func() { sums[i], errs[i] = recordTo(out, r) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return sums
}

// recordTo records r into out.
func recordTo(out string, r recording) (*pipeline.Summary, error) {
	size := r.size
	screen := &capturetest.Screen{
		Monitors: []capture.Monitor{{Name: "L", Width: size, Height: size * 3 / 4, Primary: true},
			{Name: "R", X: size, Width: size, Height: size * 3 / 4}},
		Steps: []capturetest.Step{{At: 0, Colour: red}, {At: 600 * time.Millisecond, Colour: green}, {At: 1700 * time.Millisecond, Colour: blue}},
	}
	rec, err := pipeline.Start(context.Background(), pipeline.Spec{CaptureSpec: pipeline.CaptureSpec{Display: ":1",
		Backend: screen, Layout: capture.LayoutTracks, FPS: 10}, Out: out, SegmentEvery: r.segment, Duration: 2600 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	sum, err := rec.Wait()
	if err != nil {
		return nil, err
	}
	if len(sum.Segments) == 0 {
		sum.Segments = []mux.Segment{{Index: 1, Path: sum.Path}}
	}
	return sum, nil
}

func paths(sum *pipeline.Summary) []string {
	var out []string
	for _, s := range sum.Segments {
		out = append(out, s.Path)
	}
	return out
}

type packet struct {
	PTS      string `json:"pts_time"`
	Duration string `json:"duration_time"`
}

// packets lists video track v's packets (in decode order) as ffprobe reads them.
func packets(t *testing.T, path string, v int) []packet {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:"+strconv.Itoa(v), "-show_entries",
		"packet=pts_time,duration_time", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var r struct{ Packets []packet }
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Packets
}

func seconds(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

func probe(t *testing.T, path string) *mediatest.Probe {
	t.Helper()
	p, err := mediatest.ProbeFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// decoded holds the video tracks of the files a test has decoded, each file once (all its
// tracks), by path: the tests look at many times of each.
type decoded map[string][]*mediatest.Video

// pixel is video track v's colour at the centre of the frame shown at sec.
func (d decoded) pixel(t *testing.T, path string, v int, sec float64) color.RGBA {
	t.Helper()
	videos, ok := d[path]
	if !ok {
		var err error
		if videos, err = mediatest.DecodeVideos(context.Background(), path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		d[path] = videos
	}
	if v >= len(videos) {
		t.Fatalf("%s has %d video tracks, not track %d", path, len(videos), v)
	}
	img, err := videos[v].FrameAt(sec)
	if err != nil {
		t.Fatalf("%s track %d at %.2fs: %v", path, v, sec, err)
	}
	b := img.Bounds()
	return img.RGBAAt(b.Dx()/2, b.Dy()/2)
}

// recordedPixel is what the recording (its segments one after the other) shows on video track
// v at sec: the centre pixel of the segment that holds sec.
func (d decoded) recordedPixel(t *testing.T, sum *pipeline.Summary, v int, sec float64) color.RGBA {
	t.Helper()
	var start float64
	for i, sg := range sum.Segments {
		tls, err := mediatest.ReadTimelines(sg.Path)
		if err != nil {
			t.Fatal(err)
		}
		end := start + tls[v].End().Seconds()
		if sec < end || i == len(sum.Segments)-1 {
			return d.pixel(t, sg.Path, v, sec-start)
		}
		start = end
	}
	t.Fatal("no segments")
	return color.RGBA{}
}

// sampleTimes are frame slot times at 10 and 25 fps, before, between and after the colour
// changes and at the segment cuts: a constant-frame-rate copy shows at a slot's time what the
// recording shows then.
var sampleTimes = []float64{0, 0.5, 0.6, 0.8, 1.0, 1.6, 1.8, 2.0, 2.5}

// A recording in segments joined into one file: it lasts as long as its segments together,
// its packets are theirs one after the other (no re-encode, no gap, no overlap), and it shows
// the screen's colours at their times.
func TestJoin(t *testing.T) {
	mediatest.SkipIfUnavailable(t)
	t.Parallel()
	sum := record(t, time.Second, 160)
	if len(sum.Segments) < 3 {
		t.Fatalf("%d segments, want 3", len(sum.Segments))
	}
	out := filepath.Join(t.TempDir(), "joined.mp4")
	res, err := Run(context.Background(), Options{Inputs: paths(sum), Output: out, Join: true})
	if err != nil {
		t.Fatal(err)
	}
	var want []float64 // the segments' packet times, each segment after the one before
	var total float64
	for _, sg := range sum.Segments {
		for _, p := range packets(t, sg.Path, 0) {
			want = append(want, total+seconds(t, p.PTS))
		}
		tls, err := mediatest.ReadTimelines(sg.Path)
		if err != nil {
			t.Fatal(err)
		}
		total += tls[0].End().Seconds()
	}
	got := packets(t, out, 0)
	if len(got) != len(want) {
		t.Fatalf("joined file has %d packets, the segments %d", len(got), len(want))
	}
	for i := range got {
		if math.Abs(seconds(t, got[i].PTS)-want[i]) > 0.001 {
			t.Errorf("packet %d at %s s, want %.3f (segment times one after the other)", i, got[i].PTS, want[i])
		}
	}
	p := probe(t, out)
	if math.Abs(p.Format.Duration-total) > 0.002 || math.Abs(res.Duration.Seconds()-total) > 0.002 {
		t.Errorf("joined file lasts %.3f s (result %s), the segments %.3f s", p.Format.Duration, res.Duration, total)
	}
	if math.Abs(total-2.6) > 0.01 {
		t.Errorf("the segments last %.3f s, the recording 2.6 s", total)
	}
	if len(p.VideoStreams()) != 2 || p.Format.Tags["segment"] != "" || p.Format.Tags[MetaCaptureFPS] != "10" {
		t.Errorf("joined file: %d video tracks, tags %v; want 2, no segment tag, capture_fps 10", len(p.VideoStreams()), p.Format.Tags)
	}
	seen := map[color.RGBA]bool{}
	frames := decoded{}
	for v := 0; v < 2; v++ {
		for _, at := range sampleTimes {
			want := frames.recordedPixel(t, sum, v, at)
			if c := frames.pixel(t, out, v, at); !mediatest.Near(c, want, 3) {
				t.Errorf("track %d at %.2fs shows %v, the recording %v", v, at, c, want)
			}
			seen[want] = true
		}
	}
	if len(seen) < 3 {
		t.Errorf("the recording shows %d colours at the sample times, want the three painted", len(seen))
	}
}

// A constant-frame-rate copy: every packet lasts one frame at the capture rate, ffprobe
// reads that rate as both r_frame_rate and avg_frame_rate, and it shows the same pictures at
// the same times as the recording.
func TestCFR(t *testing.T) {
	mediatest.SkipIfUnavailable(t)
	t.Parallel()
	sums := recordAll(t, recording{0, 160}, recording{time.Second, 160})
	single, segmented := sums[0], sums[1]
	frames := decoded{}
	for _, c := range []struct {
		name string
		sum  *pipeline.Summary
		fps  int
		join bool
	}{{"one file at the capture rate", single, 0, false}, {"segments joined at 25 fps", segmented, 25, true}} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "cfr.mp4")
			res, err := Run(context.Background(), Options{Inputs: paths(c.sum), Output: out, CFR: true, FPS: c.fps, Join: c.join})
			if err != nil {
				t.Fatal(err)
			}
			fps := c.fps
			if fps == 0 {
				fps = 10 // the capture rate
			}
			if res.FPS != fps || !res.Reencoded {
				t.Errorf("result %+v, want %d fps", res, fps)
			}
			p := probe(t, out)
			for v, st := range p.VideoStreams() {
				if want := fmt.Sprintf("%d/1", fps); st.RFrameRate != want || st.AvgFrameRate != want {
					t.Errorf("track %d: r_frame_rate %s, avg_frame_rate %s; want both %s", v, st.RFrameRate, st.AvgFrameRate, want)
				}
				pk := packets(t, out, v)
				for i, k := range pk {
					if d := seconds(t, k.Duration); math.Abs(d-1/float64(fps)) > 1e-6 {
						t.Errorf("track %d packet %d (at %s) lasts %s s, want %.4f", v, i, k.PTS, k.Duration, 1/float64(fps))
						break
					}
				}
				if want := int(math.Round(2.6 * float64(fps))); len(pk) != want {
					t.Errorf("track %d has %d frames, want %d (2.6 s at %d fps)", v, len(pk), want, fps)
				}
				for _, at := range sampleTimes {
					want := frames.recordedPixel(t, c.sum, v, at)
					got := frames.pixel(t, out, v, at)
					if !mediatest.Near(got, want, 6) {
						t.Errorf("track %d at %.2fs shows %v, the recording %v", v, at, got, want)
					}
				}
			}
			if math.Abs(p.Format.Duration-2.6) > 1.0/float64(fps)+0.001 {
				t.Errorf("the copy lasts %.3f s, the recording 2.6 s", p.Format.Duration)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	mediatest.SkipIfUnavailable(t)
	t.Parallel()
	sums := recordAll(t, recording{0, 160}, recording{0, 96}) // another size: cannot join
	small, other := sums[0], sums[1]
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.mp4")
	if err := os.WriteFile(exists, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.mp4") // no capture_fps tag
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5", "-t", "1",
		"-c:v", "libx264", plain).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	a := small.Segments[0].Path
	for _, c := range []struct {
		name string
		o    Options
		want error
	}{
		{"no input", Options{Output: filepath.Join(dir, "x.mp4"), Join: true}, ErrOptions},
		{"nothing asked", Options{Inputs: []string{a}, Output: filepath.Join(dir, "x.mp4")}, ErrOptions},
		{"several without join", Options{Inputs: []string{a, a}, Output: filepath.Join(dir, "x.mp4"), CFR: true}, ErrOptions},
		{"fps without cfr", Options{Inputs: []string{a}, Output: filepath.Join(dir, "x.mp4"), Join: true, FPS: 5}, ErrOptions},
		{"output is an input", Options{Inputs: []string{a}, Output: a, Join: true, Overwrite: true}, ErrOptions},
		{"output exists", Options{Inputs: []string{a}, Output: exists, Join: true}, ErrOutputExists},
		{"missing input", Options{Inputs: []string{filepath.Join(dir, "nope.mp4")}, Output: filepath.Join(dir, "x.mp4"), Join: true}, ErrInput},
		{"sizes differ", Options{Inputs: []string{a, other.Segments[0].Path}, Output: filepath.Join(dir, "x.mp4"), Join: true}, ErrIncompatible},
		{"no capture rate", Options{Inputs: []string{plain}, Output: filepath.Join(dir, "x.mp4"), CFR: true}, ErrNoFrameRate},
	} {
		_, err := Run(context.Background(), c.o)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.mp4")); !os.IsNotExist(err) {
		t.Errorf("a failed export left its output: %v", err)
	}
	if b, _ := os.ReadFile(exists); string(b) != "x" {
		t.Errorf("an existing output was changed without Overwrite")
	}
	if _, err := Run(context.Background(), Options{Inputs: []string{a}, Output: exists, Join: true, Overwrite: true}); err != nil {
		t.Errorf("Overwrite: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != "exists.mp4" && n != "plain.mp4" {
			t.Errorf("left behind: %s", n)
		}
	}
}
