// Package catalogtest damages catalog files for tests of what notices the damage: the
// engine's open, /readyz, `recorder catalog check` and `rebuild`.
package catalogtest

import (
	"database/sql"
	"os"
	"testing"

	_ "modernc.org/sqlite" // the catalog's driver
)

// pageSize is SQLite's default page size, the catalog's; the first page holds the header.
const pageSize = 4096

// Checkpoint folds the write-ahead log of the catalog at path into the file, as any
// checkpoint does, so that damage to the file is damage to the catalog, and returns the
// file's content.
func Checkpoint(t testing.TB, path string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Damage checkpoints the catalog at path, overwrites every page after the header with
// garbage, and returns what the file holds now.
func Damage(t testing.TB, path string) []byte {
	t.Helper()
	orig := Checkpoint(t, path)
	if len(orig) <= pageSize {
		t.Fatalf("catalog %s is %d bytes: nothing after the header to damage", path, len(orig))
	}
	b := append([]byte(nil), orig...)
	for i := pageSize; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}
