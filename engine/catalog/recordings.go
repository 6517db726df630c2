package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Recording is one recording as the catalog stores it.
type Recording struct {
	// ID is the engine-chosen id; it never changes.
	ID string
	// ContactID is the numeric id allocated by CreateRecording: unique and never reused, even
	// after the row is deleted. It never changes.
	ContactID int64
	// InteractionID is a random UUID v4 allocated by CreateRecording; it never changes.
	InteractionID string
	// Owner is who the recording belongs to (the agent).
	Owner string
	// Frontend names the front end that asked for the recording.
	Frontend string
	// Reason is why it was started, as the front end gave it.
	Reason string
	// State is the session state; the engine owns its values and transitions.
	State string
	// Encoder is the encoder that was chosen, once known.
	Encoder string
	// Error is the failure reason of a failed recording.
	Error string
	// CreatedAt is when the row was created; it never changes.
	CreatedAt time.Time
	// StartedAt is when recording started; zero until then.
	StartedAt time.Time
	// EndedAt is when recording ended; zero until then.
	EndedAt time.Time
	// Duration is the recorded length (stored in milliseconds).
	Duration time.Duration
	// Masked is how long of it was masked (stored in milliseconds).
	Masked time.Duration
	// MaskedIntervals are when it was masked, as offsets from its start.
	MaskedIntervals []Interval
	// Geometry is the captured displays' layout as JSON; nil when not set.
	Geometry json.RawMessage
	// Labels are free-form key/value pairs from the front end; never nil when read back, so
	// an UpdateRecording callback may add to it directly.
	Labels map[string]string
	// Interrupted is true when the recording was cut short by a crash or shutdown.
	Interrupted bool
}

// NewRecording is what CreateRecording needs; the catalog fills in the rest.
type NewRecording struct {
	// ID is the engine-chosen id; required and unique.
	ID string
	// Owner is who the recording belongs to.
	Owner string
	// Frontend names the front end that asked for the recording.
	Frontend string
	// Reason is why it was started.
	Reason string
	// State is the initial session state.
	State string
	// Geometry is the captured displays' layout as JSON; optional, must be valid JSON.
	Geometry json.RawMessage
	// Labels are free-form key/value pairs; optional.
	Labels map[string]string
}

// RecordingFilter selects recordings for ListRecordings; zero fields do not filter.
type RecordingFilter struct {
	// Owner keeps recordings of this owner.
	Owner string
	// States keeps recordings in any of these states.
	States []string
	// AfterContactID keeps recordings whose contact id is greater, for paging: pass the
	// last contact id of the previous page.
	AfterContactID int64
	// Limit caps the number returned; 0 means no cap.
	Limit int
}

const recordingColumns = `id, contact_id, interaction_id, owner, frontend, reason, state,
	created_at, started_at, ended_at, duration_ms, masked_ms, encoder, geometry, labels,
	error, interrupted, masked_intervals`

// Interval is a span of a recording, as offsets from its start.
type Interval struct {
	Start time.Duration
	End   time.Duration
}

