// Package catalog is the engine's durable store: recordings, their segments, contact ids and
// the upload job queue, kept in one SQLite file through the pure-Go modernc.org/sqlite driver.
//
// # Durability
//
// The file runs in WAL journal mode with synchronous=FULL: a transaction that returned
// successfully survives a crash of the process and a power loss. NORMAL would be faster but a
// power cut could roll back the last commits, and a contact id already handed out (in an API
// answer, say) would then be issued again. Writes here are rare (per recording, segment and
// upload step), so the fsync per commit costs little.
//
// # Concurrency
//
// A Catalog is safe for concurrent use. It keeps a single SQLite connection, so operations
// from one process are serialised by database/sql instead of colliding inside SQLite (which
// would surface as SQLITE_BUSY). Write transactions start with BEGIN IMMEDIATE and wait up to
// the busy timeout, so a second process opening the same file (a CLI, say) queues behind
// this one instead of failing.
//
// Because there is one connection, the callback of UpdateRecording or UpdateUpload runs
// while that connection is held: it must not call back into the Catalog (it would wait for
// itself until its context is done) and should not do slow work.
//
// # Times
//
// Times are stored as unix microseconds and returned in UTC with microsecond precision; the
// zero time.Time means "not set" and is stored as NULL. Durations are stored in milliseconds.
package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Defaults of the options of Open.
const (
	// DefaultContactIDBase is the first contact id a fresh catalog hands out.
	DefaultContactIDBase int64 = 1_000_000
	// DefaultBusyTimeout is how long a write waits for another process holding the file.
	DefaultBusyTimeout = 5 * time.Second
)

// contactCounter is the counters row that holds the last contact id handed out.
const contactCounter = "contact_id"

// Option changes how Open opens a catalog.
type Option func(*options)

type options struct {
	contactIDBase      int64
	busyTimeout        time.Duration
	existingRecordings bool
}

// WithExistingRecordings tells Open whether recordings exist beside the file (the engine's
// spool holds recording folders). When they do, a missing or empty file is not replaced by a
// fresh catalog, which would forget them and hand out their contact ids again: Open fails
// with ErrEmpty instead and leaves the file as it is.
func WithExistingRecordings(exist bool) Option {
	return func(o *options) { o.existingRecordings = exist }
}

// WithContactIDBase sets the lowest contact id the catalog hands out (default
// DefaultContactIDBase). Raising it on an existing file makes the next id jump up to it;
// lowering it has no effect, because contact ids are never reused.
func WithContactIDBase(base int64) Option {
	return func(o *options) { o.contactIDBase = base }
}

// WithBusyTimeout sets how long a statement waits for a lock held by another process
// before failing (default DefaultBusyTimeout).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// Catalog is an open catalog file. Create it with Open and release it with Close.
type Catalog struct {
	// mu is read-locked for the length of every operation and write-locked by Close, so
	// Close waits for operations in flight and later ones see db == nil (ErrClosed).
	mu sync.RWMutex
	db *sql.DB
	// now is the clock for created/updated/closed timestamps; tests may replace it.
	now func() time.Time
}

