package catalog

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"
)

// Segment is one file of a recording.
type Segment struct {
	// ID is the catalog's id of the segment; never reused.
	ID int64
	// RecordingID is the recording the segment belongs to.
	RecordingID string
	// Index orders the segments of a recording; unique within it.
	Index int
	// Path is the file's absolute path; unique across the catalog.
	Path string
	// Bytes is the file's size, known once the segment is closed (0 before).
	Bytes int64
	// SHA256 is the file's checksum in lower-case hex, known once the segment is closed.
	SHA256 string
	// Closed is true once the file is complete and will not change again.
	Closed bool
	// CreatedAt is when the segment was added.
	CreatedAt time.Time
	// ClosedAt is when it was closed; zero while open.
	ClosedAt time.Time
	// RemovedAt is when its file was removed from the spool; zero while on disk.
	RemovedAt time.Time
	// Start is where the segment starts in its recording, and Duration how long it lasts
	// (stored in milliseconds; set by SetSegmentSpan).
	Start    time.Duration
	Duration time.Duration
}

// NewSegment is what AddSegment needs.
type NewSegment struct {
	// RecordingID is the recording the segment belongs to; it must exist.
	RecordingID string
	// Index orders the segments of the recording; non-negative, unique within it.
	Index int
	// Path is the file's absolute path; unique across the catalog.
	Path string
}

const segmentColumns = `id, recording_id, idx, path, bytes, sha256, closed, created_at,
	closed_at, removed_at, start_ms, duration_ms`

// AddSegment records a new, open segment. It fails with ErrNotFound if the recording does
// not exist and with ErrConflict if the path or the (recording, index) pair is taken.
func (c *Catalog) AddSegment(ctx context.Context, ns NewSegment) (Segment, error) {
	if ns.Index < 0 {
		return Segment{}, fmt.Errorf("catalog: add segment: negative Index %d: %w", ns.Index, ErrInvalid)
	}
	// Paths must be absolute so that uniqueness means the same file whatever the working
	// directory of the process that reads them later.
	if !filepath.IsAbs(ns.Path) {
		return Segment{}, fmt.Errorf("catalog: add segment: Path %q is not absolute: %w", ns.Path, ErrInvalid)
	}
	var seg Segment
	err := c.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `
INSERT INTO segments (recording_id, idx, path, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			ns.RecordingID, ns.Index, ns.Path, micros(c.now())).Scan(&id)
		if err != nil {
			return err
		}
		seg, err = getSegment(ctx, tx, id)
		return err
	})
	if err != nil {
		return Segment{}, wrap(err, "add segment %d of recording %q", ns.Index, ns.RecordingID)
	}
	return seg, nil
}

// SetSegmentSpan records where a segment starts in its recording and how long it lasts.
func (c *Catalog) SetSegmentSpan(ctx context.Context, id int64, start, duration time.Duration) error {
	if start < 0 || duration < 0 {
		return fmt.Errorf("catalog: segment %d span: negative start %s or duration %s: %w", id, start, duration, ErrInvalid)
	}
	err := c.write(ctx, func(tx *sql.Tx) error { return setSegmentSpan(ctx, tx, id, start, duration) })
	if err != nil {
		return wrap(err, "segment %d span", id)
	}
	return nil
}

// setSegmentSpan is SetSegmentSpan's write, inside the caller's transaction.
func setSegmentSpan(ctx context.Context, tx *sql.Tx, id int64, start, duration time.Duration) error {
	res, err := tx.ExecContext(ctx, `UPDATE segments SET start_ms = ?, duration_ms = ? WHERE id = ?`,
		start.Milliseconds(), duration.Milliseconds(), id)
	if err != nil {
		return err
	}
	return mustAffect(res)
}

// CloseSegment marks the segment complete with its final size and SHA-256 (64 hex digits).
// Closing it again with the same values is a no-op, so a caller may retry after a crash;
// with different values it fails with ErrConflict.
func (c *Catalog) CloseSegment(ctx context.Context, id int64, size int64, sha256 string) error {
	if size < 0 {
		return fmt.Errorf("catalog: close segment %d: negative size %d: %w", id, size, ErrInvalid)
	}
	if !validSHA256(sha256) {
		return fmt.Errorf("catalog: close segment %d: sha256 %q is not 64 lower-case hex digits: %w",
			id, sha256, ErrInvalid)
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		cur, err := getSegment(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.Closed {
			if cur.Bytes == size && cur.SHA256 == sha256 {
				return nil
			}
			return fmt.Errorf("already closed with %d bytes, sha256 %s: %w", cur.Bytes, cur.SHA256, ErrConflict)
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE segments SET bytes = ?, sha256 = ?, closed = 1, closed_at = ? WHERE id = ?`,
			size, sha256, micros(c.now()), id)
		return err
	})
	return wrap(err, "close segment %d", id)
}

