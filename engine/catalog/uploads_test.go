package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// addSegments adds n segments to recording rec under dir and closes the first closed ones.
func addSegments(t *testing.T, c *Catalog, dir, rec string, n, closed int) []Segment {
	t.Helper()
	ctx := context.Background()
	var segs []Segment
	for i := range n {
		s, err := c.AddSegment(ctx, NewSegment{RecordingID: rec, Index: i + 1, Path: filepath.Join(dir, fmt.Sprintf("%s-%03d.mp4", rec, i+1))})
		if err != nil {
			t.Fatalf("AddSegment: %v", err)
		}
		if i < closed {
			if err := c.CloseSegment(ctx, s.ID, int64(100*(i+1)), sum(s.Path)); err != nil {
				t.Fatalf("CloseSegment: %v", err)
			}
		}
		segs = append(segs, s)
	}
	return segs
}

func TestSegments(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	dir := t.TempDir()
	mustCreate(t, c, "r")
	segs := addSegments(t, c, dir, "r", 3, 2)
	if segs[0].Closed || segs[0].CreatedAt.IsZero() || !segs[0].ClosedAt.IsZero() {
		t.Errorf("new segment: %+v", segs[0])
	}

	got, err := c.Segments(ctx, "r")
	if err != nil || len(got) != 3 {
		t.Fatalf("Segments = %v, %v", got, err)
	}
	if !got[0].Closed || got[0].Bytes != 100 || got[0].SHA256 != sum(segs[0].Path) || got[0].ClosedAt.IsZero() || got[2].Closed {
		t.Errorf("segments after close: %+v", got)
	}
	if one, err := c.GetSegment(ctx, segs[1].ID); err != nil || !reflect.DeepEqual(one, got[1]) {
		t.Errorf("GetSegment = %+v, %v", one, err)
	}

	// Close is idempotent with the same values and a conflict with others.
	if err := c.CloseSegment(ctx, segs[0].ID, 100, sum(segs[0].Path)); err != nil {
		t.Errorf("re-close same values: %v", err)
	}
	if err := c.CloseSegment(ctx, segs[0].ID, 101, sum(segs[0].Path)); !errors.Is(err, ErrConflict) {
		t.Errorf("re-close other size: %v, want ErrConflict", err)
	}
	for _, bad := range []string{"", "abc", sum("x")[:63] + "G", fmt.Sprintf("%X", sum("x"))} {
		if err := c.CloseSegment(ctx, segs[2].ID, 1, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CloseSegment(sha %q) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := c.CloseSegment(ctx, 9999, 1, sum("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("close unknown: %v, want ErrNotFound", err)
	}

	// Uniqueness and references.
	for name, tc := range map[string]struct {
		ns   NewSegment
		want error
	}{
		"same path":         {NewSegment{RecordingID: "r", Index: 10, Path: segs[0].Path}, ErrConflict},
		"same index":        {NewSegment{RecordingID: "r", Index: 1, Path: filepath.Join(dir, "other.mp4")}, ErrConflict},
		"unknown recording": {NewSegment{RecordingID: "nope", Index: 1, Path: filepath.Join(dir, "x.mp4")}, ErrNotFound},
		"relative path":     {NewSegment{RecordingID: "r", Index: 11, Path: "rel.mp4"}, ErrInvalid},
		"negative index":    {NewSegment{RecordingID: "r", Index: -1, Path: filepath.Join(dir, "n.mp4")}, ErrInvalid},
	} {
		if _, err := c.AddSegment(ctx, tc.ns); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := c.Segments(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Segments(unknown) = %v, want ErrNotFound", err)
	}
	mustCreate(t, c, "empty")
	if s, err := c.Segments(ctx, "empty"); err != nil || len(s) != 0 {
		t.Errorf("Segments(no segments) = %v, %v", s, err)
	}
}

func TestSpoolBytesAndRemoval(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	mustCreate(t, c, "r")
	segs := addSegments(t, c, t.TempDir(), "r", 3, 3) // 100 + 200 + 300
	if n, err := c.SpoolBytes(ctx); err != nil || n != 600 {
		t.Errorf("SpoolBytes = %d, %v; want 600", n, err)
	}
	if err := c.MarkSegmentRemoved(ctx, segs[1].ID); err != nil {
		t.Fatal(err)
	}
	first, _ := c.GetSegment(ctx, segs[1].ID)
	if err := c.MarkSegmentRemoved(ctx, segs[1].ID); err != nil {
		t.Errorf("second MarkSegmentRemoved: %v", err)
	}
	again, _ := c.GetSegment(ctx, segs[1].ID)
	if first.RemovedAt.IsZero() || !again.RemovedAt.Equal(first.RemovedAt) {
		t.Errorf("RemovedAt %v then %v; want set once", first.RemovedAt, again.RemovedAt)
	}
	if n, _ := c.SpoolBytes(ctx); n != 400 {
		t.Errorf("SpoolBytes after removal = %d, want 400", n)
	}
	// Removed segments get no upload job.
	jobs, err := c.EnqueueUploads(ctx, "r", "rws")
	if err != nil || len(jobs) != 2 || jobs[0].Segment.ID != segs[0].ID || jobs[1].Segment.ID != segs[2].ID {
		t.Errorf("EnqueueUploads with a removed segment = %+v, %v", jobs, err)
	}
	if err := c.MarkSegmentRemoved(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove unknown: %v, want ErrNotFound", err)
	}
	// Deleting the recording cascades to segments and jobs.
	if err := c.DeleteRecording(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.SpoolBytes(ctx); n != 0 {
		t.Errorf("SpoolBytes after delete = %d", n)
	}
	if jobs, err := c.UploadJobs(ctx, UploadFilter{}); err != nil || len(jobs) != 0 {
		t.Errorf("jobs after delete = %v, %v", jobs, err)
	}
}

func TestEnqueueUploadsOnlyClosedAndIdempotent(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	mustCreate(t, c, "r")
	segs := addSegments(t, c, t.TempDir(), "r", 3, 2)

	jobs, err := c.EnqueueUploads(ctx, "r", "rws")
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Segment.ID != segs[0].ID || jobs[1].Segment.ID != segs[1].ID {
		t.Fatalf("jobs = %+v, want one per closed segment", jobs)
	}
	j := jobs[0]
	if j.State != UploadQueued || j.Attempts != 0 || j.Target != "rws" || j.NextTryAt.IsZero() ||
		j.Segment.Path != segs[0].Path || j.Segment.Bytes != 100 || j.Segment.RecordingID != "r" {
		t.Errorf("new job: %+v", j)
	}

	again, err := c.EnqueueUploads(ctx, "r", "rws")
	if err != nil || !reflect.DeepEqual(again, jobs) {
		t.Errorf("second EnqueueUploads = %+v, %v; want the same jobs", again, err)
	}

	// A segment closed later gets its job on the next call; the old ones stay.
	if err := c.CloseSegment(ctx, segs[2].ID, 300, sum("3")); err != nil {
		t.Fatal(err)
	}
	third, err := c.EnqueueUploads(ctx, "r", "rws")
	if err != nil || len(third) != 3 || !reflect.DeepEqual(third[:2], jobs) {
		t.Errorf("after closing another: %+v, %v", third, err)
	}
	// Another target is a separate set of jobs.
	if other, err := c.EnqueueUploads(ctx, "r", "peer"); err != nil || len(other) != 3 || other[0].ID == jobs[0].ID {
		t.Errorf("other target: %+v, %v", other, err)
	}
	if all, _ := c.UploadJobs(ctx, UploadFilter{RecordingID: "r"}); len(all) != 6 {
		t.Errorf("%d jobs in total, want 6", len(all))
	}
	if _, err := c.EnqueueUploads(ctx, "nope", "rws"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown recording: %v, want ErrNotFound", err)
	}
	if _, err := c.EnqueueUploads(ctx, "r", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty target: %v, want ErrInvalid", err)
	}
}

func TestDueUploadsOrderAndFilter(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	mustCreate(t, c, "r")
	addSegments(t, c, t.TempDir(), "r", 5, 5)
	jobs, err := c.EnqueueUploads(ctx, "r", "rws")
	if err != nil || len(jobs) != 5 {
		t.Fatal(jobs, err)
	}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// Due times out of id order; job 3 is running, job 4 is due only later.
	set := func(i int, at time.Duration, state UploadState) {
		t.Helper()
		if _, err := c.UpdateUpload(ctx, jobs[i].ID, func(j *UploadJob) error {
			j.NextTryAt = base.Add(at)
			j.State = state
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	set(0, 3*time.Minute, UploadQueued)
	set(1, 1*time.Minute, UploadQueued)
	set(2, 1*time.Minute, UploadQueued) // same time as 1: id breaks the tie
	set(3, 0, UploadRunning)
	set(4, 10*time.Minute, UploadQueued)

	ids := func(js []UploadJob) []int64 {
		var out []int64
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}
	now := base.Add(5 * time.Minute)
	due, err := c.DueUploads(ctx, now, 0)
	if want := []int64{jobs[1].ID, jobs[2].ID, jobs[0].ID}; err != nil || !reflect.DeepEqual(ids(due), want) {
		t.Errorf("DueUploads = %v, %v; want %v", ids(due), err, want)
	}
	if due, _ := c.DueUploads(ctx, now, 2); len(due) != 2 || due[0].ID != jobs[1].ID {
		t.Errorf("DueUploads limit 2 = %v", ids(due))
	}
	// Boundary: a job due exactly now is due.
	if due, _ := c.DueUploads(ctx, base.Add(time.Minute), 0); len(due) != 2 {
		t.Errorf("DueUploads at the boundary = %v, want 2 jobs", ids(due))
	}
	if due, _ := c.DueUploads(ctx, base, 0); len(due) != 0 {
		t.Errorf("DueUploads before any = %v", ids(due))
	}
	// A crash leaves job 3 running; requeueing makes it due again.
	if n, err := c.RequeueRunningUploads(ctx); err != nil || n != 1 {
		t.Errorf("RequeueRunningUploads = %d, %v; want 1", n, err)
	}
	if due, _ := c.DueUploads(ctx, now, 0); len(due) != 4 || due[0].ID != jobs[3].ID {
		t.Errorf("after requeue = %v", ids(due))
	}
	// Filters of UploadJobs.
	set(0, 0, UploadUploaded)
	if js, _ := c.UploadJobs(ctx, UploadFilter{States: []UploadState{UploadUploaded, UploadFailed}}); len(js) != 1 || js[0].ID != jobs[0].ID {
		t.Errorf("UploadJobs(uploaded|failed) = %v", ids(js))
	}
	if js, _ := c.UploadJobs(ctx, UploadFilter{Target: "other"}); len(js) != 0 {
		t.Errorf("UploadJobs(other target) = %v", ids(js))
	}
	if js, _ := c.UploadJobs(ctx, UploadFilter{Target: "rws", Limit: 3}); len(js) != 3 || js[0].ID != jobs[0].ID {
		t.Errorf("UploadJobs(limit 3) = %v", ids(js))
	}
}

func TestUpdateUploadRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	mustCreate(t, c, "r")
	addSegments(t, c, t.TempDir(), "r", 1, 1)
	jobs, err := c.EnqueueUploads(ctx, "r", "rws")
	if err != nil {
		t.Fatal(err)
	}
	id := jobs[0].ID
	next := time.Date(2031, 2, 3, 4, 5, 6, 789_000, time.UTC)
	updated, err := c.UpdateUpload(ctx, id, func(j *UploadJob) error {
		j.State = UploadFailed
		j.Attempts = 3
		j.NextTryAt = next
		j.RemoteLocation = "https://rws.example/files/abc123"
		j.RemoteOffset = 4096
		j.LastError = "503 Service Unavailable"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetUpload(ctx, id)
	if err != nil || !reflect.DeepEqual(got, updated) {
		t.Errorf("GetUpload = %+v, %v; want %+v", got, err, updated)
	}
	if got.State != UploadFailed || got.Attempts != 3 || !got.NextTryAt.Equal(next) ||
		got.RemoteLocation != "https://rws.example/files/abc123" || got.RemoteOffset != 4096 ||
		got.LastError != "503 Service Unavailable" || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("round trip: %+v", got)
	}

	errBoom := errors.New("boom")
	if _, err := c.UpdateUpload(ctx, id, func(j *UploadJob) error { j.Attempts = 99; return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("callback error = %v", err)
	}
	for name, fn := range map[string]func(*UploadJob){
		"ID":        func(j *UploadJob) { j.ID++ },
		"Segment":   func(j *UploadJob) { j.Segment.Path = "/elsewhere" },
		"Target":    func(j *UploadJob) { j.Target = "x" },
		"CreatedAt": func(j *UploadJob) { j.CreatedAt = time.Time{} },
		"State":     func(j *UploadJob) { j.State = "done" },
		"Attempts":  func(j *UploadJob) { j.Attempts = -1 },
		"Offset":    func(j *UploadJob) { j.RemoteOffset = -1 },
		"NextTryAt": func(j *UploadJob) { j.NextTryAt = time.Time{} },
	} {
		_, err := c.UpdateUpload(ctx, id, func(j *UploadJob) error { j.Attempts = 50; fn(j); return nil })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("changing %s: %v, want ErrInvalid", name, err)
		}
	}
	if after, _ := c.GetUpload(ctx, id); !reflect.DeepEqual(after, got) {
		t.Errorf("job changed by failed updates: %+v", after)
	}
	if _, err := c.UpdateUpload(ctx, 9999, func(*UploadJob) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown job: %v, want ErrNotFound", err)
	}
}
