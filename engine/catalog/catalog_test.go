package catalog

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// openTest opens a fresh catalog in a temporary directory and closes it at the end.
func openTest(t *testing.T, opts ...Option) (*Catalog, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

// rawDB opens the file without the catalog, to look at or tamper with it.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pragma(t *testing.T, db queryRower, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func mustCreate(t *testing.T, c *Catalog, id string) Recording {
	t.Helper()
	r, err := c.CreateRecording(context.Background(), NewRecording{ID: id, Owner: "agent-1", State: "starting"})
	if err != nil {
		t.Fatalf("CreateRecording(%q): %v", id, err)
	}
	return r
}

func TestOpenFreshGetsLatestSchemaAndPragmas(t *testing.T) {
	c, path := openTest(t)
	db := c.db
	if got := pragma(t, db, "user_version"); got != "4" || SchemaVersion() != 4 {
		t.Errorf("user_version = %s, SchemaVersion() = %d, want 4", got, SchemaVersion())
	}
	for name, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "2", // FULL
		"busy_timeout": "5000",
	} {
		if got := pragma(t, db, name); got != want {
			t.Errorf("PRAGMA %s = %q, want %q", name, got, want)
		}
	}
	// WAL mode is a property of the file: a plain connection sees it too.
	if got := pragma(t, rawDB(t, path), "journal_mode"); got != "wal" {
		t.Errorf("file journal_mode = %q, want wal", got)
	}
	for _, table := range []string{"recordings", "segments", "upload_jobs", "counters"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: n=%d err=%v", table, n, err)
		}
	}
}

func TestReopenIsNoOp(t *testing.T) {
	ctx := context.Background()
	c, path := openTest(t)
	r := mustCreate(t, c, "a")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer c2.Close()
	from, to, err := migrate(ctx, c2.db, migrations)
	if err != nil || from != to || to != SchemaVersion() {
		t.Errorf("migrate on migrated file: from=%d to=%d err=%v, want no-op at %d", from, to, err, SchemaVersion())
	}
	got, err := c2.GetRecording(ctx, "a")
	if err != nil || got.ContactID != r.ContactID || got.InteractionID != r.InteractionID {
		t.Errorf("after reopen got %+v, %v; want %+v", got, err, r)
	}
}

func TestOpenSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	_, path := openTest(t)
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c, err := Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of newer schema: %v, want ErrSchemaTooNew", err)
	}
	if c != nil {
		t.Error("Open returned a catalog with an error")
	}
}

func TestMigrationsAreAtomicEach(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "m.db"), time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	list := []string{
		`CREATE TABLE a (x INTEGER)`,
		`CREATE TABLE b (x INTEGER); INSERT INTO b VALUES (1)`,
		// Third migration fails half-way: table c must not survive it.
		`CREATE TABLE c (x INTEGER); INSERT INTO nosuchtable VALUES (1)`,
	}
	from, to, err := migrate(ctx, db, list)
	if err == nil || from != 0 || to != 2 {
		t.Fatalf("migrate = %d→%d, %v; want 0→2 and an error", from, to, err)
	}
	if v := pragma(t, db, "user_version"); v != "2" {
		t.Errorf("user_version = %s, want 2", v)
	}
	var n int
	db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b', 'c')`).Scan(&n)
	if n != 2 {
		t.Errorf("%d of tables a, b, c exist; want a and b only", n)
	}
	// Fixing the migration (only possible before release) lets the next open finish.
	list[2] = `CREATE TABLE c (x INTEGER)`
	if from, to, err := migrate(ctx, db, list); err != nil || from != 2 || to != 3 {
		t.Errorf("second migrate = %d→%d, %v; want 2→3", from, to, err)
	}
}

func TestOpenRejectsBadArguments(t *testing.T) {
	ctx := context.Background()
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := Open(ctx, path); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", path, err)
		}
	}
	p := filepath.Join(t.TempDir(), "x.db")
	if _, err := Open(ctx, p, WithContactIDBase(0)); !errors.Is(err, ErrInvalid) {
		t.Errorf("base 0: %v, want ErrInvalid", err)
	}
}

func TestOpenCreatesDirectoryAndOddPaths(t *testing.T) {
	ctx := context.Background()
	// A '?' or '#' or '%' in a directory must not be read as URI syntax.
	path := filepath.Join(t.TempDir(), "we?ird #dir%20", "sub", "catalog.db")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustCreate(t, c, "a")
	c.Close()
	c, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer c.Close()
	if _, err := c.GetRecording(ctx, "a"); err != nil {
		t.Errorf("row lost across reopen of %q: %v", path, err)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := c.GetRecording(ctx, "a"); !errors.Is(err, ErrClosed) {
		t.Errorf("GetRecording after Close = %v, want ErrClosed", err)
	}
	if _, err := c.CreateRecording(ctx, NewRecording{ID: "a"}); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateRecording after Close = %v, want ErrClosed", err)
	}
	if _, err := c.SpoolBytes(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("SpoolBytes after Close = %v, want ErrClosed", err)
	}
}

// A catalog written by schema 1 gains the masked-interval column with its rows intact.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", dsn(path, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := migrate(ctx, db, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO recordings (id, contact_id, interaction_id, created_at) VALUES ('old', 7, 'u', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.GetRecording(ctx, "old")
	if err != nil || r.ContactID != 7 || len(r.MaskedIntervals) != 0 {
		t.Fatalf("old row after migration: %+v, %v", r, err)
	}
}
