package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// UploadState is the state of an upload job.
//
//	queued ──► running ──► uploaded
//	   ▲          │
//	   └──────────┤   retry: back to queued with a later NextTryAt
//	              ▼
//	            failed    given up
//
// The uploader owns the moves; the catalog only checks that the state is one of these.
type UploadState string

// The states of an upload job.
const (
	// UploadQueued: waiting for its next try (NextTryAt).
	UploadQueued UploadState = "queued"
	// UploadRunning: an uploader is working on it. Jobs left running by a crash are put
	// back by RequeueRunningUploads.
	UploadRunning UploadState = "running"
	// UploadUploaded: done; the remote copy is complete.
	UploadUploaded UploadState = "uploaded"
	// UploadFailed: given up on; LastError says why.
	UploadFailed UploadState = "failed"
)

// Valid reports whether s is one of the defined states.
func (s UploadState) Valid() bool {
	switch s {
	case UploadQueued, UploadRunning, UploadUploaded, UploadFailed:
		return true
	}
	return false
}

// UploadJob is the durable state of uploading one segment to one target. It lives in the
// catalog rather than in the uploader so that an uploader crash loses nothing.
type UploadJob struct {
	// ID is the catalog's id of the job; never reused.
	ID int64
	// Segment is the segment being uploaded, as it was when the job was read. Read-only.
	Segment Segment
	// Target names where the segment goes (an uploader or destination).
	Target string
	// State is the job's state.
	State UploadState
	// Attempts counts the tries so far.
	Attempts int
	// NextTryAt is when the job is due again; DueUploads returns queued jobs past it.
	NextTryAt time.Time
	// RemoteLocation is the upload's address at the target (a tus upload URL), for resuming.
	RemoteLocation string
	// RemoteOffset is how many bytes the target confirmed, for resuming.
	RemoteOffset int64
	// RemoteState is the uploader's own record of where the upload stands (e.g. one upload
	// address per server), opaque to the catalog; empty for a new upload.
	RemoteState string
	// LastError is the error of the last failed try.
	LastError string
	// LastErrorKind classifies LastError (api.FailureKind: refused, reset, timeout, …).
	LastErrorKind string
	// CreatedAt is when the job was enqueued.
	CreatedAt time.Time
	// UpdatedAt is when the job last changed; set by the catalog.
	UpdatedAt time.Time
}

// UploadFilter selects upload jobs for UploadJobs; zero fields do not filter.
type UploadFilter struct {
	// RecordingID keeps jobs of this recording's segments.
	RecordingID string
	// Target keeps jobs for this target.
	Target string
	// States keeps jobs in any of these states.
	States []UploadState
	// Limit caps the number returned; 0 means no cap.
	Limit int
}

// uploadSelect reads jobs with their segments; s is the segments alias.
const uploadSelect = `SELECT j.id, j.target, j.state, j.attempts, j.next_try_at,
	j.remote_location, j.remote_offset, j.remote_state, j.last_error, j.last_error_kind,
	j.created_at, j.updated_at,
	s.id, s.recording_id, s.idx, s.path, s.bytes, s.sha256, s.closed, s.created_at,
	s.closed_at, s.removed_at, s.start_ms, s.duration_ms
FROM upload_jobs j JOIN segments s ON s.id = j.segment_id`

// EnqueueUploads makes a queued job, due now, for every closed segment of the recording that
// is still on disk and has no job for target yet, and returns all the recording's jobs for
// target in segment order. It is idempotent: calling it again returns the same jobs, plus
// jobs for segments closed since. Unknown recording: ErrNotFound.
func (c *Catalog) EnqueueUploads(ctx context.Context, recordingID, target string) ([]UploadJob, error) {
	if target == "" {
		return nil, fmt.Errorf("catalog: enqueue uploads of recording %q: empty target: %w", recordingID, ErrInvalid)
	}
	var jobs []UploadJob
	err := c.write(ctx, func(tx *sql.Tx) (err error) {
		jobs, err = c.enqueueUploads(ctx, tx, recordingID, target)
		return err
	})
	if err != nil {
		return nil, wrap(err, "enqueue uploads of recording %q to %q", recordingID, target)
	}
	return jobs, nil
}

