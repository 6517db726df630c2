package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/capture/capturetest"
	"github.com/screenrec/recorder/engine/export"
	"github.com/screenrec/recorder/internal/mediatest"
)

// recordSegmented records a scripted screen into 1 s segments until the third one opens, in
// a fresh spool, and returns the spool and the finished session.
func recordSegmented(t *testing.T) (string, engine.Session) {
	t.Helper()
	spool := t.TempDir()
	screen := &capturetest.Screen{Monitors: []capture.Monitor{{Name: "ONE", Width: 160, Height: 120, Primary: true}}}
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{SpoolDir: spool, MinFreeDisk: -1, FPS: 10, SegmentDuration: time.Second},
		engine.WithCaptureBackend(screen))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := e.Close(closeCtx); err != nil {
			t.Error(err)
		}
	}()
	s, err := e.Start(ctx, engine.StartRequest{Owner: "agent1", Frontend: "cli", Source: engine.Source{Display: ":1"}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got, _ := e.Get(ctx, s.ID); len(got.Segments) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no third segment", s.ID)
		}
	}
	stopCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	done, err := e.Stop(stopCtx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	return spool, done
}

// `recorder export --recording ID --join` writes one file as long as the recording from its
// segments; --cfr writes a constant frame rate at the capture rate; what is wrong in how it
// is called exits 2 naming it.
func TestExportCommand(t *testing.T) {
	mediatest.SkipIfUnavailable(t)
	t.Parallel()
	spool, s := recordSegmented(t)
	dir := t.TempDir()
	joined := filepath.Join(dir, "joined.mp4")
	code, stdout, stderr := runRecorder(t, "export", "--spool", spool, "--recording", s.ID, "--output", joined, "--join", "--json")
	if code != 0 {
		t.Fatalf("export --join: exit %d, stderr %q", code, stderr)
	}
	var res export.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Inputs != len(s.Segments) || res.Output != joined {
		t.Fatalf("result %q (%v), want %d inputs", stdout, err, len(s.Segments))
	}
	p, err := mediatest.ProbeFile(context.Background(), joined)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(p.Format.Duration * float64(time.Second)); d < s.Duration-5*time.Millisecond || d > s.Duration+5*time.Millisecond {
		t.Errorf("joined file lasts %s, the recording %s", d, s.Duration)
	}

	cfr := filepath.Join(dir, "cfr.mp4")
	if code, _, stderr := runRecorder(t, "export", "--spool", spool, "--recording", s.ID, "-o", cfr, "--join", "--cfr"); code != 0 {
		t.Fatalf("export --join --cfr: exit %d, stderr %q", code, stderr)
	}
	if p, err = mediatest.ProbeFile(context.Background(), cfr); err != nil {
		t.Fatal(err)
	}
	if st := p.VideoStreams()[0]; st.AvgFrameRate != "10/1" || st.RFrameRate != "10/1" || math.Abs(p.Format.Duration-s.Duration.Seconds()) > 0.1 {
		t.Errorf("cfr copy: avg %s, r %s, %.3f s; want 10/1 (the capture rate) and %s", st.AvgFrameRate, st.RFrameRate, p.Format.Duration, s.Duration)
	}
	if code, _, stderr := runRecorder(t, "export", "--input", s.Segments[0].Path, "-o", filepath.Join(dir, "one.mp4"), "--cfr", "--fps", "5"); code != 0 {
		t.Errorf("export --input --cfr --fps 5: exit %d, stderr %q", code, stderr)
	}

	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--spool", spool, "--recording", "rec-nope", "-o", filepath.Join(dir, "x.mp4"), "--join"}, `no recording "rec-nope"`},
		{[]string{"--spool", spool, "--recording", s.ID, "-o", joined, "--join"}, joined + " exists; give --overwrite (-y)"},
		{[]string{"--spool", spool, "--recording", s.ID, "-o", filepath.Join(dir, "x.mp4"), "--cfr"}, "segments: give --join"},
		{[]string{"--spool", spool, "--recording", s.ID, "-o", filepath.Join(dir, "x.mp4")}, "nothing to do"},
		{[]string{"--recording", s.ID, "--input", joined, "-o", filepath.Join(dir, "x.mp4"), "--join"}, "--recording and --input"},
		{[]string{"--join", "-o", filepath.Join(dir, "x.mp4")}, "give --recording ID or --input FILE"},
		{[]string{"--input", joined, "-o", filepath.Join(dir, "x.mp4"), "--join", "--fps", "5"}, "frame rate without"},
	} {
		code, _, stderr := runRecorder(t, append([]string{"export"}, c.args...)...)
		if code != 2 || !onlyLine(stderr) || !strings.Contains(stderr, c.says) {
			t.Errorf("export %v: exit %d, stderr %q; want 2 and one line saying %q", c.args, code, stderr, c.says)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.mp4")); !os.IsNotExist(err) {
		t.Errorf("a refused export wrote its output")
	}
	if code, _, stderr := runRecorder(t, "export", "--spool", spool, "--recording", s.ID, "-o", joined, "--join", "-y"); code != 0 {
		t.Errorf("export -y over an existing file: exit %d, stderr %q", code, stderr)
	}
}
