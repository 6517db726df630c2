package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Ending is how a recording ended: everything FinishRecording writes in one transaction.
type Ending struct {
	// Update sets the recording's final fields (its terminal state, error, end, duration…),
	// as the callback of UpdateRecording does and with the same rules. Required.
	Update func(*Recording) error
	// Seals are the final size and checksum of segment files, including files cut back to
	// their last complete fragment after the segment was first closed: unlike CloseSegment,
	// a seal replaces what an earlier close recorded.
	Seals []SegmentSeal
	// Spans place segments in the recording.
	Spans []SegmentSpan
	// Removed are segments whose files held nothing playable and were deleted.
	Removed []int64
	// UploadTargets queues an upload job per target for every closed segment still on disk,
	// as EnqueueUploads does for each.
	UploadTargets []string
}

// SegmentSeal is the final size and SHA-256 (64 lower-case hex digits) of a segment's file.
type SegmentSeal struct {
	ID     int64
	Bytes  int64
	SHA256 string
}

// SegmentSpan is where a segment starts in its recording and how long it lasts.
type SegmentSpan struct {
	ID              int64
	Start, Duration time.Duration
}

// FinishRecording records how recording id ended — its segments' seals and spans, the
// recording's final fields and its upload jobs — in one transaction: a crash leaves either
// the recording as it was (unfinished, so that recovery finalises it) or all of it, never a
// finished recording without its upload jobs. It returns the recording as stored and its jobs
// for e.UploadTargets, target by target (none when that is empty). An unknown recording or segment is
// ErrNotFound; a segment of another recording is ErrInvalid.
func (c *Catalog) FinishRecording(ctx context.Context, id string, e Ending) (Recording, []UploadJob, error) {
	if e.Update == nil {
		return Recording{}, nil, fmt.Errorf("catalog: finish recording %q: no Update: %w", id, ErrInvalid)
	}
	for _, s := range e.Seals {
		if s.Bytes < 0 || !validSHA256(s.SHA256) {
			return Recording{}, nil, fmt.Errorf("catalog: finish recording %q: segment %d: size %d, sha256 %q: %w",
				id, s.ID, s.Bytes, s.SHA256, ErrInvalid)
		}
	}
	for _, s := range e.Spans {
		if s.Start < 0 || s.Duration < 0 {
			return Recording{}, nil, fmt.Errorf("catalog: finish recording %q: segment %d: negative start %s or duration %s: %w",
				id, s.ID, s.Start, s.Duration, ErrInvalid)
		}
	}
	var (
		rec  Recording
		jobs []UploadJob
	)
	err := c.write(ctx, func(tx *sql.Tx) error {
		own := func(seg int64) error {
			var of string
			if err := tx.QueryRowContext(ctx, `SELECT recording_id FROM segments WHERE id = ?`, seg).Scan(&of); err != nil {
				return fmt.Errorf("segment %d: %w", seg, err)
			}
			if of != id {
				return fmt.Errorf("segment %d belongs to recording %q: %w", seg, of, ErrInvalid)
			}
			return nil
		}
		for _, s := range e.Seals {
			if err := own(s.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx,
				`UPDATE segments SET bytes = ?, sha256 = ?, closed = 1, closed_at = coalesce(closed_at, ?) WHERE id = ?`,
				s.Bytes, s.SHA256, micros(c.now()), s.ID); err != nil {
				return err
			}
		}
		for _, s := range e.Spans {
			if err := own(s.ID); err != nil {
				return err
			}
			if err := setSegmentSpan(ctx, tx, s.ID, s.Start, s.Duration); err != nil {
				return err
			}
		}
		for _, seg := range e.Removed {
			if err := own(seg); err != nil {
				return err
			}
			if err := c.markSegmentRemoved(ctx, tx, seg); err != nil {
				return err
			}
		}
		var err error
		if rec, err = updateRecording(ctx, tx, id, e.Update); err != nil {
			return err
		}
		for _, target := range e.UploadTargets {
			if target == "" {
				return fmt.Errorf("empty upload target: %w", ErrInvalid)
			}
			js, err := c.enqueueUploads(ctx, tx, id, target)
			if err != nil {
				return err
			}
			jobs = append(jobs, js...)
		}
		return nil
	})
	if err != nil {
		return Recording{}, nil, wrap(err, "finish recording %q", id)
	}
	return rec, jobs, nil
}