// enqueueUploads is EnqueueUploads inside the caller's transaction.
func (c *Catalog) enqueueUploads(ctx context.Context, tx *sql.Tx, recordingID, target string) ([]UploadJob, error) {
	if err := recordingExists(ctx, tx, recordingID); err != nil {
		return nil, err
	}
	now := micros(c.now())
	// "WHERE" in the SELECT is required: without it SQLite would parse ON CONFLICT as
	// part of a join.
	_, err := tx.ExecContext(ctx, `
INSERT INTO upload_jobs (segment_id, target, state, next_try_at, created_at, updated_at)
SELECT id, ?1, 'queued', ?2, ?2, ?2 FROM segments
WHERE recording_id = ?3 AND closed = 1 AND removed_at IS NULL
ORDER BY idx
ON CONFLICT (segment_id, target) DO NOTHING`, target, now, recordingID)
	if err != nil {
		return nil, err
	}
	return queryUploads(ctx, tx,
		uploadSelect+` WHERE s.recording_id = ? AND j.target = ? ORDER BY s.idx`, recordingID, target)
}

// DueUploads returns up to limit (0: all) queued jobs whose NextTryAt is not after now, the
// longest-waiting first (by NextTryAt, then by id); with targets, only jobs for those.
func (c *Catalog) DueUploads(ctx context.Context, now time.Time, limit int, targets ...string) ([]UploadJob, error) {
	where, args := `WHERE j.state = 'queued' AND j.next_try_at <= ?`, []any{now.UnixMicro()}
	if len(targets) > 0 {
		where += ` AND j.target IN (?` + strings.Repeat(`, ?`, len(targets)-1) + `)`
		for _, t := range targets {
			args = append(args, t)
		}
	}
	args = append(args, sqlLimit(limit))
	var jobs []UploadJob
	err := c.read(func(db *sql.DB) (err error) {
		jobs, err = queryUploads(ctx, db, uploadSelect+"\n"+where+` ORDER BY j.next_try_at, j.id LIMIT ?`, args...)
		return err
	})
	if err != nil {
		return nil, wrap(err, "due uploads")
	}
	return jobs, nil
}

// GetUpload returns the upload job with the given id, or ErrNotFound.
func (c *Catalog) GetUpload(ctx context.Context, id int64) (UploadJob, error) {
	var job UploadJob
	err := c.read(func(db *sql.DB) (err error) {
		job, err = getUpload(ctx, db, id)
		return err
	})
	return job, wrap(err, "get upload %d", id)
}

// UpdateUpload reads the job, lets fn change it and writes it back in one transaction. If
// fn returns an error nothing is written and that error is returned (wrapped). fn may change
// State, Attempts, NextTryAt, RemoteLocation, RemoteOffset, RemoteState, LastError and
// LastErrorKind; changing ID,
// Segment, Target or CreatedAt, an unknown state, a negative count or a zero NextTryAt
// fails with ErrInvalid. UpdatedAt is set by the catalog. fn must not call the Catalog.
func (c *Catalog) UpdateUpload(ctx context.Context, id int64, fn func(*UploadJob) error) (UploadJob, error) {
	var job UploadJob
	err := c.write(ctx, func(tx *sql.Tx) error {
		cur, err := getUpload(ctx, tx, id)
		if err != nil {
			return err
		}
		next := cur
		if err := fn(&next); err != nil {
			return err
		}
		if err := checkUploadChange(cur, next); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
UPDATE upload_jobs SET state = ?, attempts = ?, next_try_at = ?, remote_location = ?,
	remote_offset = ?, remote_state = ?, last_error = ?, last_error_kind = ?, updated_at = ?
WHERE id = ?`,
			string(next.State), next.Attempts, micros(next.NextTryAt), next.RemoteLocation,
			next.RemoteOffset, next.RemoteState, next.LastError, next.LastErrorKind, micros(c.now()), id)
		if err != nil {
			return err
		}
		job, err = getUpload(ctx, tx, id)
		return err
	})
	if err != nil {
		return UploadJob{}, wrap(err, "update upload %d", id)
	}
	return job, nil
}

// checkUploadChange rejects changes an UpdateUpload callback may not make.
func checkUploadChange(cur, next UploadJob) error {
	switch {
	case next.ID != cur.ID:
		return fmt.Errorf("ID changed to %d: %w", next.ID, ErrInvalid)
	// The callback got an exact copy, so == detects any change to it.
	case next.Segment != cur.Segment:
		return fmt.Errorf("field Segment changed: %w", ErrInvalid)
	case next.Target != cur.Target:
		return fmt.Errorf("field Target changed to %q: %w", next.Target, ErrInvalid)
	case !next.CreatedAt.Equal(cur.CreatedAt):
		return fmt.Errorf("field CreatedAt changed to %v: %w", next.CreatedAt, ErrInvalid)
	case !next.State.Valid():
		return fmt.Errorf("unknown State %q: %w", next.State, ErrInvalid)
	case next.Attempts < 0:
		return fmt.Errorf("negative Attempts %d: %w", next.Attempts, ErrInvalid)
	case next.RemoteOffset < 0:
		return fmt.Errorf("negative RemoteOffset %d: %w", next.RemoteOffset, ErrInvalid)
	case next.NextTryAt.IsZero():
		return fmt.Errorf("zero NextTryAt: %w", ErrInvalid)
	}
	return nil
}

// RequeueRunningUploads puts every running job back to queued and returns how many there
// were. Call it when no uploader is working on the catalog's jobs — at engine start, or when
// the uploader that owned them has died — so that jobs interrupted by a crash are retried.
func (c *Catalog) RequeueRunningUploads(ctx context.Context) (int, error) {
	var n int64
	err := c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE upload_jobs SET state = 'queued', updated_at = ? WHERE state = 'running'`,
			micros(c.now()))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), wrap(err, "requeue running uploads")
}

