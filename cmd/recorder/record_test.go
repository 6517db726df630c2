package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/pipeline"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/xscene"
)

func TestRecordCanvasOfThreeMonitors(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "canvas.mp4")
	sum := d.record(t, "--out", path, "--duration", "3s", "--fps", "10")

	p := probe(t, path)
	vs := p.VideoStreams()
	if len(vs) != 1 || vs[0].CodecName != "h264" || vs[0].Width != 4224 || vs[0].Height != 1080 {
		t.Fatalf("streams = %+v, want one h264 4224x1080", vs)
	}
	if sum.Width != 4224 || sum.Height != 1080 || sum.Encoder != "libx264" || len(sum.Tracks) != 1 {
		t.Fatalf("summary = %+v", sum)
	}
	assertFrameTimes(t, sum.Tracks[0], vs[0].NbReadFrames, 10, 3)
	if p.Format.Duration < 2.8 || p.Format.Duration > 3.3 {
		t.Errorf("file lasts %.2f s, want 3", p.Format.Duration)
	}
	tags := p.Format.Tags
	if tags["video_encoder"] != "libx264" || tags["layout"] != "canvas" || tags["recording_id"] == "" ||
		!strings.Contains(tags["monitors"], "2:M2 1024x768+3200+0") {
		t.Errorf("metadata = %v", tags)
	}
	if _, err := time.Parse(time.RFC3339Nano, tags["start_time"]); err != nil {
		t.Errorf("start_time %q: %v", tags["start_time"], err)
	}

	img := frameAt(t, path, 0, 1.5)
	for i, m := range d.srv.Monitors {
		c := centre(m.Bounds())
		assertColour(t, img, c.X, c.Y, monitorColours[i], m.Name+" centre")
	}
	// Below M1 (1024 high) and M2 (768 high) no monitor shows anything: it must be black.
	assertColour(t, img, 2500, 1060, black, "strip under M1")
	assertColour(t, img, 3700, 900, black, "area under M2")
}

func TestRecordTracksLayout(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "tracks.mp4")
	sum := d.record(t, "--out", path, "--duration", "3s", "--layout", "tracks")
	vs := probe(t, path).VideoStreams()
	if len(vs) != 3 || len(sum.Tracks) != 3 {
		t.Fatalf("got %d streams and %d summary tracks, want 3", len(vs), len(sum.Tracks))
	}
	for i, m := range d.srv.Monitors {
		if vs[i].Width != m.Width || vs[i].Height != m.Height {
			t.Errorf("track %d is %dx%d, want %dx%d", i, vs[i].Width, vs[i].Height, m.Width, m.Height)
		}
		assertFrameTimes(t, sum.Tracks[i], vs[i].NbReadFrames, 10, 3)
		img := frameAt(t, path, i, 1.5)
		assertColour(t, img, m.Width/2, m.Height/2, monitorColours[i], m.Name)
		if vs[i].Tags["handler_name"] != m.Name {
			t.Errorf("track %d handler_name = %q, want %q", i, vs[i].Tags["handler_name"], m.Name)
		}
	}
}

func TestRecordSubsetAndDownscale(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "m1.mp4")
	d.record(t, "--out", path, "--duration", "2s", "--monitors", "1")
	vs := probe(t, path).VideoStreams()
	if len(vs) != 1 || vs[0].Width != 1280 || vs[0].Height != 1024 {
		t.Fatalf("streams = %+v, want one 1280x1024", vs)
	}
	assertColour(t, frameAt(t, path, 0, 1), 640, 512, monitorColours[1], "M1")

	// Monitors 0 and 2 as a canvas, scaled into 1000x1000 keeping aspect.
	path = out(t, "m02.mp4")
	sum := d.record(t, "--out", path, "--duration", "2s", "--monitors", "0,2", "--max-width", "1000", "--max-height", "1000")
	vs = probe(t, path).VideoStreams()
	// 4224x1080 scaled by 1000/4224 → 1000x255.6 → even 1000x254.
	if len(vs) != 1 || vs[0].Width != 1000 || vs[0].Height != 254 || sum.Width != 1000 {
		t.Fatalf("streams = %+v, want one 1000x254", vs)
	}
	img := frameAt(t, path, 0, 1)
	assertColour(t, img, 227, 127, monitorColours[0], "M0 scaled")
	assertColour(t, img, 878, 90, monitorColours[2], "M2 scaled")
	assertColour(t, img, 606, 127, black, "unselected M1 is black")
}

