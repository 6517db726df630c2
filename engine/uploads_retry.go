package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/screenrec/recorder/engine/catalog"
)

// RetryUpload puts an upload job that failed for good back in the queue, due now, with its
// attempts counted from zero again (its last error is kept until the next try replaces it),
// and wakes RunUploads. It is for an operator who fixed what made the job fail (a token, a
// full bucket). Errors: ErrNotFound (no such job), ErrIllegalTransition (the job has not
// failed), ErrClosed.
func (e *Engine) RetryUpload(ctx context.Context, jobID int64) (UploadJob, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return UploadJob{}, ErrClosed
	}
	job, err := e.cat.UpdateUpload(ctx, jobID, func(u *catalog.UploadJob) error {
		if u.State != catalog.UploadFailed {
			return fmt.Errorf("%w: upload job %d is %s, only a failed job is retried", ErrIllegalTransition, jobID, u.State)
		}
		u.State, u.Attempts, u.NextTryAt = catalog.UploadQueued, 0, time.Now()
		return nil
	})
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return UploadJob{}, fmt.Errorf("%w: upload job %d", ErrNotFound, jobID)
	case errors.Is(err, ErrIllegalTransition):
		return UploadJob{}, err
	case err != nil:
		return UploadJob{}, fmt.Errorf("engine: %w", err)
	}
	e.log.InfoContext(ctx, "upload requeued", "job", jobID, "segment", job.Segment.Path, "target", job.Target)
	e.wakeUploads()
	jobs, err := e.Uploads(ctx, UploadFilter{RecordingID: job.Segment.RecordingID})
	if err != nil {
		return UploadJob{}, err
	}
	for _, j := range jobs {
		if j.ID == jobID {
			return j, nil
		}
	}
	return UploadJob{}, fmt.Errorf("%w: upload job %d", ErrNotFound, jobID)
}