// UploadJobs returns the jobs that match f, in id (enqueue) order.
func (c *Catalog) UploadJobs(ctx context.Context, f UploadFilter) ([]UploadJob, error) {
	query := uploadSelect + ` WHERE 1 = 1`
	var args []any
	if f.RecordingID != "" {
		query += ` AND s.recording_id = ?`
		args = append(args, f.RecordingID)
	}
	if f.Target != "" {
		query += ` AND j.target = ?`
		args = append(args, f.Target)
	}
	if len(f.States) > 0 {
		query += ` AND j.state IN (` + placeholders(len(f.States)) + `)`
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	query += ` ORDER BY j.id LIMIT ?`
	args = append(args, sqlLimit(f.Limit))

	var jobs []UploadJob
	err := c.read(func(db *sql.DB) (err error) {
		jobs, err = queryUploads(ctx, db, query, args...)
		return err
	})
	if err != nil {
		return nil, wrap(err, "list upload jobs")
	}
	return jobs, nil
}

// querier is what *sql.DB and *sql.Tx have in common for multi-row reads.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryUploads(ctx context.Context, q querier, query string, args ...any) ([]UploadJob, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jobs []UploadJob
	for rows.Next() {
		job, err := scanUpload(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, job)
	}
	return jobs, rows.Err()
}

func getUpload(ctx context.Context, q queryRower, id int64) (UploadJob, error) {
	return scanUpload(q.QueryRowContext(ctx, uploadSelect+` WHERE j.id = ?`, id))
}

func scanUpload(s scanner) (UploadJob, error) {
	var (
		j                         UploadJob
		state                     string
		nextTry, created, updated int64
		segCreated                int64
		segClosedAt, segRemovedAt sql.NullInt64
		segStartMS, segDurMS      int64
	)
	err := s.Scan(&j.ID, &j.Target, &state, &j.Attempts, &nextTry, &j.RemoteLocation,
		&j.RemoteOffset, &j.RemoteState, &j.LastError, &j.LastErrorKind, &created, &updated,
		&j.Segment.ID, &j.Segment.RecordingID, &j.Segment.Index, &j.Segment.Path,
		&j.Segment.Bytes, &j.Segment.SHA256, &j.Segment.Closed, &segCreated, &segClosedAt,
		&segRemovedAt, &segStartMS, &segDurMS)
	if err != nil {
		return UploadJob{}, err
	}
	j.Segment.Start, j.Segment.Duration = time.Duration(segStartMS)*time.Millisecond, time.Duration(segDurMS)*time.Millisecond
	j.State = UploadState(state)
	j.NextTryAt = fromMicros(sql.NullInt64{Int64: nextTry, Valid: true})
	j.CreatedAt = fromMicros(sql.NullInt64{Int64: created, Valid: true})
	j.UpdatedAt = fromMicros(sql.NullInt64{Int64: updated, Valid: true})
	j.Segment.CreatedAt = fromMicros(sql.NullInt64{Int64: segCreated, Valid: true})
	j.Segment.ClosedAt = fromMicros(segClosedAt)
	j.Segment.RemovedAt = fromMicros(segRemovedAt)
	return j, nil
}
