package encoderbench

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/testbin"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

// binDir holds the recorder binary the suite measures and recorder-bench (its encode-only
// child), built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	testbin.Main(m, func(dir string) { binDir = dir },
		testbin.Binary{Name: "recorder", Package: "../../cmd/recorder", SkipShort: true},
		testbin.Binary{Name: "recorder-bench", Package: "../cmd/recorder-bench", SkipShort: true})
}

// TestRunTiny runs the real suite on the smallest matrix: one scene at 720p, one 2 s round of
// each tool, and encode-only on a 1 s clip, against a real Xvfb, ffmpeg and recorder. It checks
// the shape of what is written, never a timing.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Xvfb, ffmpeg and the recorder for about 20 s")
	}
	mediatest.SkipIfUnavailable(t)
	xvfb.SkipIfUnavailable(t)
	c := DefaultConfig()
	c.Out = t.TempDir()
	c.Recorder = filepath.Join(binDir, "recorder")
	c.EncodeChild = filepath.Join(binDir, "recorder-bench")
	c.Scenes = []string{xscene.SceneTyping}
	c.Resolutions = []string{"720p"}
	c.Encoders = []string{"libx264"}
	c.Duration = 2 * time.Second
	c.Rounds = 1
	c.ClipDuration = time.Second
	c.EncodeFrames = 20
	var log strings.Builder
	c.Log = &log
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	plan, err := NewPlan(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if live, enc := plan.Cells(); live != 1 || enc != 1 {
		t.Fatalf("plan: %d live and %d encode-only cells, want 1 and 1", live, enc)
	}
	if _, err := Run(ctx, c, plan); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}

	b, err := os.ReadFile(filepath.Join(c.Out, FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Live) != 1 || len(rep.EncodeOnly) != 1 || len(rep.Failed) != 0 {
		t.Fatalf("live %d, encode-only %d, failed %v", len(rep.Live), len(rep.EncodeOnly), rep.Failed)
	}
	if rep.Machine.Cores < 1 || rep.Machine.FFmpeg == "" {
		t.Errorf("machine facts: %+v", rep.Machine)
	}
	lc := rep.Live[0]
	tools := map[string]bool{}
	for _, r := range lc.Runs {
		tools[r.Tool] = true
		if r.CPU <= 0 || r.MaxRSS <= 0 || r.Frames <= 0 || r.Bytes <= 0 || r.Kbps <= 0 {
			t.Errorf("live run %+v: want positive CPU, RSS, frames, bytes, bitrate", r)
		}
	}
	if !tools[ToolRecorder] || !tools[ToolFFmpeg] || len(lc.Runs) != 2 {
		t.Errorf("live runs by %v, want one each of recorder and ffmpeg", tools)
	}
	if lc.Ratios.CPU == nil || lc.Ratios.RSS == nil || lc.Quality == nil {
		t.Errorf("live cell: ratios %+v, quality %+v", lc.Ratios, lc.Quality)
	}
	ec := rep.EncodeOnly[0]
	if ec.ClipFrames != 15 {
		t.Errorf("clip frames %d, want 15 (1 s at 15 fps)", ec.ClipFrames)
	}
	for _, r := range ec.Runs {
		if r.CPU <= 0 || r.Frames != 20 || r.FPS <= 0 || r.CPUMsPerFrame <= 0 {
			t.Errorf("encode-only run %+v: want positive CPU and fps, 20 frames", r.Usage)
		}
		if r.Quality == nil || r.Quality.SSIM <= 0 || r.Quality.SSIM > 1 || r.Quality.PSNR <= 0 {
			t.Errorf("%s quality %+v: want SSIM in (0,1], PSNR > 0", r.Tool, r.Quality)
		} else if r.Quality.Frames != 15 {
			t.Errorf("%s quality compared %d frames, want the clip's 15", r.Tool, r.Quality.Frames)
		}
	}
	if ec.Ratios.FPS == nil || ec.Ratios.SSIMDelta == nil {
		t.Errorf("encode-only ratios %+v", ec.Ratios)
	}
	if len(rep.Goals) == 0 {
		t.Error("no goals")
	}

	md, err := os.ReadFile(filepath.Join(c.Out, FileMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Goals", "## Live runs", "## Encode-only", "typing | 720p", "**ratio**"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("bench.md lacks %q", want)
		}
	}
	for _, name := range []string{FileChart, FileEncodeChart} {
		checkSVG(t, filepath.Join(c.Out, name))
	}
}

// checkSVG checks that path is well-formed XML whose root is an svg element.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", path, root)
	}
}
