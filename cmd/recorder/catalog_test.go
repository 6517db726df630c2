package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/capture/capturetest"
	"github.com/screenrec/recorder/engine/catalog"

	"github.com/screenrec/recorder/engine/catalog/catalogtest"
)

// recordScripted makes real recordings (real encoder and muxer, on a scripted screen) in a
// fresh spool and returns the spool and their sessions.
func recordScripted(t *testing.T, owners ...string) (string, []engine.Session) {
	t.Helper()
	spool := t.TempDir()
	screen := &capturetest.Screen{Monitors: []capture.Monitor{{Name: "ONE", Width: 160, Height: 120, Primary: true}}}
	ctx := context.Background()
	// The scripted screen is still: a frame a second (not one per default gap, 10 s) gives
	// each recording the few frames waited for below.
	e, err := engine.New(ctx, engine.Config{SpoolDir: spool, MinFreeDisk: -1, FPS: 30, MaxFrameGap: time.Second},
		engine.WithCaptureBackend(screen))
	if err != nil {
		t.Fatal(err)
	}
	// Started in order (contact ids follow it), recorded side by side.
	var out []engine.Session
	for _, o := range owners {
		s, err := e.Start(ctx, engine.StartRequest{Owner: o, Frontend: "cli", Source: engine.Source{Display: ":1"}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	for i, s := range out {
		for deadline := time.Now().Add(10 * time.Second); ; {
			got, _ := e.Get(ctx, s.ID)
			if len(got.Tracks) > 0 && got.Tracks[0].Frames >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s records no frames", s.ID)
			}
			time.Sleep(20 * time.Millisecond)
		}
		stopCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		out[i], err = e.Stop(stopCtx, s.ID)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	closeCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := e.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	return spool, out
}

// runRecorder runs the binary and returns its exit status, stdout and stderr.
func runRecorder(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(recorderBin, args...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// `recorder catalog check` exits 1 on a damaged catalog and 0 on a sound one;
// `recorder catalog rebuild` restores the recordings with their ids from the files and keeps
// the damaged file.
func TestCatalogCheckAndRebuild(t *testing.T) {
	t.Parallel()
	spool, sessions := recordScripted(t, "agent1", "agent2")
	path := filepath.Join(spool, "catalog.db")
	cfg := writeConfig(t, "spool_dir: "+spool+"\n")

	code, out, stderr := runRecorder(t, "catalog", "check", "--config", cfg)
	if code != 0 || !strings.Contains(out, "ok") || !strings.Contains(out, "2 recordings") {
		t.Fatalf("check of a sound catalog: exit %d, out %q, stderr %q", code, out, stderr)
	}
	if code, _, stderr := runRecorder(t, "catalog", "rebuild", "--spool", spool); code != 1 || !strings.Contains(stderr, "sound") {
		t.Errorf("rebuild of a sound catalog without --force: exit %d, stderr %q; want 1 and a refusal", code, stderr)
	}

	b := catalogtest.Damage(t, path)

	code, out, stderr = runRecorder(t, "catalog", "check", "--spool", spool)
	if code != 1 || !strings.Contains(out, "DAMAGED") || !strings.Contains(stderr, path) ||
		!strings.Contains(stderr, "recorder catalog rebuild --spool "+spool) {
		t.Fatalf("check of a damaged catalog: exit %d, out %q, stderr %q; want 1 naming the file and the fix", code, out, stderr)
	}

	code, out, stderr = runRecorder(t, "catalog", "rebuild", "--config", cfg, "--json")
	if code != 0 {
		t.Fatalf("rebuild: exit %d, stderr %q", code, stderr)
	}
	var rep engine.RebuildReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("rebuild --json: %v in %q", err, out)
	}
	if len(rep.Recordings) != len(sessions) || rep.Uploads != len(sessions) {
		t.Errorf("rebuilt %+v, want %d recordings and as many uploads", rep, len(sessions))
	}
	if kept, err := os.ReadFile(rep.MovedAside); err != nil || string(kept) != string(b) {
		t.Errorf("damaged file not kept as %q: %v", rep.MovedAside, err)
	}

	code, out, stderr = runRecorder(t, "catalog", "check", "--spool", spool, "--json")
	var check catalog.Report
	if code != 0 || json.Unmarshal([]byte(out), &check) != nil || check.Recordings != len(sessions) ||
		check.LastContactID != sessions[len(sessions)-1].ContactID {
		t.Fatalf("check after the rebuild: exit %d, %+v, stderr %q", code, check, stderr)
	}
	cat, err := catalog.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	for _, s := range sessions {
		r, err := cat.GetRecording(context.Background(), s.ID)
		if err != nil || r.ContactID != s.ContactID || r.Owner != s.Owner || r.InteractionID != s.InteractionID {
			t.Errorf("rebuilt %s: %+v, %v; want contact %d, owner %s, interaction %s", s.ID, r, err, s.ContactID, s.Owner, s.InteractionID)
		}
	}
}

// An empty catalog beside recordings: check exits 1, and the file stays empty.
func TestCatalogCheckEmptyBesideRecordings(t *testing.T) {
	t.Parallel()
	spool, _ := recordScripted(t, "agent1")
	path := filepath.Join(spool, "catalog.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runRecorder(t, "catalog", "check", "--spool", spool)
	if code != 1 || !strings.Contains(out, "empty") || !strings.Contains(stderr, "recorder catalog rebuild") {
		t.Errorf("check: exit %d, out %q, stderr %q; want 1", code, out, stderr)
	}
	// `recorder uploads` does not make a fresh catalog there either (the engine would then
	// take it for a sound one).
	cfg := writeConfig(t, "spool_dir: "+spool+"\n")
	if code, _, stderr := runRecorder(t, "uploads", "--config", cfg); code != 1 || !strings.Contains(stderr, path) {
		t.Errorf("uploads over the empty catalog: exit %d, stderr %q; want 1 naming the file", code, stderr)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("the empty catalog changed: %v %v", fi, err)
	}
	if code, _, stderr := runRecorder(t, "catalog", "check", "--spool", t.TempDir()); code != 0 {
		t.Errorf("check of a fresh spool: exit %d, stderr %q; want 0", code, stderr)
	}
}
