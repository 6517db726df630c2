package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/screenrec/recorder/engine/capture"
)

// Health checks: what a readiness probe (the admin API's /readyz) asks before it says the
// service can record.

// catalogFile is the catalog's file name in the spool folder (New opens it there).
const catalogFile = "catalog.db"

// CheckCatalog reports whether the catalog is healthy: ErrClosed from the first Close on;
// otherwise the error of a read through the engine's own connection, or of an integrity check
// (SQLite's quick_check) of the file on disk through a fresh read-only connection. The second
// is what finds a file damaged, replaced or removed under the engine: the engine's connection
// keeps pages in its cache and the file open, and may answer reads long after that.
// The error names the catalog's path; nil means healthy.
func (e *Engine) CheckCatalog(ctx context.Context) error {
	if err := e.Ping(ctx); err != nil {
		return err
	}
	path := filepath.Join(e.cfg.SpoolDir, catalogFile)
	if err := quickCheck(ctx, path); err != nil {
		return fmt.Errorf("engine: catalog %s: %w", path, err)
	}
	return nil
}

// quickCheck opens the SQLite file at path read-only (never creating it) and runs
// quick_check: every page is read and its structure checked, the indexes against the tables
// aside. The driver is the catalog's (modernc.org/sqlite, registered as "sqlite").
func quickCheck(ctx context.Context, path string) error {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(1000)")
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return errors.New(res)
	}
	return nil
}

// CheckDisplay reports whether display answers: it connects to it and lists its monitors,
// as a recording's start does, within ctx. An empty display is $DISPLAY (an error when
// unset). The error names the display.
func (e *Engine) CheckDisplay(ctx context.Context, display string) error {
	b := e.spec.Backend
	if b == nil {
		b = capture.System
	}
	if _, err := b.Discover(ctx, display); err != nil {
		return fmt.Errorf("engine: display %s: %w", displayName(display), err)
	}
	return nil
}

// displayName is display for messages, "$DISPLAY" when empty.
func displayName(display string) string {
	if display == "" {
		return "$DISPLAY"
	}
	return display
}
