package catalog

import (
	"context"
	"errors"
	"testing"
)

// The backlog counts queued and running jobs and the bytes their targets have yet to
// confirm; finished jobs are not in it.
func TestUploadBacklog(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	got, err := c.UploadBacklog(ctx)
	if err != nil || len(got) != 2 || got[UploadQueued] != (Backlog{}) || got[UploadRunning] != (Backlog{}) {
		t.Fatalf("empty backlog = %v, %v", got, err)
	}
	mustCreate(t, c, "r")
	addSegments(t, c, t.TempDir(), "r", 4, 4) // 100, 200, 300, 400 bytes
	jobs, err := c.EnqueueUploads(ctx, "r", "default")
	if err != nil || len(jobs) != 4 {
		t.Fatalf("EnqueueUploads = %v, %v", jobs, err)
	}
	set := func(id int64, state UploadState, offset int64) {
		t.Helper()
		if _, err := c.UpdateUpload(ctx, id, func(u *UploadJob) error {
			u.State, u.RemoteOffset = state, offset
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	set(jobs[1].ID, UploadRunning, 50)   // 150 left
	set(jobs[2].ID, UploadRunning, 0)    // 300 left
	set(jobs[3].ID, UploadRunning, 400)  // confirmed whole, not yet marked: 0 left
	set(jobs[3].ID, UploadUploaded, 400) // done: not in the backlog
	got, err = c.UploadBacklog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got[UploadQueued] != (Backlog{Jobs: 1, Bytes: 100}) || got[UploadRunning] != (Backlog{Jobs: 2, Bytes: 450}) {
		t.Errorf("backlog = %+v", got)
	}
	c.Close()
	if _, err := c.UploadBacklog(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
