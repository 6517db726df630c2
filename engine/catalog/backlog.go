package catalog

import (
	"context"
	"database/sql"
)

// Backlog is how much of the upload queue is still to go, for one job state.
type Backlog struct {
	// Jobs counts the jobs.
	Jobs int64
	// Bytes is what they have left to send: each segment's size minus what its target has
	// confirmed.
	Bytes int64
}

// UploadBacklog returns the backlog of the jobs still to upload, queued and running, by
// state; both states are always present. It is one aggregate query, cheap enough for every
// metrics scrape.
func (c *Catalog) UploadBacklog(ctx context.Context) (map[UploadState]Backlog, error) {
	out := map[UploadState]Backlog{UploadQueued: {}, UploadRunning: {}}
	err := c.read(func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, `
SELECT j.state, COUNT(*), COALESCE(SUM(MAX(s.bytes - j.remote_offset, 0)), 0)
FROM upload_jobs j JOIN segments s ON s.id = j.segment_id
WHERE j.state IN ('queued', 'running') GROUP BY j.state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			var b Backlog
			if err := rows.Scan(&state, &b.Jobs, &b.Bytes); err != nil {
				return err
			}
			out[UploadState(state)] = b
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap(err, "upload backlog")
	}
	return out, nil
}
