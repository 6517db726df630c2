package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/screenrec/recorder/internal/testbin"
	"image"
	"image/color"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/pipeline"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

// recorderBin is the recorder binary under test, built once by TestMain.
var recorderBin string

func TestMain(m *testing.M) {
	testbin.Main(m, func(dir string) { recorderBin = filepath.Join(dir, "recorder") },
		testbin.Recorder("../..")...)
}

// monitorColours are painted on xvfb.ThreeMonitors, one per monitor.
var monitorColours = []color.RGBA{{200, 40, 40, 255}, {40, 180, 60, 255}, {50, 80, 220, 255}}

// colourTolerance allows for yuv420p round trips and x264 at CRF 23 on flat colours.
const colourTolerance = 14

// desk is a private three-monitor display with a known colour on each monitor.
type desk struct {
	srv     *xvfb.Server
	painter *xscene.Painter
}

func newDesk(t *testing.T) *desk {
	t.Helper()
	mediatest.SkipIfUnavailable(t)
	srv := xvfb.StartForTest(t, xvfb.ThreeMonitors)
	p, err := xscene.Connect(srv.Display)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	d := &desk{srv: srv, painter: p}
	// Root pixels outside every monitor exist in X but are on no screen; paint them loudly so
	// only the recorder's blanking can make them black.
	w, h := p.Size()
	d.fill(t, image.Rect(0, 0, w, h), color.RGBA{255, 0, 255, 255})
	for i, m := range srv.Monitors {
		d.fill(t, m.Bounds(), monitorColours[i])
	}
	return d
}

func (d *desk) fill(t *testing.T, r image.Rectangle, c color.RGBA) {
	t.Helper()
	if err := d.painter.Fill(r, c); err != nil {
		t.Fatal(err)
	}
}

// run runs the recorder binary on the desk and returns its stdout, stderr and error.
func (d *desk) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, recorderBin, args...)
	cmd.Env = d.srv.Env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// record runs `recorder record --json` with args and returns the decoded summary.
func (d *desk) record(t *testing.T, args ...string) *pipeline.Summary {
	t.Helper()
	stdout, stderr, err := d.run(t, append([]string{"record", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("recorder record %v: %v\nstderr: %s", args, err, stderr)
	}
	var s pipeline.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout)
	}
	return &s
}

func probe(t *testing.T, path string) *mediatest.Probe {
	t.Helper()
	p, err := mediatest.ProbeFile(context.Background(), path)
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return p
}

func frameAt(t *testing.T, path string, stream int, sec float64) *image.RGBA {
	t.Helper()
	img, err := mediatest.FrameAt(context.Background(), path, stream, sec)
	if err != nil {
		t.Fatalf("frame %d@%.2fs of %s: %v", stream, sec, path, err)
	}
	return img
}

func assertColour(t *testing.T, img *image.RGBA, x, y int, want color.RGBA, what string) {
	t.Helper()
	got := img.RGBAAt(x, y)
	if !mediatest.Near(got, want, colourTolerance) {
		t.Errorf("%s: pixel (%d,%d) = %v, want %v ±%d", what, x, y, got, want, colourTolerance)
	}
}

func centre(r image.Rectangle) image.Point {
	return image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)
}

// assertFrameTimes checks that a track accounted for every frame time of a recording of
// seconds at fps: encoded, skipped as unchanged or missed. The desk does not change, so the
// change-tracking capture encodes only a few frames and skips the rest; the file has as many
// frames as the summary says.
func assertFrameTimes(t *testing.T, tr pipeline.TrackInfo, inFile int, fps int, seconds float64) {
	t.Helper()
	want := float64(fps) * seconds
	if got := float64(tr.Frames + tr.Unchanged + tr.Dropped); got < want*0.85 || got > want*1.15 {
		t.Errorf("%s: %d frame times (%+v), want %.0f ±15%%", tr.Name, int64(got), tr, want)
	}
	if int64(inFile) != tr.Frames {
		t.Errorf("%s: the file has %d frames, the summary %d", tr.Name, inFile, tr.Frames)
	}
	if tr.Unchanged == 0 || float64(tr.Frames) > want/2 {
		t.Errorf("%s: %d frames encoded and %d skipped of a still screen, want most skipped", tr.Name, tr.Frames, tr.Unchanged)
	}
}

var black = color.RGBA{0, 0, 0, 255}

func out(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }

func onlyLine(s string) bool { return strings.Count(strings.TrimSpace(s), "\n") == 0 }