// MarkSegmentRemoved records that the segment's file was deleted from the spool, so that
// SpoolBytes stops counting it and no new upload job is made for it. Marking it again is a
// no-op.
func (c *Catalog) MarkSegmentRemoved(ctx context.Context, id int64) error {
	err := c.write(ctx, func(tx *sql.Tx) error { return c.markSegmentRemoved(ctx, tx, id) })
	return wrap(err, "mark segment %d removed", id)
}

// markSegmentRemoved is MarkSegmentRemoved's write, inside the caller's transaction.
func (c *Catalog) markSegmentRemoved(ctx context.Context, tx *sql.Tx, id int64) error {
	res, err := tx.ExecContext(ctx,
		`UPDATE segments SET removed_at = coalesce(removed_at, ?) WHERE id = ?`,
		micros(c.now()), id)
	if err != nil {
		return err
	}
	return mustAffect(res)
}

// validSHA256 reports whether s is a SHA-256 in 64 lower-case hex digits.
func validSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && hex.EncodeToString(b) == s
}

// GetSegment returns the segment with the given id, or ErrNotFound.
func (c *Catalog) GetSegment(ctx context.Context, id int64) (Segment, error) {
	var seg Segment
	err := c.read(func(db *sql.DB) (err error) {
		seg, err = getSegment(ctx, db, id)
		return err
	})
	return seg, wrap(err, "get segment %d", id)
}

// Segments returns the segments of a recording in index order, or ErrNotFound if the
// recording does not exist.
func (c *Catalog) Segments(ctx context.Context, recordingID string) ([]Segment, error) {
	var out []Segment
	err := c.read(func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx,
			`SELECT `+segmentColumns+` FROM segments WHERE recording_id = ? ORDER BY idx`, recordingID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			seg, err := scanSegment(rows)
			if err != nil {
				return err
			}
			out = append(out, seg)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			return recordingExists(ctx, db, recordingID)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(err, "segments of recording %q", recordingID)
	}
	return out, nil
}

// SpoolBytes returns the bytes that segment files take in the spool: the sum of the sizes
// of the segments not marked removed, whatever the state of their uploads. That is the number
// a disk quota needs. Open segments count as 0 because their size is only known at close;
// a quota check should add the sizes of the files being written.
func (c *Catalog) SpoolBytes(ctx context.Context) (int64, error) {
	var n int64
	err := c.read(func(db *sql.DB) error {
		return db.QueryRowContext(ctx,
			`SELECT coalesce(sum(bytes), 0) FROM segments WHERE removed_at IS NULL`).Scan(&n)
	})
	return n, wrap(err, "spool bytes")
}

func getSegment(ctx context.Context, q queryRower, id int64) (Segment, error) {
	return scanSegment(q.QueryRowContext(ctx, `SELECT `+segmentColumns+` FROM segments WHERE id = ?`, id))
}

func scanSegment(s scanner) (Segment, error) {
	var (
		seg                 Segment
		created             int64
		closedAt, removedAt sql.NullInt64
		startMS, durMS      int64
	)
	err := s.Scan(&seg.ID, &seg.RecordingID, &seg.Index, &seg.Path, &seg.Bytes, &seg.SHA256,
		&seg.Closed, &created, &closedAt, &removedAt, &startMS, &durMS)
	if err != nil {
		return Segment{}, err
	}
	seg.Start, seg.Duration = time.Duration(startMS)*time.Millisecond, time.Duration(durMS)*time.Millisecond
	seg.CreatedAt = fromMicros(sql.NullInt64{Int64: created, Valid: true})
	seg.ClosedAt = fromMicros(closedAt)
	seg.RemovedAt = fromMicros(removedAt)
	return seg, nil
}

// recordingExists returns nil if the recording exists and sql.ErrNoRows if not.
func recordingExists(ctx context.Context, q queryRower, id string) error {
	var one int
	return q.QueryRowContext(ctx, `SELECT 1 FROM recordings WHERE id = ?`, id).Scan(&one)
}