func TestRecordOddRegion(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "odd.mp4")
	sum := d.record(t, "--out", path, "--duration", "1s", "--region", "301x201+1900+100")
	vs := probe(t, path).VideoStreams()
	if len(vs) != 1 || vs[0].Width != 300 || vs[0].Height != 200 || sum.Width != 300 {
		t.Fatalf("streams = %+v, want one 300x200 (odd edges dropped)", vs)
	}
	img := frameAt(t, path, 0, 0.5)
	assertColour(t, img, 5, 100, monitorColours[0], "left of the M0|M1 edge")
	assertColour(t, img, 290, 100, monitorColours[1], "right of the M0|M1 edge")
}

func TestRecordShowsScreenChangesOnTime(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "change.mp4")
	m0 := d.srv.Monitors[0].Bounds()
	yellow := color.RGBA{230, 210, 30, 255}
	var changedAt time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		// 1.5 s into the recording (its file appears when it begins), not from the process's
		// start: a loaded machine may take a second or more to start it.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
				break
			}
			if time.Now().After(deadline) {
				return
			}
		}
		time.Sleep(1500 * time.Millisecond)
		changedAt = time.Now()
		if err := d.painter.Fill(m0, yellow); err != nil {
			t.Error(err)
		}
	}()
	d.record(t, "--out", path, "--duration", "4s", "--monitors", "0", "--fps", "15")
	<-done
	start, err := time.Parse(time.RFC3339Nano, probe(t, path).Format.Tags["start_time"])
	if err != nil {
		t.Fatal(err)
	}
	at := changedAt.Sub(start).Seconds()
	if at < 1 || at > 3.5 {
		t.Fatalf("change at %.2fs into the recording; the test's timing is off", at)
	}
	c := centre(m0)
	imgs, err := mediatest.FramesAt(context.Background(), path, 0, at-0.3, at+0.3) // one decode for both
	if err != nil {
		t.Fatalf("frames %.2fs and %.2fs of %s: %v", at-0.3, at+0.3, path, err)
	}
	assertColour(t, imgs[0], c.X, c.Y, monitorColours[0], "0.3 s before the change")
	assertColour(t, imgs[1], c.X, c.Y, yellow, "0.3 s after the change")
}

// killLossBound is what kill -9 may lose of a moving screen: the open fragment (half a
// second, engine/mux) and the frames still in the capture and encoder, within the promised
// second, plus one frame interval (0.1 s at the default 10 fps): the last frame written ends
// a frame time after its capture, and the next one is due up to a frame time later.
const killLossBound = time.Second + time.Second/pipeline.DefaultFPS

