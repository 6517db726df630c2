package mediatest

import (
	"context"
	"errors"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// encode runs ffmpeg with args, writing out.mp4 in a fresh temporary
// directory, and returns the file's path.
func encode(t *testing.T, args ...string) string {
	t.Helper()
	SkipIfUnavailable(t)
	path := filepath.Join(t.TempDir(), "out.mp4")
	args = append([]string{"-nostdin", "-v", "error"}, args...)
	cmd := exec.Command("ffmpeg", append(args, path)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return path
}

// redClip is one second of solid red at 10 fps, 320x240, H.264.
func redClip(t *testing.T) string {
	return encode(t, "-f", "lavfi", "-i", "color=c=red:s=320x240:d=1:r=10",
		"-c:v", "libx264", "-pix_fmt", "yuv420p")
}

// red is what pure red looks like after a round trip through yuv420p with
// limited-range BT.601.
var red = color.RGBA{254, 0, 0, 0xff}

func TestProbeFile(t *testing.T) {
	t.Parallel()
	path := redClip(t)
	p, err := ProbeFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	vs := p.VideoStreams()
	if len(p.Streams) != 1 || len(vs) != 1 {
		t.Fatalf("got %d streams, %d video; want 1 video stream", len(p.Streams), len(vs))
	}
	s := vs[0]
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"Index", s.Index, 0},
		{"CodecName", s.CodecName, "h264"},
		{"CodecType", s.CodecType, "video"},
		{"PixFmt", s.PixFmt, "yuv420p"},
		{"Profile", s.Profile, "High"},
		{"Width", s.Width, 320},
		{"Height", s.Height, 240},
		{"NbReadFrames", s.NbReadFrames, 10},
		{"NbFrames", s.NbFrames, 10},
		{"AvgFrameRate", s.AvgFrameRate, "10/1"},
		{"FrameRate()", s.FrameRate(), 10.0},
		{"Format.NbStreams", p.Format.NbStreams, 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if math.Abs(s.Duration-1) > 0.05 || math.Abs(p.Format.Duration-1) > 0.05 {
		t.Errorf("durations = %g (stream), %g (format); want about 1 s", s.Duration, p.Format.Duration)
	}
	if !strings.Contains(s.Tags["encoder"], "libx264") {
		t.Errorf("stream tags = %v, want an encoder tag naming libx264", s.Tags)
	}
	if !strings.Contains(p.Format.FormatName, "mp4") {
		t.Errorf("FormatName = %q, want it to mention mp4", p.Format.FormatName)
	}
	if p.Format.Tags["major_brand"] == "" {
		t.Errorf("format tags = %v, want major_brand", p.Format.Tags)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Format.Size != fi.Size() {
		t.Errorf("Format.Size = %d, want the file size %d", p.Format.Size, fi.Size())
	}
	if p.Format.BitRate <= 0 {
		t.Errorf("Format.BitRate = %d, want > 0", p.Format.BitRate)
	}
}

func TestProbeFileErrors(t *testing.T) {
	t.Parallel()
	SkipIfUnavailable(t)
	_, err := ProbeFile(context.Background(), filepath.Join(t.TempDir(), "missing.mp4"))
	if err == nil || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("ProbeFile(missing) = %v, want an error quoting ffprobe's stderr", err)
	}
	notMedia := filepath.Join(t.TempDir(), "x.mp4")
	if err := os.WriteFile(notMedia, []byte("not a video"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ProbeFile(context.Background(), notMedia); err == nil {
		t.Error("ProbeFile(garbage) succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ProbeFile(ctx, notMedia); err == nil {
		t.Error("ProbeFile with cancelled context succeeded")
	}
}

func TestFrameAt(t *testing.T) {
	t.Parallel()
	path := redClip(t)
	img, err := FrameAt(context.Background(), path, 0, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
		t.Fatalf("frame size = %v, want 320x240", b)
	}
	for _, pt := range [][2]int{{160, 120}, {0, 0}, {319, 239}} {
		if got := img.RGBAAt(pt[0], pt[1]); !Near(got, red, 6) {
			t.Errorf("pixel %v = %v, want near %v", pt, got, red)
		}
	}

	if _, err := FrameAt(context.Background(), path, 0, 5); !errors.Is(err, ErrNoFrame) {
		t.Errorf("FrameAt past the end = %v, want ErrNoFrame", err)
	}
	if _, err := FrameAt(context.Background(), path, 1, 0); !errors.Is(err, ErrNoVideoStream) {
		t.Errorf("FrameAt video stream 1 = %v, want ErrNoVideoStream", err)
	}
	if _, err := FrameAt(context.Background(), path, 0, -1); err == nil {
		t.Error("FrameAt at a negative time succeeded")
	}
}

func TestFrameAtSelectsVideoStream(t *testing.T) {
	t.Parallel()
	// Two video streams of different size and colour: index 1 must be the
	// blue one, proving videoIndex counts video streams.
	path := encode(t,
		"-f", "lavfi", "-i", "color=c=red:s=320x240:d=1:r=10",
		"-f", "lavfi", "-i", "color=c=blue:s=160x120:d=1:r=10",
		"-map", "0", "-map", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p")
	img, err := FrameAt(context.Background(), path, 1, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
		t.Fatalf("frame size = %v, want 160x120", b)
	}
	blue := color.RGBA{0, 0, 254, 0xff}
	if got := img.RGBAAt(80, 60); !Near(got, blue, 8) {
		t.Errorf("centre = %v, want near %v", got, blue)
	}
	times, err := FrameTimes(context.Background(), path, 1)
	if err != nil || len(times) != 10 {
		t.Errorf("FrameTimes(stream 1) = %v, %v; want 10 times", times, err)
	}
	// Both streams decoded by one ffmpeg, each from its own pipe: each its own size and
	// colour, stream 1 the very frame FrameAt gave.
	videos, err := DecodeVideos(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(videos) != 2 || videos[0].Width != 320 || videos[1].Width != 160 || len(videos[0].Times) != 10 || len(videos[1].Times) != 10 {
		t.Fatalf("DecodeVideos = %d streams (%+v)", len(videos), videos)
	}
	first, err := videos[0].FrameAt(0.2)
	if err != nil {
		t.Fatal(err)
	}
	if got := first.RGBAAt(160, 120); !Near(got, red, 6) {
		t.Errorf("DecodeVideos stream 0 centre = %v, want near %v", got, red)
	}
	second, err := videos[1].FrameAt(0.2)
	if err != nil {
		t.Fatal(err)
	}
	if string(second.Pix) != string(img.Pix) {
		t.Errorf("DecodeVideos stream 1 at 0.2 s is not FrameAt's frame (centre %v)", second.RGBAAt(80, 60))
	}
}

func TestFrameTimes(t *testing.T) {
	t.Parallel()
	path := redClip(t)
	times, err := FrameTimes(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) != 10 {
		t.Fatalf("got %d frame times, want 10: %v", len(times), times)
	}
	for i, ts := range times {
		if want := float64(i) / 10; math.Abs(ts-want) > 1e-3 {
			t.Errorf("frame %d at %gs, want %gs", i, ts, want)
		}
	}
	if _, err := FrameTimes(context.Background(), path, 3); !errors.Is(err, ErrNoVideoStream) {
		t.Errorf("FrameTimes(stream 3) = %v, want ErrNoVideoStream", err)
	}
}

func TestNear(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b color.RGBA
		tol  uint8
		want bool
	}{
		{color.RGBA{10, 20, 30, 255}, color.RGBA{10, 20, 30, 0}, 0, true}, // alpha ignored
		{color.RGBA{10, 20, 30, 255}, color.RGBA{16, 14, 36, 255}, 6, true},
		{color.RGBA{10, 20, 30, 255}, color.RGBA{17, 20, 30, 255}, 6, false},
		{color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}, 254, false},
		{color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}, 255, true},
	} {
		if got := Near(c.a, c.b, c.tol); got != c.want {
			t.Errorf("Near(%v, %v, %d) = %v, want %v", c.a, c.b, c.tol, got, c.want)
		}
	}
}

func TestNumberParsing(t *testing.T) {
	t.Parallel()
	var c converter
	if v := c.float("N/A"); v != 0 || c.err != nil {
		t.Errorf("N/A -> %v, %v", v, c.err)
	}
	if v := c.int("42"); v != 42 || c.err != nil {
		t.Errorf("42 -> %v, %v", v, c.err)
	}
	if c.int("4x"); c.err == nil {
		t.Error("garbage number accepted")
	}
	for rate, want := range map[string]float64{"30/1": 30, "30000/1001": 29.97002997, "0/0": 0, "": 0, "25": 25} {
		if got := (Stream{AvgFrameRate: rate}).FrameRate(); math.Abs(got-want) > 1e-6 {
			t.Errorf("FrameRate(%q) = %g, want %g", rate, got, want)
		}
	}
}

// A stream decoded once (DecodeVideo, FramesAt) shows, at every time, the very frame FrameAt
// decodes then: on a variable-frame-rate clip with B-frames and colour changes, on frames,
// between them, in the gaps and at both ends.
func TestDecodeVideoAgreesWithFrameAt(t *testing.T) {
	t.Parallel()
	// Red, green and blue thirds at 10 fps, with frames 3 to 7 and 15 to 16 dropped (a
	// still screen's gaps), B-frames on (libx264's default).
	path := encode(t, "-filter_complex",
		"color=c=red:s=64x48:d=1:r=10[a];color=c=green:s=64x48:d=1:r=10[b];color=c=blue:s=64x48:d=1:r=10[c];"+
			"[a][b][c]concat=n=3,select='not(between(n\\,3\\,7)+between(n\\,15\\,16))'[v]",
		"-map", "[v]", "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p")
	v, err := DecodeVideo(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Times) != 23 || v.Width != 64 || v.Height != 48 {
		t.Fatalf("decoded %d frames of %dx%d at %v; want 23 of 64x48", len(v.Times), v.Width, v.Height, v.Times)
	}
	colours := map[color.RGBA]bool{}
	// The ends, a gap, and just before a colour change (where the frame after differs).
	sampleTimes := []float64{0, 0.25, 0.95, 1.95, 2.9}
	frames, err := FramesAt(context.Background(), path, 0, append(sampleTimes, 0.95)...) // one twice
	if err != nil {
		t.Fatal(err)
	}
	if string(frames[len(sampleTimes)].Pix) != string(frames[2].Pix) {
		t.Errorf("FramesAt gave two frames for one time asked twice")
	}
	for i, at := range sampleTimes {
		want, err := FrameAt(context.Background(), path, 0, at)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.FrameAt(at)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Bounds().Eq(want.Bounds()) || string(got.Pix) != string(want.Pix) {
			t.Errorf("at %.2fs the decoded stream shows another frame than FrameAt (centre %v, FrameAt's %v)",
				at, got.RGBAAt(32, 24), want.RGBAAt(32, 24))
		}
		if got := frames[i]; !got.Bounds().Eq(want.Bounds()) || string(got.Pix) != string(want.Pix) {
			t.Errorf("at %.2fs FramesAt shows another frame than FrameAt (centre %v, FrameAt's %v)",
				at, got.RGBAAt(32, 24), want.RGBAAt(32, 24))
		}
		colours[want.RGBAAt(32, 24)] = true
	}
	if len(colours) != 3 {
		t.Errorf("the sample times show %d colours, want the three of the clip: %v", len(colours), colours)
	}
	if _, err := v.FrameAt(5); !errors.Is(err, ErrNoFrame) {
		t.Errorf("FrameAt past the end = %v, want ErrNoFrame", err)
	}
	if _, err := v.FrameAt(-1); err == nil {
		t.Error("FrameAt at a negative time succeeded")
	}
	if _, err := FramesAt(context.Background(), path, 0, 1, 5); !errors.Is(err, ErrNoFrame) {
		t.Errorf("FramesAt past the end = %v, want ErrNoFrame", err)
	}
	if _, err := DecodeVideo(context.Background(), path, 1); !errors.Is(err, ErrNoVideoStream) {
		t.Errorf("DecodeVideo(stream 1) = %v, want ErrNoVideoStream", err)
	}
}
