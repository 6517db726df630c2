package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/internal/mediatest"
)

// Environment of TestHelperFinishUntilKilled, set only in the re-executed test binary.
const (
	finishSpoolEnv   = "RECORDER_TEST_FINISH_SPOOL"
	finishDisplayEnv = "RECORDER_TEST_FINISH_DISPLAY"
	finishStepEnv    = "RECORDER_TEST_FINISH_STEP"
	finishEndEnv     = "RECORDER_TEST_FINISH_END" // "stop", or "xkill": the parent kills the X server
)

// fragments is how many complete fragments the file at path holds now.
func fragments(path string) int {
	res, err := mux.Inspect(path)
	if err != nil {
		return 0
	}
	return res.Fragments
}

// TestHelperFinishUntilKilled is not a test: TestCrashAtEachStepOfTheEndLosesNoUpload runs it
// in a child process, which records until the recording ends (a stop, or its X server killed
// by the parent) and SIGKILLs itself at the named step of the end.
func TestHelperFinishUntilKilled(t *testing.T) {
	spool := os.Getenv(finishSpoolEnv)
	if spool == "" {
		t.Skip("helper process for TestCrashAtEachStepOfTheEndLosesNoUpload")
	}
	step := os.Getenv(finishStepEnv)
	f := func(_ *Engine, at string) error {
		if at == step {
			fmt.Println("at", at)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	failpoint.Store(&f)
	e, err := New(context.Background(), Config{SpoolDir: spool, MinFreeDisk: -1})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s, err := e.Start(context.Background(), StartRequest{Owner: "crash", Frontend: "cli", Source: Source{Display: os.Getenv(finishDisplayEnv)}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // never outlive a dead parent for long
	defer cancel()
	// Two complete fragments on disk: there is media whatever ends the recording.
	for {
		if got, err := e.Get(ctx, s.ID); err == nil && len(got.Segments) > 0 && fragments(got.Segments[0].Path) >= 2 {
			break
		}
		if ctx.Err() != nil {
			fmt.Println("error: no fragments")
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("recording", s.ID)
	if os.Getenv(finishEndEnv) == "stop" {
		_, err = e.Stop(ctx, s.ID)
	} else {
		_, err = e.Wait(ctx, s.ID)
	}
	fmt.Println("ended without reaching", step, err)
	os.Exit(3)
}

// A crash at each step of a recording's end — before anything of it is written, inside the
// catalog transaction, after it committed — loses no upload: reopened on the same spool, the
// engine has the recording finished, with media, and an upload job for each of its files,
// whether it ended by a stop or failed (its X server killed). Before the end and its jobs
// were one transaction, a crash after "completed" was written left a recording never uploaded.
func TestCrashAtEachStepOfTheEndLosesNoUpload(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills child processes that record from Xvfb")
	}
	for _, end := range []string{"stop", "xkill"} {
		for _, step := range []string{stepFinishBegin, stepFinishInTransaction, stepFinishCommitted} {
			t.Run(end+"/"+step, func(t *testing.T) {
				t.Parallel()
				crashAtStep(t, end, step)
			})
		}
	}
}

func crashAtStep(t *testing.T, end, step string) {
	srv := testDisplay(t)
	spool := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperFinishUntilKilled$", "-test.count=1")
	cmd.Env = append(os.Environ(), finishSpoolEnv+"="+spool, finishDisplayEnv+"="+srv.Display,
		finishStepEnv+"="+step, finishEndEnv+"="+end)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // it is normally dead already
	var id string
	reached := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "recording":
			id = f[1]
			if end == "xkill" {
				srv.Close() //nolint:errcheck // the display is meant to die
			}
		case len(f) == 2 && f[0] == "at" && f[1] == step:
			reached = true
		default:
			t.Logf("helper: %s", sc.Text())
		}
	}
	werr := cmd.Wait()
	var ee *exec.ExitError
	if !reached || !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the helper did not die at %s (recording %q): %v; stderr: %s", step, id, werr, stderr.String())
	}

	e := newEngine(t, Config{SpoolDir: spool})
	got, err := e.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !got.State.Terminal() || len(got.Segments) == 0 {
		t.Fatalf("after the crash at %s: %+v", step, got)
	}
	jobs, err := e.Uploads(ctx, UploadFilter{RecordingID: id})
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, sg := range got.Segments {
		if sg.Closed {
			kept++
			if fragments(sg.Path) < 2 {
				t.Errorf("segment %d holds %d fragments, want the 2 recorded at least", sg.Index, fragments(sg.Path))
			}
		}
	}
	if kept == 0 || len(jobs) != kept {
		t.Fatalf("after the crash at %s the recording (%s, %q) has %d files and %d upload jobs: %+v",
			step, got.State, got.Error, kept, len(jobs), jobs)
	}
	up := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){succeed}}
	runUploadsUntil(t, e, up, UploadConfig{Keep: true}, allIn(catalog.UploadUploaded))
	t.Logf("crash at %s after %s: recording %s (%q), %d file(s), reached the uploader: %v",
		step, end, got.State, got.Error, kept, len(up.requests()) == kept)
}

// decodesCleanly decodes every frame of path and fails the test on any decoder message.
func decodesCleanly(t *testing.T, path string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("decoding %s: %v: %s", path, err, stderr.String())
	}
}

