package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
)

// Restore inserts a recording as it was, with its own ids and times, and its segments, in one
// transaction: what a rebuild of a lost catalog found in the recording's files. Unlike
// CreateRecording it takes the contact id and interaction id from rec (both required) and
// raises the contact-id counter to at least rec.ContactID, so ids handed out later stay
// above it. Segments' ID and RecordingID are ignored; their paths must be absolute. A
// recording id, contact id or interaction id already present fails with ErrConflict.
func (c *Catalog) Restore(ctx context.Context, rec Recording, segs []Segment) (Recording, error) {
	switch {
	case rec.ID == "":
		return Recording{}, fmt.Errorf("catalog: restore recording: empty ID: %w", ErrInvalid)
	case rec.ContactID < 1:
		return Recording{}, fmt.Errorf("catalog: restore recording %q: contact id %d: %w", rec.ID, rec.ContactID, ErrInvalid)
	case rec.InteractionID == "":
		return Recording{}, fmt.Errorf("catalog: restore recording %q: empty InteractionID: %w", rec.ID, ErrInvalid)
	case rec.CreatedAt.IsZero():
		return Recording{}, fmt.Errorf("catalog: restore recording %q: zero CreatedAt: %w", rec.ID, ErrInvalid)
	}
	for _, s := range segs {
		if !filepath.IsAbs(s.Path) || s.Index < 0 || s.Bytes < 0 || s.Start < 0 || s.Duration < 0 {
			return Recording{}, fmt.Errorf("catalog: restore recording %q: segment %d (%q): %w", rec.ID, s.Index, s.Path, ErrInvalid)
		}
	}
	geometry, labels, err := encodeJSONFields(rec.Geometry, rec.Labels)
	if err != nil {
		return Recording{}, wrap(err, "restore recording %q", rec.ID)
	}
	var out Recording
	err = c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO recordings (id, contact_id, interaction_id, owner, frontend, reason, state, created_at,
	started_at, ended_at, duration_ms, masked_ms, encoder, geometry, labels, error, interrupted,
	masked_intervals)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.ID, rec.ContactID, rec.InteractionID, rec.Owner, rec.Frontend, rec.Reason, rec.State,
			micros(rec.CreatedAt), micros(rec.StartedAt), micros(rec.EndedAt), rec.Duration.Milliseconds(),
			rec.Masked.Milliseconds(), rec.Encoder, geometry, labels, rec.Error, rec.Interrupted,
			encodeIntervals(rec.MaskedIntervals))
		if err != nil {
			return err
		}
		for _, s := range segs {
			created := s.CreatedAt
			if created.IsZero() {
				created = rec.CreatedAt
			}
			_, err := tx.ExecContext(ctx, `
INSERT INTO segments (recording_id, idx, path, bytes, sha256, closed, created_at, closed_at,
	removed_at, start_ms, duration_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				rec.ID, s.Index, s.Path, s.Bytes, s.SHA256, s.Closed, micros(created), micros(s.ClosedAt),
				micros(s.RemovedAt), s.Start.Milliseconds(), s.Duration.Milliseconds())
			if err != nil {
				return err
			}
		}
		if err := raiseContactID(ctx, tx, rec.ContactID); err != nil {
			return err
		}
		out, err = getRecording(ctx, tx, "id = ?", rec.ID)
		return err
	})
	if err != nil {
		return Recording{}, wrap(err, "restore recording %q", rec.ID)
	}
	return out, nil
}

// RaiseContactID makes the next contact id handed out greater than last; a counter already
// past it stays where it is (ids are never reused).
func (c *Catalog) RaiseContactID(ctx context.Context, last int64) error {
	return wrap(c.write(ctx, func(tx *sql.Tx) error { return raiseContactID(ctx, tx, last) }),
		"raise contact id to %d", last)
}

// LastContactID returns the last contact id handed out.
func (c *Catalog) LastContactID(ctx context.Context) (int64, error) {
	var v int64
	err := c.read(func(db *sql.DB) error {
		return db.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = ?", contactCounter).Scan(&v)
	})
	return v, wrap(err, "read contact id counter")
}

func raiseContactID(ctx context.Context, tx *sql.Tx, last int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE counters SET value = max(value, ?) WHERE name = ?`, last, contactCounter)
	if err != nil {
		return fmt.Errorf("raise contact id counter: %w", err)
	}
	return nil
}
