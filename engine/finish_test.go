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
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/mux"
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
