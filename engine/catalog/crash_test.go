package catalog

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv names the catalog file the helper process writes to, and helperPrefixEnv the
// prefix of the ids it creates (unique per run, since the file outlives the run); they are
// set only in the re-executed test binary.
const (
	helperEnv       = "CATALOG_CRASH_HELPER_DB"
	helperPrefixEnv = "CATALOG_CRASH_HELPER_PREFIX"
)

// TestHelperProcess is not a test: TestCrashSafety re-executes the test binary to run it.
// It creates recordings in a loop and prints "id contact_id" after each commit, until it is
// killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // never outlive a dead parent for long
	defer cancel()
	c, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%06d", os.Getenv(helperPrefixEnv), i)
		r, err := c.CreateRecording(ctx, NewRecording{ID: id, Owner: "helper", Labels: map[string]string{"i": strconv.Itoa(i)}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			os.Exit(3)
		}
		// An update too, so the kill can also land inside a read-modify-write.
		if _, err := c.UpdateRecording(ctx, id, func(r *Recording) error { r.State = "recording"; return nil }); err != nil {
			fmt.Fprintln(os.Stderr, "update:", err)
			os.Exit(4)
		}
		fmt.Fprintf(out, "%s %d\n", r.ID, r.ContactID)
		out.Flush()
	}
}

// TestCrashSafety SIGKILLs a process in the middle of writing and checks that every row it
// reported committed survives, the file is intact, and contact ids go on increasing.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a subprocess")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")

	// Three rounds: each kill lands on a file that already went through a crash.
	committed := map[string]int64{}
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+path, fmt.Sprintf("%s=round%d", helperPrefixEnv, round))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killed := false
		sc := bufio.NewScanner(stdout)
		// Every line the helper wrote before the kill is a commit, including those still in
		// the pipe when it lands (a loaded machine reads behind): read to the end.
		for n := 0; sc.Scan(); n++ {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue // a line from the testing package, not ours
			}
			cid, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("helper line %q: %v", sc.Text(), err)
			}
			committed[f[0]] = cid
			if n == 59 {
				// SIGKILL: no deferred Close, no checkpoint, nothing flushed on the way out.
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		cmd.Wait() //nolint:errcheck // killed on purpose
		if !killed {
			t.Fatalf("round %d: helper ended before it was killed; stderr:\n%s", round, stderr.String())
		}

		// The killed process never closed the file, so its WAL is still there: reopening
		// below has to recover from it, which is the path this test is about.
		if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
			t.Errorf("round %d: no WAL left by the killed process (%v)", round, err)
		}
		c, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		if got := pragma(t, c.db, "integrity_check"); got != "ok" {
			t.Errorf("round %d: integrity_check = %q", round, got)
		}
		all, err := c.ListRecordings(ctx, RecordingFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var maxID int64
		byID := map[string]Recording{}
		for _, r := range all {
			byID[r.ID] = r
			maxID = max(maxID, r.ContactID)
		}
		for id, cid := range committed {
			r, ok := byID[id]
			if !ok {
				t.Errorf("round %d: committed recording %s lost", round, id)
				continue
			}
			fromHelper := strings.HasPrefix(id, "round")
			if r.ContactID != cid || !uuidV4.MatchString(r.InteractionID) ||
				fromHelper && (r.State != "recording" || r.Labels["i"] == "") {
				t.Errorf("round %d: recording %s damaged: %+v (contact id reported %d)", round, id, r, cid)
			}
		}
		// At most the one create in flight at the kill may exist beyond what was reported.
		if extra := len(all) - len(committed); extra < 0 || extra > 1 {
			t.Errorf("round %d: %d rows, %d reported committed", round, len(all), len(committed))
		}
		next := mustCreate(t, c, fmt.Sprint("after-crash-", round))
		if next.ContactID <= maxID {
			t.Errorf("round %d: next contact id %d not above existing max %d", round, next.ContactID, maxID)
		}
		committed[next.ID] = next.ContactID
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
