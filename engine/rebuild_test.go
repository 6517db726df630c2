package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/catalog"

	"github.com/screenrec/recorder/engine/catalog/catalogtest"
)

// The catalog guard: New refuses a damaged catalog, and an empty or missing one beside
// recordings, leaving the file as it is; RebuildCatalog restores it from the files' tags.

// damage damages the spool's catalog (catalogtest.Damage) and returns what the file holds.
func damage(t *testing.T, spool string) []byte {
	t.Helper()
	return catalogtest.Damage(t, filepath.Join(spool, catalogFile))
}

func closeEngine(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// wantRefused checks that New fails with want, naming the file and the rebuild command, and
// leaves the file's bytes as they were.
func wantRefused(t *testing.T, spool string, want error, before []byte) {
	t.Helper()
	path := filepath.Join(spool, catalogFile)
	e, err := New(context.Background(), Config{SpoolDir: spool, MinFreeDisk: -1})
	if err == nil {
		closeEngine(t, e)
		t.Fatalf("New over the catalog succeeded, want %v", want)
	}
	if !errors.Is(err, want) || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), "recorder catalog rebuild --spool "+spool) {
		t.Fatalf("New: %v\nwant %v naming %s and the rebuild command", err, want, path)
	}
	after, rerr := os.ReadFile(path)
	if before == nil && errors.Is(rerr, os.ErrNotExist) {
		return
	}
	if rerr != nil || !bytes.Equal(after, before) {
		t.Fatalf("the catalog file changed (%d bytes, was %d): %v", len(after), len(before), rerr)
	}
	// SQLite's read-only check may create an empty -wal (the header says WAL mode); nothing
	// may be written into it.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("New wrote %d bytes of log beside the refused catalog", fi.Size())
	}
	rep, err := CheckSpoolCatalog(context.Background(), spool)
	if !errors.Is(err, want) {
		t.Errorf("CheckSpoolCatalog = %+v, %v; want %v", rep, err, want)
	}
}

func TestNewRefusesDamagedCatalog(t *testing.T) {
	t.Parallel()
	spool := t.TempDir()
	closeEngine(t, newEngineNoCleanup(t, spool))
	before := damage(t, spool)
	wantRefused(t, spool, ErrCatalogDamaged, before)
}

