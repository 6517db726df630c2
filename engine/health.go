package engine

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/catalog"
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

// quickCheck runs the catalog's integrity check (SQLite's quick_check through a fresh
// read-only connection) on the file at path, which must exist.
func quickCheck(ctx context.Context, path string) error {
	rep, err := catalog.Check(ctx, path)
	switch {
	case err != nil:
		return err
	case !rep.Exists:
		return fs.ErrNotExist
	case rep.Empty:
		return catalog.ErrEmpty
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

// CheckSpace reports whether a start would find room: ErrSpoolQuota when the spool has
// reached its quota, ErrDiskFull when its file system is below the free-space floor (running
// sessions are being ended then), naming the figures; nil when there is room.
func (e *Engine) CheckSpace(ctx context.Context) error { return e.checkSpace(ctx) }