// TestRecordSurvivesKill9: two recordings of moving screens (each frame changes, so every
// frame time is encoded) are killed with SIGKILL at once; each file keeps everything up to
// within killLossBound of the kill. The loss is measured from the file itself: the kill's
// time minus the end of the last decodable frame (the start_time tag plus the duration).
func TestRecordSurvivesKill9(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	type rec struct {
		cmd  *exec.Cmd
		path string
	}
	var recs []rec
	for i := range 3 {
		// The video scene changes every pixel of its area on every update; the third monitor
		// stays still, so its file's end is the stretched last picture (the muxer's sync).
		if i < 2 {
			go func() { _ = xscene.Play(ctx, d.srv.Display, xscene.SceneVideo, d.srv.Monitors[i].Bounds(), 25) }()
		}
		path := out(t, fmt.Sprintf("killed-%d.mp4", i))
		cmd := exec.Command(recorderBin, "record", "--out", path, "--duration", "0", "--monitors", strconv.Itoa(i))
		cmd.Env = d.srv.Env()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		recs = append(recs, rec{cmd, path})
	}
	for _, r := range recs {
		waitRecording(t, r.path)
	}
	time.Sleep(4 * time.Second)
	killedAt := time.Now()
	for _, r := range recs {
		if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range recs {
		_ = r.cmd.Wait()
		p := probe(t, r.path)
		start, err := time.Parse(time.RFC3339Nano, p.Format.Tags["start_time"])
		if err != nil {
			t.Fatalf("start_time tag: %v", err)
		}
		end := start.Add(time.Duration(p.Format.Duration * float64(time.Second)))
		lost := killedAt.Sub(end)
		t.Logf("%s: kill -9 %.2f s after its start lost %.3f s", filepath.Base(r.path), killedAt.Sub(start).Seconds(), lost.Seconds())
		if lost > killLossBound {
			t.Errorf("%s: the last frame ends %.3f s before the kill, want ≤ %v", r.path, lost.Seconds(), killLossBound)
		}
		if msgs, err := mediatest.DecodeErrors(context.Background(), r.path); err != nil || msgs != "" {
			t.Errorf("%s does not decode cleanly: %v %s", r.path, err, msgs)
		}
		// The video scenes; the still monitor may have its first frame only (the default
		// max_frame_gap is longer than the recording): the muxer extends it until the kill.
		wantFrames := 10
		if i == 2 {
			wantFrames = 1
		}
		if vs := p.VideoStreams(); len(vs) != 1 || vs[0].NbReadFrames < wantFrames {
			t.Fatalf("decodable frames = %+v, want ≥ %d", vs, wantFrames)
		}
	}
}

func TestRecordStopsCleanlyOnSIGINT(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "interrupted.mp4")
	cmd := exec.Command(recorderBin, "record", "--out", path, "--duration", "0", "--monitors", "2", "--json")
	cmd.Env = d.srv.Env()
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitRecording(t, path)
	time.Sleep(2 * time.Second)
	interruptedAt := time.Now()
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("recorder after SIGINT: %v", err)
	}
	if !strings.Contains(stdout.String(), `"encoder": "libx264"`) {
		t.Errorf("no summary after SIGINT: %s", stdout.String())
	}
	p := probe(t, path)
	if len(p.VideoStreams()) != 1 {
		t.Fatalf("file after SIGINT: %+v", p)
	}
	// A clean stop keeps everything up to the interrupt (less a frame or two in flight).
	start, err := time.Parse(time.RFC3339Nano, p.Format.Tags["start_time"])
	if err != nil {
		t.Fatalf("start_time tag: %v", err)
	}
	recorded := time.Duration(p.Format.Duration * float64(time.Second))
	if lost := interruptedAt.Sub(start) - recorded; lost > 500*time.Millisecond {
		t.Fatalf("SIGINT %.2f s after the recording's start: the file holds %.2f s, %.2f s lost, want ≤ 0.5 s",
			interruptedAt.Sub(start).Seconds(), recorded.Seconds(), lost.Seconds())
	}
}

// waitRecording waits for the recording at path to begin (its file appears when the header
// is written) rather than a fixed time: a loaded machine may take seconds to start a process.
func waitRecording(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recording's file %s did not appear in 30 s", path)
		}
	}
}

func TestRecordSegments(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "seg.mp4")
	sum := d.record(t, "--out", path, "--duration", "5s", "--segment", "2s", "--layout", "tracks", "--monitors", "0,1")
	if len(sum.Segments) != 3 {
		t.Fatalf("segments = %+v, want 3", sum.Segments)
	}
	var total float64
	for i, sg := range sum.Segments {
		p := probe(t, sg.Path)
		if len(p.VideoStreams()) != 2 {
			t.Fatalf("segment %d has %d streams", i+1, len(p.VideoStreams()))
		}
		if p.Format.Tags["segment"] == "" {
			t.Errorf("segment %d lacks its segment tag", i+1)
		}
		times, err := mediatest.FrameTimes(context.Background(), sg.Path, 1)
		if err != nil || len(times) == 0 || times[0] > 0.2 {
			t.Errorf("segment %d of track 1 starts at %v (%v), want at ~0", i+1, times, err)
		}
		// Each segment decodes on its own from its first frame.
		assertColour(t, frameAt(t, sg.Path, 1, 0), 640, 512, monitorColours[1], "segment start")
		total += p.Format.Duration
	}
	if total < 4.5 || total > 5.5 {
		t.Errorf("segments add up to %.2f s, want 5 ±0.5", total)
	}
}

