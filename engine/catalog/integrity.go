package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Report is what Check found in a catalog file.
type Report struct {
	// Path is the file checked.
	Path string `json:"path"`
	// Exists is false when there is no file.
	Exists bool `json:"exists"`
	// Empty reports a file that holds no catalog: missing, 0 bytes, or a database without
	// tables.
	Empty bool `json:"empty"`
	// Problem is what the integrity check found wrong; empty when the file is sound.
	Problem string `json:"problem,omitempty"`
	// SchemaVersion is the file's schema version (PRAGMA user_version).
	SchemaVersion int `json:"schema_version"`
	// Recordings, Segments and Uploads count the rows of a sound file.
	Recordings int `json:"recordings"`
	Segments   int `json:"segments"`
	Uploads    int `json:"uploads"`
	// LastContactID is the last contact id handed out (0 when none).
	LastContactID int64 `json:"last_contact_id"`
}

// Check inspects the catalog file at path without changing it or creating it: it runs
// SQLite's quick_check (every page read and its structure checked, indexes against tables
// aside) through a read-only connection, then counts the rows. A damaged file, or one that is
// not a SQLite database, gives the report and an error wrapping ErrDamaged; other errors
// (permissions, I/O) are returned as they are. A missing file is reported Empty, not an
// error. The file may be in use by a running engine.
func Check(ctx context.Context, path string) (Report, error) {
	rep := Report{Path: path}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		rep.Empty = true
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	rep.Exists = true
	if fi.Size() == 0 && !exists(path+"-wal") {
		rep.Empty = true
		return rep, nil
	}
	db, err := sql.Open("sqlite", readOnlyDSN(path))
	if err != nil {
		return rep, err
	}
	defer db.Close()
	damaged := func(problem string) (Report, error) {
		rep.Problem = problem
		return rep, fmt.Errorf("%s: %w", problem, ErrDamaged)
	}
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		if isCorruption(err) {
			return damaged(err.Error())
		}
		return rep, err
	}
	if res != "ok" {
		return damaged(res)
	}
	var tables int
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&tables)
	if err == nil && tables == 0 {
		rep.Empty = true
		return rep, nil
	}
	if err == nil {
		rep.SchemaVersion, err = userVersion(ctx, db)
	}
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT
	(SELECT count(*) FROM recordings), (SELECT count(*) FROM segments), (SELECT count(*) FROM upload_jobs),
	coalesce((SELECT value FROM counters WHERE name = ?), 0)`, contactCounter).
			Scan(&rep.Recordings, &rep.Segments, &rep.Uploads, &rep.LastContactID)
	}
	if err != nil {
		// A database with tables but not the catalog's, or rows quick_check passed but a
		// read cannot decode: not a catalog this build can use.
		if isCorruption(err) || strings.Contains(err.Error(), "no such table") {
			return damaged(err.Error())
		}
		return rep, err
	}
	return rep, nil
}

// LastContactID reads the last contact id handed out from the catalog file at path, as far
// as it can still be read (a damaged file often still answers for the counter row or the
// recordings). Rebuild uses it so that ids stay above any the old file handed out, also those
// of recordings with no file left. ok is false when nothing could be read.
func LastContactID(ctx context.Context, path string) (id int64, ok bool) {
	db, err := sql.Open("sqlite", readOnlyDSN(path))
	if err != nil {
		return 0, false
	}
	defer db.Close()
	var v sql.NullInt64
	if db.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = ?", contactCounter).Scan(&v) == nil && v.Valid {
		id, ok = v.Int64, true
	}
	if db.QueryRowContext(ctx, "SELECT max(contact_id) FROM recordings").Scan(&v) == nil && v.Valid && v.Int64 > id {
		id, ok = v.Int64, true
	}
	return id, ok
}

// MoveAside renames the catalog file at path, with its -wal and -shm files, to
// path.damaged-<UTC time> (and that name's -wal and -shm, so SQLite still reads them
// together) and returns the new name. Nothing is deleted. A missing file is not an error and
// returns "".
func MoveAside(path string, now time.Time) (string, error) {
	if !exists(path) {
		return "", nil
	}
	aside := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	for i := 2; exists(aside); i++ {
		aside = fmt.Sprintf("%s.damaged-%s-%d", path, now.UTC().Format("20060102T150405Z"), i)
	}
	// The journal files first: a catalog.db-wal left beside a new catalog.db would be read
	// as that file's log.
	for _, suffix := range []string{"-wal", "-shm", ""} {
		if err := os.Rename(path+suffix, aside+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("catalog: move aside: %w", err)
		}
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("catalog: move aside: %w", err)
	}
	return aside, nil
}

// readOnlyDSN opens path read-only, never creating it.
func readOnlyDSN(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(1000)")
	return (&url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}).String()
}

// isCorruption reports SQLite's "database disk image is malformed" and "file is not a
// database".
func isCorruption(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