// lostAt is how much of what was shown before at is not in the recording s's first file:
// at minus the end of its last decodable frame.
func lostAt(t *testing.T, s Session, at time.Time, fps int) time.Duration {
	t.Helper()
	times, err := mediatest.FrameTimes(context.Background(), s.Segments[0].Path, 0)
	if err != nil || len(times) == 0 {
		t.Fatalf("frames of %s: %v, %v", s.Segments[0].Path, times, err)
	}
	last := s.StartedAt.Add(time.Duration(times[len(times)-1]*float64(time.Second)) + time.Second/time.Duration(fps))
	return at.Sub(last)
}

// A recording whose X server dies fails, keeps what it recorded and reaches the uploader, its
// state and reason in the metadata; the file decodes without an error.
func TestFailedRecordingIsDelivered(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	ctx := context.Background()
	s := start(t, e, StartRequest{Owner: "agent9", Frontend: "srs", Source: Source{Display: srv.Display}})
	eventually(t, 30*time.Second, "two complete fragments", func() bool {
		got, err := e.Get(ctx, s.ID)
		return err == nil && len(got.Segments) > 0 && fragments(got.Segments[0].Path) >= 2
	})
	killed := time.Now()
	srv.Close() //nolint:errcheck // the display is meant to die
	eventually(t, 30*time.Second, "the API to say failed", func() bool {
		got, err := e.Get(ctx, s.ID)
		return err == nil && got.State == StateFailed
	})
	truth := time.Since(killed)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, err := e.Wait(wctx, s.ID)
	if err != nil || got.State != StateFailed || got.Error == "" || len(got.Segments) != 1 || !got.Segments[0].Closed {
		t.Fatalf("after the X server died: %+v, %v", got, err)
	}
	up := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){succeed}}
	runUploadsUntil(t, e, up, UploadConfig{Keep: true}, allIn(catalog.UploadUploaded))
	req := up.requests()[0]
	if req.Metadata["state"] != "failed" || req.Metadata["reason"] != got.Error || req.Metadata["final"] != "true" ||
		req.SHA256 != got.Segments[0].SHA256 || req.Size != got.Segments[0].Bytes || req.Metadata["durationMs"] == "0" {
		t.Errorf("upload request of the failed recording = %+v", req)
	}
	decodesCleanly(t, got.Segments[0].Path)
	lost := lostAt(t, got, killed, e.cfg.FPS)
	t.Logf("X server killed: %.2f s of media lost, the API said failed after %.2f s, reached the uploader: %v (%q)",
		lost.Seconds(), truth.Seconds(), len(up.requests()) == 1, got.Error)
	if lost > 1500*time.Millisecond {
		t.Errorf("%s lost before the X server died, want at most about a fragment", lost)
	}
}

// When the catalog refuses the failure of a recording, the API still tells the truth at once
// (failed, and a stop is refused as the session has ended), and the failure reaches the
// catalog, with its upload jobs, once the catalog takes writes again. Not parallel: it sets
// the failpoint.
func TestAFailureTheCatalogRefusesIsStillTold(t *testing.T) {
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	ctx := context.Background()
	var refuse atomic.Bool
	refuse.Store(true)
	f := func(en *Engine, step string) error {
		if en == e && step == stepFinishInTransaction && refuse.Load() {
			return errors.New("disk I/O error (test)")
		}
		return nil
	}
	failpoint.Store(&f)
	t.Cleanup(func() { failpoint.Store(nil) })
	s := start(t, e, StartRequest{Owner: "agent9", Frontend: "srs", Source: Source{Display: srv.Display}})
	eventually(t, 30*time.Second, "a complete fragment", func() bool {
		got, err := e.Get(ctx, s.ID)
		return err == nil && len(got.Segments) > 0 && fragments(got.Segments[0].Path) >= 1
	})
	killed := time.Now()
	srv.Close() //nolint:errcheck // the display is meant to die
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if got, err := e.Wait(wctx, s.ID); err != nil || got.State != StateFailed {
		t.Fatalf("Wait = %+v, %v", got, err)
	}
	truth := time.Since(killed)
	if rec, err := e.cat.GetRecording(ctx, s.ID); err != nil || rec.State == StateFailed.String() {
		t.Fatalf("the catalog took the failure although it refused it: %+v, %v", rec, err)
	}
	if got, err := e.Get(ctx, s.ID); err != nil || got.State != StateFailed || got.Error == "" {
		t.Errorf("Get while the catalog refuses = %+v, %v", got, err)
	}
	if got, err := e.Stop(ctx, s.ID); !errors.Is(err, ErrTerminal) || got.State != StateFailed {
		t.Errorf("Stop while the catalog refuses = %s, %v; want failed, ErrTerminal", got.State, err)
	}
	refuse.Store(false)
	eventually(t, 10*time.Second, "the failure in the catalog", func() bool {
		rec, err := e.cat.GetRecording(ctx, s.ID)
		return err == nil && rec.State == StateFailed.String() && rec.Error != ""
	})
	jobs, err := e.Uploads(ctx, UploadFilter{RecordingID: s.ID})
	if err != nil || len(jobs) != 1 {
		t.Errorf("upload jobs once the catalog took the failure: %+v, %v", jobs, err)
	}
	if got, err := e.Get(ctx, s.ID); err != nil || got.State != StateFailed {
		t.Errorf("Get from the catalog = %+v, %v", got, err)
	}
	t.Logf("catalog refusing the failure: the API said failed after %.2f s", truth.Seconds())
}