func TestRecordEncoderFallback(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "fallback.mp4")
	sum := d.record(t, "--out", path, "--duration", "1s", "--monitors", "2", "--encoder", "h264_nvenc,h264_vaapi,libx264")
	if sum.Encoder != "libx264" || len(sum.Skipped) != 2 || sum.Skipped[0].Name != "h264_nvenc" || sum.Skipped[0].Reason == "" {
		t.Fatalf("summary encoder=%s skipped=%+v, want libx264 after two skipped with reasons", sum.Encoder, sum.Skipped)
	}
	if got := probe(t, path).Format.Tags["video_encoder"]; got != "libx264" {
		t.Errorf("video_encoder tag = %q, want libx264", got)
	}
	// With a hardware encoder only, nothing opens here, and the error says why.
	_, stderr, err := d.run(t, "record", "--out", out(t, "hw.mp4"), "--duration", "1s", "--encoder", "h264_nvenc")
	if err == nil || !strings.Contains(stderr, "h264_nvenc") || !strings.Contains(stderr, "no usable encoder") {
		t.Errorf("hardware-only order: err=%v stderr=%q", err, stderr)
	}
}

func TestRecordRejectsBadInput(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	dir := t.TempDir()
	target := dir + "/bad.mp4"
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown monitor", []string{"--monitors", "7"}, nil, "unknown monitor 7"},
		{"region outside the screen", []string{"--region", "800x600+4000+0"}, nil, "region outside the screen"},
		{"unknown encoder", []string{"--encoder", "h264_magic"}, nil, `unknown encoder "h264_magic"`},
		{"fps 0", []string{"--fps", "0"}, nil, "fps: 0 is out of range 1-60"},
		{"fps 1000", []string{"--fps", "1000"}, nil, "fps: 1000 is out of range 1-60"},
		{"bad layout", []string{"--layout", "grid"}, nil, `bad layout "grid"`},
		{"unwritable output", []string{"--out", "/proc/recorder-test/out.mp4"}, nil, "cannot write output"},
		{"output is a folder", []string{"--out", dir}, nil, "is a folder"},
		{"no display reachable", []string{"--display", ":1987"}, nil, "display unreachable: :1987"},
		{"no display at all", nil, []string{"DISPLAY="}, "no display"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"record", "--out", target, "--duration", "1s"}, c.args...)
			cmd := exec.Command(recorderBin, args...)
			cmd.Env = append(d.srv.Env(), c.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("err = %v, want a non-zero exit", err)
			}
			msg := stderr.String()
			if !strings.HasPrefix(msg, "recorder: ") || !onlyLine(msg) || !strings.Contains(msg, c.want) {
				t.Errorf("stderr = %q, want one line containing %q", msg, c.want)
			}
			if _, err := os.Stat(target); !os.IsNotExist(err) {
				t.Errorf("%s was left behind", target)
			}
		})
	}
}

func TestMonitorsListsAbsoluteGeometry(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	stdout, stderr, err := d.run(t, "monitors", "--json")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	for _, m := range d.srv.Monitors {
		want := image.Rect(m.X, m.Y, m.X+m.Width, m.Y+m.Height)
		if !strings.Contains(stdout, `"name": "`+m.Name+`"`) || want.Empty() {
			t.Errorf("monitor %s missing from %s", m.Name, stdout)
		}
	}
	if !strings.Contains(stdout, `"x": 3200`) || !strings.Contains(stdout, `"width": 4224`) {
		t.Errorf("monitors --json = %s", stdout)
	}
}

func TestEncodersReportsWhy(t *testing.T) {
	t.Parallel()
	stdout, _, err := (&desk{}).runNoDisplay(t, "encoders", "--json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name": "libx264"`, `"usable": true`, `"name": "h264_nvenc"`, `"hardware": true`, `"reason": "`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("encoders --json lacks %s:\n%s", want, stdout)
		}
	}
}

