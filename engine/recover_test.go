package engine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/catalog"
)

// TestHelperRecordUntilKilled is not a test: TestCrashRecovery runs it in a child process,
// which starts a recording, prints its id and contact id, and records until it is killed.
func TestHelperRecordUntilKilled(t *testing.T) {
	spool, display := os.Getenv("RECORDER_TEST_SPOOL"), os.Getenv("RECORDER_TEST_DISPLAY")
	if spool == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	e, err := New(context.Background(), Config{SpoolDir: spool, MinFreeDisk: -1})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s, err := e.Start(context.Background(), StartRequest{Owner: "crash", Frontend: "cli", Source: Source{Display: display}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("started", s.ID, s.ContactID)
	time.Sleep(time.Minute)
	os.Exit(3)
}

func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	spool := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRecordUntilKilled$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RECORDER_TEST_SPOOL="+spool, "RECORDER_TEST_DISPLAY="+srv.Display)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var id string
	var contact int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "started" {
			id = f[1]
			contact, _ = strconv.ParseInt(f[2], 10, 64)
			break
		}
		t.Logf("helper: %s", sc.Text())
	}
	if id == "" {
		t.Fatal("the helper process did not start a recording")
	}
	time.Sleep(3 * time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	e := newEngine(t, Config{SpoolDir: spool})
	got, err := e.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateCompleted || !got.Interrupted || len(got.Segments) != 1 || !got.Segments[0].Closed || len(got.Segments[0].SHA256) != 64 {
		t.Fatalf("recovered session = %+v", got)
	}
	p := probe(t, got.Segments[0].Path)
	if p.Format.Duration < 1.5 || len(p.VideoStreams()) != 1 {
		t.Errorf("recovered file holds %.2f s, want ≥ 1.5 s of the ~3 s recorded", p.Format.Duration)
	}
	if !near(got.Duration, time.Duration(p.Format.Duration*float64(time.Second)), 600*time.Millisecond) {
		t.Errorf("recorded duration %s, file %.2f s", got.Duration, p.Format.Duration)
	}
	jobs, err := e.cat.UploadJobs(context.Background(), catalog.UploadFilter{RecordingID: id})
	if err != nil || len(jobs) != 1 || jobs[0].State != catalog.UploadQueued {
		t.Errorf("upload jobs after recovery = %+v, %v", jobs, err)
	}
	next := start(t, e, StartRequest{Owner: "crash", Frontend: "cli", Source: Source{Display: srv.Display}})
	if next.ContactID <= contact {
		t.Errorf("contact id after the crash %d, before %d: must grow", next.ContactID, contact)
	}
	stop(t, e, next.ID)
}
