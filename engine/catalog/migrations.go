package catalog

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations is the schema history: migrations[i] takes the database from version i to i+1,
// and PRAGMA user_version holds the number applied so far.
//
// The list is append-only. Once a build that contains a migration has been released, that
// migration's text is never edited, reordered or removed — databases in the field have
// already run it and will not run it again. To change the schema, append a new migration.
//
// Each migration runs in its own transaction together with the user_version bump, so a crash
// leaves the database at a version that some build knows.
var migrations = []string{
	// 1: recordings, segments, upload jobs and the contact-id counter.
	//
	// Times are INTEGER unix microseconds (UTC), NULL when unset. Tables are STRICT so a
	// wrong type is an error rather than a silent conversion. AUTOINCREMENT on segments and
	// upload jobs keeps their ids from being reused after deletes, so a stale id held by an
	// uploader can never point at someone else's row.
	`
CREATE TABLE counters (
	name  TEXT    NOT NULL PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;

CREATE TABLE recordings (
	id             TEXT    NOT NULL PRIMARY KEY,
	contact_id     INTEGER NOT NULL UNIQUE,
	interaction_id TEXT    NOT NULL UNIQUE,
	owner          TEXT    NOT NULL DEFAULT '',
	frontend       TEXT    NOT NULL DEFAULT '',
	reason         TEXT    NOT NULL DEFAULT '',
	state          TEXT    NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	started_at     INTEGER,
	ended_at       INTEGER,
	duration_ms    INTEGER NOT NULL DEFAULT 0,
	masked_ms      INTEGER NOT NULL DEFAULT 0,
	encoder        TEXT    NOT NULL DEFAULT '',
	geometry       TEXT    CHECK (geometry IS NULL OR json_valid(geometry)),
	labels         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
	error          TEXT    NOT NULL DEFAULT '',
	interrupted    INTEGER NOT NULL DEFAULT 0 CHECK (interrupted IN (0, 1))
) STRICT;

CREATE INDEX recordings_state ON recordings (state);
CREATE INDEX recordings_owner ON recordings (owner);

CREATE TABLE segments (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	recording_id TEXT    NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
	idx          INTEGER NOT NULL CHECK (idx >= 0),
	path         TEXT    NOT NULL UNIQUE,
	bytes        INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
	sha256       TEXT    NOT NULL DEFAULT '',
	closed       INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
	created_at   INTEGER NOT NULL,
	closed_at    INTEGER,
	removed_at   INTEGER,
	UNIQUE (recording_id, idx)
) STRICT;

CREATE TABLE upload_jobs (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	segment_id      INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
	target          TEXT    NOT NULL,
	state           TEXT    NOT NULL DEFAULT 'queued'
	                CHECK (state IN ('queued', 'running', 'uploaded', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_try_at     INTEGER NOT NULL,
	remote_location TEXT    NOT NULL DEFAULT '',
	remote_offset   INTEGER NOT NULL DEFAULT 0 CHECK (remote_offset >= 0),
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	UNIQUE (segment_id, target)
) STRICT;

CREATE INDEX upload_jobs_due ON upload_jobs (state, next_try_at, id);
`,
	// 2: masked intervals of a recording.
	`
ALTER TABLE recordings ADD COLUMN masked_intervals TEXT NOT NULL DEFAULT '[]'
	CHECK (json_valid(masked_intervals));
`,
	// 3: where each segment sits in its recording, for upload metadata.
	`
ALTER TABLE segments ADD COLUMN start_ms INTEGER NOT NULL DEFAULT 0 CHECK (start_ms >= 0);
ALTER TABLE segments ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0);
`,
	// 4: an uploader's own resume state (where the upload stands on each server) and the
	// kind of the last failure, for exactly-once uploads and operators.
	`
ALTER TABLE upload_jobs ADD COLUMN remote_state TEXT NOT NULL DEFAULT '';
ALTER TABLE upload_jobs ADD COLUMN last_error_kind TEXT NOT NULL DEFAULT '';
`,
}

// SchemaVersion reports the schema version this build writes: the number of migrations it
// knows. A file at a higher version makes Open fail with ErrSchemaTooNew.
func SchemaVersion() int { return len(migrations) }

// migrate applies the migrations in list that db has not run yet, one transaction each, and
// reports the versions before and after. It takes the list as an argument so that tests can
// run histories other than the real one.
func migrate(ctx context.Context, db *sql.DB, list []string) (from, to int, err error) {
	from, err = userVersion(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	if from > len(list) {
		return from, from, fmt.Errorf("migrate: file is at version %d, this build knows %d: %w",
			from, len(list), ErrSchemaTooNew)
	}
	to = from
	for to < len(list) {
		v, err := migrateOne(ctx, db, list)
		if err != nil {
			return from, to, err
		}
		to = v
	}
	return from, to, nil
}

// migrateOne applies the next pending migration and returns the resulting version. It
// re-reads the version inside the (immediate, so write-locked) transaction because another
// process opening the same file may have migrated it since migrate looked.
func migrateOne(ctx context.Context, db *sql.DB, list []string) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	v, err := userVersion(ctx, tx)
	if err != nil {
		return 0, err
	}
	if v > len(list) {
		return v, fmt.Errorf("migrate: file is at version %d, this build knows %d: %w",
			v, len(list), ErrSchemaTooNew)
	}
	if v == len(list) {
		return v, nil
	}
	if _, err := tx.ExecContext(ctx, list[v]); err != nil {
		return v, fmt.Errorf("migrate: apply migration %d: %w", v+1, err)
	}
	// PRAGMA takes no bound parameters; v+1 is an int we computed, not input.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return v, fmt.Errorf("migrate: set version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return v, fmt.Errorf("migrate: commit migration %d: %w", v+1, err)
	}
	return v + 1, nil
}

// queryRower is what *sql.DB and *sql.Tx have in common for single-row reads.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func userVersion(ctx context.Context, q queryRower) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