// intervalJSON is how an Interval is stored: milliseconds.
type intervalJSON struct {
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

func encodeIntervals(iv []Interval) string {
	out := make([]intervalJSON, len(iv))
	for i, v := range iv {
		out[i] = intervalJSON{v.Start.Milliseconds(), v.End.Milliseconds()}
	}
	b, _ := json.Marshal(out) // cannot fail: plain integers
	return string(b)
}

func decodeIntervals(s string) ([]Interval, error) {
	var in []intervalJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	out := make([]Interval, len(in))
	for i, v := range in {
		out[i] = Interval{time.Duration(v.StartMS) * time.Millisecond, time.Duration(v.EndMS) * time.Millisecond}
	}
	return out, nil
}

// CreateRecording inserts a recording, allocating its contact id and interaction id in the
// same transaction, and returns it as stored. A duplicate ID fails with ErrConflict.
func (c *Catalog) CreateRecording(ctx context.Context, nr NewRecording) (Recording, error) {
	if nr.ID == "" {
		return Recording{}, fmt.Errorf("catalog: create recording: empty ID: %w", ErrInvalid)
	}
	geometry, labels, err := encodeJSONFields(nr.Geometry, nr.Labels)
	if err != nil {
		return Recording{}, wrap(err, "create recording %q", nr.ID)
	}
	interactionID, err := newUUIDv4()
	if err != nil {
		return Recording{}, wrap(err, "create recording %q", nr.ID)
	}
	var rec Recording
	err = c.write(ctx, func(tx *sql.Tx) error {
		// The counter row and the recording commit together or not at all, so an id is
		// handed out exactly once: a rolled-back insert also rolls back the increment, and
		// a deleted recording leaves the counter where it was.
		var contactID int64
		err := tx.QueryRowContext(ctx,
			`UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value`,
			contactCounter).Scan(&contactID)
		if err != nil {
			return fmt.Errorf("allocate contact id: %w", err)
		}
		_, err = tx.ExecContext(ctx, `
INSERT INTO recordings (id, contact_id, interaction_id, owner, frontend, reason, state,
	created_at, geometry, labels)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			nr.ID, contactID, interactionID, nr.Owner, nr.Frontend, nr.Reason, nr.State,
			micros(c.now()), geometry, labels)
		if err != nil {
			return err
		}
		rec, err = getRecording(ctx, tx, "id = ?", nr.ID)
		return err
	})
	if err != nil {
		return Recording{}, wrap(err, "create recording %q", nr.ID)
	}
	return rec, nil
}

// GetRecording returns the recording with the given id, or ErrNotFound.
func (c *Catalog) GetRecording(ctx context.Context, id string) (Recording, error) {
	var rec Recording
	err := c.read(func(db *sql.DB) (err error) {
		rec, err = getRecording(ctx, db, "id = ?", id)
		return err
	})
	return rec, wrap(err, "get recording %q", id)
}

// RecordingByContactID returns the recording with the given contact id, or ErrNotFound.
func (c *Catalog) RecordingByContactID(ctx context.Context, contactID int64) (Recording, error) {
	var rec Recording
	err := c.read(func(db *sql.DB) (err error) {
		rec, err = getRecording(ctx, db, "contact_id = ?", contactID)
		return err
	})
	return rec, wrap(err, "get recording by contact id %d", contactID)
}

// UpdateRecording reads the recording, lets fn change it and writes it back, all in one
// transaction: concurrent updates never lose each other's changes. If fn returns an error
// nothing is written and that error is returned (wrapped). ID, ContactID, InteractionID and
// CreatedAt belong to the catalog; changing them fails with ErrInvalid. fn must not call the
// Catalog (see the package documentation). Returns the recording as stored.
func (c *Catalog) UpdateRecording(ctx context.Context, id string, fn func(*Recording) error) (Recording, error) {
	var rec Recording
	err := c.write(ctx, func(tx *sql.Tx) (err error) {
		rec, err = updateRecording(ctx, tx, id, fn)
		return err
	})
	if err != nil {
		return Recording{}, wrap(err, "update recording %q", id)
	}
	return rec, nil
}

// updateRecording is UpdateRecording inside the caller's transaction.
func updateRecording(ctx context.Context, tx *sql.Tx, id string, fn func(*Recording) error) (Recording, error) {
	cur, err := getRecording(ctx, tx, "id = ?", id)
	if err != nil {
		return Recording{}, err
	}
	next := cur
	if err := fn(&next); err != nil {
		return Recording{}, err
	}
	switch {
	case next.ID != cur.ID:
		return Recording{}, fmt.Errorf("ID changed to %q: %w", next.ID, ErrInvalid)
	case next.ContactID != cur.ContactID:
		return Recording{}, fmt.Errorf("ContactID changed to %d: %w", next.ContactID, ErrInvalid)
	case next.InteractionID != cur.InteractionID:
		return Recording{}, fmt.Errorf("InteractionID changed to %q: %w", next.InteractionID, ErrInvalid)
	case !next.CreatedAt.Equal(cur.CreatedAt):
		return Recording{}, fmt.Errorf("CreatedAt changed to %v: %w", next.CreatedAt, ErrInvalid)
	}
	geometry, labels, err := encodeJSONFields(next.Geometry, next.Labels)
	if err != nil {
		return Recording{}, err
	}
	_, err = tx.ExecContext(ctx, `
UPDATE recordings SET owner = ?, frontend = ?, reason = ?, state = ?, started_at = ?,
	ended_at = ?, duration_ms = ?, masked_ms = ?, encoder = ?, geometry = ?, labels = ?,
	error = ?, interrupted = ?, masked_intervals = ?
WHERE id = ?`,
		next.Owner, next.Frontend, next.Reason, next.State, micros(next.StartedAt),
		micros(next.EndedAt), next.Duration.Milliseconds(), next.Masked.Milliseconds(),
		next.Encoder, geometry, labels, next.Error, next.Interrupted, encodeIntervals(next.MaskedIntervals), id)
	if err != nil {
		return Recording{}, err
	}
	return getRecording(ctx, tx, "id = ?", id)
}

// DeleteRecording deletes the recording with its segments and upload jobs, or returns
// ErrNotFound. Its contact id stays used. Files on disk are the caller's: remove them first,
// since afterwards SpoolBytes no longer counts them.
func (c *Catalog) DeleteRecording(ctx context.Context, id string) error {
	err := c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM recordings WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
	return wrap(err, "delete recording %q", id)
}

// ListRecordings returns the recordings that match f, in creation (contact id) order.
func (c *Catalog) ListRecordings(ctx context.Context, f RecordingFilter) ([]Recording, error) {
	query := `SELECT ` + recordingColumns + ` FROM recordings WHERE contact_id > ?`
	args := []any{f.AfterContactID}
	if f.Owner != "" {
		query += ` AND owner = ?`
		args = append(args, f.Owner)
	}
	if len(f.States) > 0 {
		query += ` AND state IN (` + placeholders(len(f.States)) + `)`
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	query += ` ORDER BY contact_id LIMIT ?`
	args = append(args, sqlLimit(f.Limit))

	var out []Recording
	err := c.read(func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			rec, err := scanRecording(rows)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap(err, "list recordings")
	}
	return out, nil
}

// getRecording reads one recording selected by where (a condition on one placeholder).
func getRecording(ctx context.Context, q queryRower, where string, arg any) (Recording, error) {
	row := q.QueryRowContext(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE `+where, arg)
	return scanRecording(row)
}

func scanRecording(s scanner) (Recording, error) {
	var (
		r                   Recording
		created             int64
		started, ended      sql.NullInt64
		durationMS, maskedM int64
		geometry            sql.NullString
		labels, masks       string
	)
	err := s.Scan(&r.ID, &r.ContactID, &r.InteractionID, &r.Owner, &r.Frontend, &r.Reason,
		&r.State, &created, &started, &ended, &durationMS, &maskedM, &r.Encoder, &geometry,
		&labels, &r.Error, &r.Interrupted, &masks)
	if err != nil {
		return Recording{}, err
	}
	r.CreatedAt = fromMicros(sql.NullInt64{Int64: created, Valid: true})
	r.StartedAt = fromMicros(started)
	r.EndedAt = fromMicros(ended)
	r.Duration = time.Duration(durationMS) * time.Millisecond
	r.Masked = time.Duration(maskedM) * time.Millisecond
	if geometry.Valid {
		r.Geometry = json.RawMessage(geometry.String)
	}
	r.Labels = map[string]string{}
	if err := json.Unmarshal([]byte(labels), &r.Labels); err != nil {
		return Recording{}, fmt.Errorf("decode labels of recording %q: %w", r.ID, err)
	}
	if r.MaskedIntervals, err = decodeIntervals(masks); err != nil {
		return Recording{}, fmt.Errorf("decode masked intervals of recording %q: %w", r.ID, err)
	}
	return r, nil
}

// encodeJSONFields validates and encodes the JSON columns of a recording: geometry is NULL
// when empty, labels are "{}" when empty.
func encodeJSONFields(geometry json.RawMessage, labels map[string]string) (sql.NullString, string, error) {
	var g sql.NullString
	if len(bytes.TrimSpace(geometry)) > 0 {
		if !json.Valid(geometry) {
			return g, "", fmt.Errorf("geometry is not valid JSON: %w", ErrInvalid)
		}
		g = sql.NullString{String: string(geometry), Valid: true}
	}
	if labels == nil {
		labels = map[string]string{}
	}
	l, err := json.Marshal(labels)
	if err != nil {
		return g, "", fmt.Errorf("encode labels: %w", err)
	}
	return g, string(l), nil
}

// mustAffect turns "no row matched" into sql.ErrNoRows, which wrap reports as ErrNotFound.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}