func TestNewRefusesEmptyCatalogBesideRecordings(t *testing.T) {
	t.Parallel()
	spool := t.TempDir()
	// A recording's folder and file, and a catalog truncated to nothing.
	dir := filepath.Join(spool, "rec-0123456789abcdef01234567")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rec-0123456789abcdef01234567.mp4"), []byte("media"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, spool, ErrCatalogEmpty, nil) // missing
	if err := os.WriteFile(filepath.Join(spool, catalogFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, spool, ErrCatalogEmpty, []byte{}) // 0 bytes
}

func TestNewFreshSpoolGetsACatalog(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"missing", "empty"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spool := t.TempDir()
			if name == "empty" {
				if err := os.WriteFile(filepath.Join(spool, catalogFile), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			e := newEngine(t, Config{SpoolDir: spool})
			if err := e.CheckCatalog(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// newEngineNoCleanup opens an engine on spool that the test closes itself.
func newEngineNoCleanup(t *testing.T, spool string, opts ...Option) *Engine {
	t.Helper()
	e, err := New(context.Background(), Config{SpoolDir: spool, MinFreeDisk: -1, SegmentDuration: time.Second}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// rebuiltView is what a rebuild must restore of a recording.
type rebuiltView struct {
	ID, Owner, Frontend, Interaction, State string
	Contact                                 int64
	Labels                                  string
	Segments                                []SegmentInfo
}

func viewOf(s Session) rebuiltView {
	var labels []string
	for k, v := range s.Labels {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	return rebuiltView{ID: s.ID, Owner: s.Owner, Frontend: s.Frontend, Interaction: s.InteractionID, State: s.State.String(),
		Contact: s.ContactID, Labels: strings.Join(labels, ","), Segments: s.Segments}
}

// Real recordings (scripted screen, real encoder and muxer), the catalog damaged, then
// rebuilt: the same recordings with the same ids, owners, segments; the damaged file kept;
// uploads queued; a new recording's contact id above every old one.
func TestRebuildCatalogFromRecordings(t *testing.T) {
	t.Parallel()
	spool := t.TempDir()
	e := newEngineNoCleanup(t, spool, WithCaptureBackend(twoMonitors()))
	var want []rebuiltView
	for i, owner := range []string{"agent1", "agent2", "agent3"} {
		s, err := e.Start(context.Background(), StartRequest{Owner: owner, Frontend: "cli",
			Labels: map[string]string{"desk": owner}, Source: Source{Display: ":1"}})
		if err != nil {
			t.Fatal(err)
		}
		// The first one spans two segments (segment_duration 1 s).
		eventually(t, 10*time.Second, "frames", func() bool {
			got, _ := e.Get(context.Background(), s.ID)
			return len(got.Segments) >= 1+btoi(i == 0) && len(got.Tracks) > 0 && got.Tracks[0].Frames >= 3
		})
		want = append(want, viewOf(stop(t, e, s.ID)))
	}
	closeEngine(t, e)
	if len(want[0].Segments) < 2 {
		t.Fatalf("first recording has %d segments, want 2 or more", len(want[0].Segments))
	}
	// The second recording's last file cut short, as by a crash or a full disk: its closing
	// index (mfra) torn, its fragments whole.
	last := len(want[1].Segments) - 1
	cutSeg := want[1].Segments[last]
	if err := os.Truncate(cutSeg.Path, cutSeg.Bytes-20); err != nil {
		t.Fatal(err)
	}
	damaged := damage(t, spool)
	wantRefused(t, spool, ErrCatalogDamaged, damaged)

	rep, err := RebuildCatalog(context.Background(), Config{SpoolDir: spool}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebuild: %+v", rep)
	if moved, err := os.ReadFile(rep.MovedAside); err != nil || !bytes.Equal(moved, damaged) ||
		!strings.HasPrefix(filepath.Base(rep.MovedAside), catalogFile+".damaged-") {
		t.Errorf("damaged file moved aside to %q: %v (same bytes %v)", rep.MovedAside, err, bytes.Equal(moved, damaged))
	}
	if len(rep.Skipped) != 0 {
		t.Errorf("skipped: %v", rep.Skipped)
	}

	e2 := newEngine(t, Config{SpoolDir: spool}, WithCaptureBackend(twoMonitors()))
	list, err := e2.List(context.Background(), ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []rebuiltView
	for _, s := range list {
		got = append(got, viewOf(s))
	}
	byContact := func(a, b rebuiltView) int { return int(a.Contact - b.Contact) }
	slices.SortFunc(got, byContact)
	slices.SortFunc(want, byContact)
	if len(got) != len(want) {
		t.Fatalf("rebuilt catalog lists %d recordings, want %d:\n%+v", len(got), len(want), got)
	}
	// The cut one: kept up to its last complete fragment, completed and interrupted, as crash
	// recovery leaves a recording.
	cut := got[1]
	if len(cut.Segments) != last+1 {
		t.Fatalf("cut recording rebuilt with segments %+v, want %d", cut.Segments, last+1)
	}
	gotSeg := cut.Segments[last]
	if fi, err := os.Stat(cutSeg.Path); err != nil || !gotSeg.Closed || gotSeg.Bytes != fi.Size() || gotSeg.Bytes >= cutSeg.Bytes-20 {
		t.Errorf("cut segment rebuilt as %+v (file %v, %v), want it cut back to its last fragment", gotSeg, fi.Size(), err)
	}
	if s, _ := e2.Get(context.Background(), cut.ID); !s.Interrupted || s.State != StateCompleted {
		t.Errorf("cut recording: state %s, interrupted %v; want completed and interrupted", s.State, s.Interrupted)
	}
	want[1].Segments[last], got[1].Segments[last] = SegmentInfo{}, SegmentInfo{}
	for i := range want {
		if !equalView(got[i], want[i]) {
			t.Errorf("recording %d rebuilt as\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
	for _, w := range want {
		s, err := e2.Get(context.Background(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.StartedAt.IsZero() || s.EndedAt.Before(s.StartedAt) || s.Duration <= 0 {
			t.Errorf("%s: times %v to %v, duration %v", s.ID, s.StartedAt, s.EndedAt, s.Duration)
		}
		jobs, err := e2.cat.UploadJobs(context.Background(), catalog.UploadFilter{RecordingID: w.ID})
		if err != nil || len(jobs) != len(w.Segments) {
			t.Errorf("%s: %d upload jobs (%v), want one per segment (%d)", w.ID, len(jobs), err, len(w.Segments))
		}
	}

	s, err := e2.Start(context.Background(), StartRequest{Owner: "agent4", Frontend: "cli", Source: Source{Display: ":1"}})
	if err != nil {
		t.Fatal(err)
	}
	stop(t, e2, s.ID)
	if last := want[len(want)-1].Contact; s.ContactID <= last {
		t.Errorf("new recording's contact id %d, want above %d", s.ContactID, last)
	}
}

func equalView(a, b rebuiltView) bool {
	return a.ID == b.ID && a.Owner == b.Owner && a.Frontend == b.Frontend && a.Interaction == b.Interaction &&
		a.State == b.State && a.Contact == b.Contact && a.Labels == b.Labels && slices.Equal(a.Segments, b.Segments)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