func (d *desk) runNoDisplay(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(recorderBin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// With the primary monitor not at 0,0 (RandR lists it first, and kbinani reports bounds
// relative to it, some negative), monitors keep absolute root coordinates and a recording of
// one grabs the right place.
func TestPrimaryMonitorNotLeftmost(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	for _, args := range [][]string{{"--delmonitor", "M1"}, {"--setmonitor", "*M1", "1280/338x1024/270+1920+0", "none"}} {
		cmd := exec.Command("xrandr", args...)
		cmd.Env = d.srv.Env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xrandr %v: %v: %s", args, err, out)
		}
	}
	stdout, stderr, err := d.run(t, "monitors", "--json")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var s struct {
		Monitors []struct {
			Index, X, Y, Width, Height int
			Name                       string
			Primary                    bool
		}
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Monitors) != 3 || s.Monitors[1].Name != "M1" || !s.Monitors[1].Primary || s.Monitors[1].X != 1920 || s.Monitors[0].X != 0 {
		t.Fatalf("monitors = %+v, want M0, M1 (primary, at 1920), M2 in root coordinates", s.Monitors)
	}
	path := out(t, "primary.mp4")
	d.record(t, "--out", path, "--duration", "1s", "--monitors", "1")
	assertColour(t, frameAt(t, path, 0, 0.5), 640, 512, monitorColours[1], "primary M1")
}

// FFmpeg's x11grab stays available (and is what auto falls back to where MIT-SHM cannot
// work, as for a remote display): every frame is grabbed and encoded.
func TestRecordWithX11Grab(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	path := out(t, "x11grab.mp4")
	sum := d.record(t, "--out", path, "--duration", "2s", "--fps", "10", "--monitors", "1", "--capture-method", "x11grab")
	vs := probe(t, path).VideoStreams()
	if len(vs) != 1 || vs[0].NbReadFrames < 17 || vs[0].NbReadFrames > 23 || sum.Tracks[0].Unchanged != 0 {
		t.Fatalf("streams %+v, summary %+v: want about 20 frames, none skipped", vs, sum.Tracks)
	}
	m := d.srv.Monitors[1]
	assertColour(t, frameAt(t, path, 0, 1), m.Width/2, m.Height/2, monitorColours[1], m.Name)
	if _, stderr, err := d.run(t, "record", "--out", out(t, "bad.mp4"), "--capture-method", "xcomposite"); err == nil ||
		!strings.Contains(stderr, `capture-method: "xcomposite" is not one of auto, xshm, x11grab`) {
		t.Errorf("bad method: %v, %s", err, stderr)
	}
}

// TestRecordRefusesToOverwrite: an existing output file (or first segment) is a usage error
// naming it, and is left as it was; --overwrite or -y replaces it.
func TestRecordRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		args     []string
		existing string
	}{
		{[]string{"--out", dir + "/old.mp4"}, dir + "/old.mp4"},
		{[]string{"-o", dir + "/seg.mp4", "--segment", "1m"}, dir + "/seg-001.mp4"},
	} {
		if err := os.WriteFile(c.existing, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stderr := exitCode(t, append([]string{"record", "--duration", "1s"}, c.args...)...)
		if code != 2 || !onlyLine(stderr) || !strings.Contains(stderr, c.existing+" exists") || !strings.Contains(stderr, "--overwrite") {
			t.Errorf("record %v over %s: exit %d, stderr %q; want 2 naming the file", c.args, c.existing, code, stderr)
		}
		if b, err := os.ReadFile(c.existing); err != nil || string(b) != "keep me" {
			t.Errorf("%s after the refusal: %q, %v", c.existing, b, err)
		}
	}
	// Refused before anything starts, so without a display; asked to, the recorder replaces it.
	d := newDesk(t)
	for _, flag := range []string{"--overwrite", "-y"} {
		sum := d.record(t, "--out", dir+"/old.mp4", "--duration", "1s", "--monitors", "0", flag)
		if sum.Path != dir+"/old.mp4" || len(probe(t, sum.Path).VideoStreams()) != 1 {
			t.Errorf("record %s: summary %+v, want old.mp4 replaced by a recording", flag, sum)
		}
	}
}
