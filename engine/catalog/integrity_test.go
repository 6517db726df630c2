package catalog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/catalog/catalogtest"
)

// filled makes a catalog with two recordings, closes it and folds its log into the file.
func filled(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"rec-a", "rec-b"} {
		if _, err := c.CreateRecording(ctx, NewRecording{ID: id, Owner: "agent"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, path).Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenRefusesDamagedFile(t *testing.T) {
	t.Parallel()
	path := filled(t)
	b := catalogtest.Damage(t, path)
	rep, err := Check(context.Background(), path)
	if !errors.Is(err, ErrDamaged) || rep.Problem == "" {
		t.Errorf("Check = %+v, %v; want ErrDamaged with the problem", rep, err)
	}
	c, err := Open(context.Background(), path)
	if err == nil {
		c.Close()
		t.Fatal("Open of a damaged file succeeded")
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open: %v, want ErrDamaged naming %s", err, path)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
		t.Error("Open changed the damaged file")
	}
	// Not a database at all.
	if err := os.WriteFile(path, bytes.Repeat([]byte("garbage!"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), path); !errors.Is(err, ErrDamaged) {
		t.Errorf("Open of a file that is no database: %v, want ErrDamaged", err)
	}
}

func TestOpenEmptyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.db")
	if _, err := Open(context.Background(), path, WithExistingRecordings(true)); !errors.Is(err, ErrEmpty) {
		t.Errorf("Open of a missing file beside recordings: %v, want ErrEmpty", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created the file: %v", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), path, WithExistingRecordings(true)); !errors.Is(err, ErrEmpty) {
		t.Errorf("Open of an empty file beside recordings: %v, want ErrEmpty", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("Open wrote to the empty file: %v %v", fi, err)
	}
	c, err := Open(context.Background(), path) // nothing beside it: a fresh catalog
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// Restore keeps a recording's own ids and raises the counter past them; MoveAside keeps the
// old file with its log under one new name.
func TestRestoreAndMoveAside(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, path := openTest(t)
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	rec := Recording{ID: "rec-x", ContactID: 1_000_041, InteractionID: "3f0e9a52-7d7c-4a39-9b0e-0c3c2d1f5a11", Owner: "agent",
		State: "completed", CreatedAt: start, StartedAt: start, EndedAt: start.Add(3 * time.Second), Duration: 3 * time.Second}
	segs := []Segment{{Index: 1, Path: "/spool/rec-x/rec-x-001.mp4", Bytes: 10, SHA256: strings.Repeat("a", 64), Closed: true,
		Duration: 3 * time.Second}}
	got, err := c.Restore(ctx, rec, segs)
	if err != nil {
		t.Fatal(err)
	}
	if got.ContactID != rec.ContactID || got.InteractionID != rec.InteractionID || !got.EndedAt.Equal(rec.EndedAt) {
		t.Errorf("restored %+v", got)
	}
	if _, err := c.Restore(ctx, rec, nil); !errors.Is(err, ErrConflict) {
		t.Errorf("restoring it again: %v, want ErrConflict", err)
	}
	next, err := c.CreateRecording(ctx, NewRecording{ID: "rec-y"})
	if err != nil || next.ContactID != rec.ContactID+1 {
		t.Errorf("next recording's contact id %d (%v), want %d", next.ContactID, err, rec.ContactID+1)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if id, ok := LastContactID(ctx, path); !ok || id != rec.ContactID+1 {
		t.Errorf("LastContactID = %d, %v", id, ok)
	}
	if err := os.WriteFile(path+"-wal", []byte("log"), 0o600); err != nil {
		t.Fatal(err)
	}
	aside, err := MoveAside(path, start)
	if err != nil || aside != path+".damaged-20250301T090000Z" {
		t.Fatalf("MoveAside = %q, %v", aside, err)
	}
	for _, p := range []string{aside, aside + "-wal"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{path, path + "-wal"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
}