// Open opens the catalog file at path, creating the file (and its parent directory, mode
// 0750) if it does not exist, applies pending schema migrations and raises the contact-id
// counter to the configured base. An existing file is checked first (Check): a damaged one
// fails with ErrDamaged and is left untouched, never replaced; a missing or empty one beside
// existing recordings (WithExistingRecordings) fails with ErrEmpty. It fails with
// ErrSchemaTooNew if the file was written by a newer schema, and with ErrInvalid for an empty
// or in-memory path. Errors name the file.
func Open(ctx context.Context, path string, opts ...Option) (*Catalog, error) {
	o := options{contactIDBase: DefaultContactIDBase, busyTimeout: DefaultBusyTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.contactIDBase < 1 {
		return nil, fmt.Errorf("catalog: open: contact id base %d must be positive: %w", o.contactIDBase, ErrInvalid)
	}
	if o.busyTimeout < 0 {
		return nil, fmt.Errorf("catalog: open: busy timeout %v is negative: %w", o.busyTimeout, ErrInvalid)
	}
	// An in-memory database would silently give up durability, the one thing this package is for.
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("catalog: open: path %q must name a file: %w", path, ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: open %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("catalog: open %q: %w", path, err)
	}
	// Checked through a read-only connection before the read-write one touches the file: a
	// damaged or empty file beside recordings must stay exactly as it is, for Rebuild.
	rep, err := Check(ctx, abs)
	if err != nil {
		return nil, fmt.Errorf("catalog: open %q: %w", path, err)
	}
	if rep.Empty && o.existingRecordings {
		return nil, fmt.Errorf("catalog: open %q: %w", path, ErrEmpty)
	}

	db, err := sql.Open("sqlite", dsn(abs, o.busyTimeout))
	if err != nil {
		return nil, fmt.Errorf("catalog: open %q: %w", path, err)
	}
	// One connection: see "Concurrency" in the package documentation.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	c := &Catalog{db: db, now: time.Now}
	if err := c.init(ctx, o); err != nil {
		db.Close() //nolint:errcheck // the init error is the one worth reporting
		return nil, fmt.Errorf("catalog: open %q: %w", path, err)
	}
	return c, nil
}

// dsn builds the driver's connection string. The path goes into a file: URI, escaped, so
// that a '?' or '#' in a directory name cannot be mistaken for parameters. The pragmas run on
// every new connection; the driver runs busy_timeout first, so the switch to WAL waits for
// other processes instead of failing.
func dsn(abs string, busy time.Duration) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: C:/x must become file:///C:/x
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// BEGIN IMMEDIATE takes the write lock up front, where busy_timeout applies; a deferred
	// transaction that upgrades from read to write can fail with SQLITE_BUSY at once instead.
	q.Set("_txlock", "immediate")
	return (&url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}).String()
}

// init checks the connection settings, migrates and sets up the contact-id counter.
func (c *Catalog) init(ctx context.Context, o options) error {
	var mode string
	if err := c.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	// Some file systems (network shares) cannot do WAL and SQLite quietly keeps the rollback
	// journal; the crash and concurrency guarantees above assume WAL, so refuse.
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a network file system?)", mode)
	}
	if _, _, err := migrate(ctx, c.db, migrations); err != nil {
		return err
	}
	// The counter holds the last id handed out. max() so that a lower base never moves it
	// back, and so that it is never below an id already in use (belt and braces against a
	// hand-edited file).
	_, err := c.db.ExecContext(ctx, `
INSERT INTO counters (name, value)
VALUES (?1, max(?2, coalesce((SELECT max(contact_id) FROM recordings), 0)))
ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)`,
		contactCounter, o.contactIDBase-1)
	if err != nil {
		return fmt.Errorf("set up contact id counter: %w", err)
	}
	return nil
}

// Close closes the catalog after the operations in flight have finished. Later calls of
// other methods fail with ErrClosed; closing again returns nil.
func (c *Catalog) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == nil {
		return nil
	}
	err := c.db.Close()
	c.db = nil
	if err != nil {
		return fmt.Errorf("catalog: close: %w", err)
	}
	return nil
}

// read runs fn with the database, read-locking the catalog so Close waits for it.
func (c *Catalog) read(fn func(db *sql.DB) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.db == nil {
		return ErrClosed
	}
	return fn(c.db)
}

// write runs fn in a transaction and commits it only if fn returns nil.
func (c *Catalog) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return c.read(func(db *sql.DB) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		if err := fn(tx); err != nil {
			tx.Rollback() //nolint:errcheck // fn's error is the one worth reporting
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// wrap adds the operation to err and, for driver errors that have a meaning for callers,
// the matching sentinel: constraint violations become ErrConflict (or ErrNotFound for a
// missing parent row) and sql.ErrNoRows becomes ErrNotFound. Errors that already carry a
// sentinel, and context errors, keep their chain unchanged.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	op := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		if err == sql.ErrNoRows { //nolint:errorlint // the bare error adds nothing to the message
			return fmt.Errorf("catalog: %s: %w", op, ErrNotFound)
		}
		return fmt.Errorf("catalog: %s: %w: %w", op, ErrNotFound, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("catalog: %s: %w: %w", op, ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("catalog: %s: %w: %w", op, ErrNotFound, err)
		}
	}
	return fmt.Errorf("catalog: %s: %w", op, err)
}

// micros encodes t for storage; the zero time is NULL.
func micros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// fromMicros decodes a stored time; NULL is the zero time.
func fromMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// placeholders returns "?, ?, ?" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// sqlLimit turns a Limit field into SQLite's LIMIT value; -1 means no limit.
func sqlLimit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
