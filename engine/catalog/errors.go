package catalog

import "errors"

// Sentinel errors of the catalog. Every error the catalog returns wraps one of these (or the
// error of the callback passed to an Update method, or of the context), with the operation and
// the id in the message; classify them with errors.Is, never with ==. Errors that come from
// SQLite itself are wrapped too, so errors.As can still reach the driver's *sqlite.Error.
var (
	// ErrNotFound: no recording, segment or upload job has the given id (or, when adding a
	// segment, its recording does not exist).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write would break a uniqueness rule — a recording id, segment path,
	// segment index or (segment, target) upload pair that already exists, or a segment closed
	// again with a different size or checksum.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: an argument is malformed (empty id, relative path, bad checksum, invalid
	// JSON, unknown upload state) or an Update callback changed a field the catalog owns; the
	// message names the field.
	ErrInvalid = errors.New("invalid argument")
	// ErrSchemaTooNew: the database file was written by a newer build whose schema this build
	// does not know; opening it could corrupt data the newer build relies on, so Open refuses.
	ErrSchemaTooNew = errors.New("database schema is newer than this build")
	// ErrClosed: the catalog was used after Close.
	ErrClosed = errors.New("catalog closed")
	// ErrDamaged: the file fails SQLite's integrity check (quick_check), or is not a SQLite
	// database at all. Open never replaces such a file; Rebuild moves it aside.
	ErrDamaged = errors.New("catalog file is damaged")
	// ErrEmpty: the file is missing or holds no catalog although recordings exist beside it
	// (WithExistingRecordings). A fresh catalog there would forget them and hand out their
	// contact ids again, so Open refuses.
	ErrEmpty = errors.New("catalog file is missing or empty beside existing recordings")
)
