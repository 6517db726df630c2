package catalog

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FinishRecording writes the end of a recording and its upload jobs together: all of it
// (re-seals, spans, removals, state, jobs), or, when any part fails, nothing at all.
func TestFinishRecordingIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	dir := t.TempDir()
	mustCreate(t, c, "r")
	mustCreate(t, c, "other")
	segs := addSegments(t, c, dir, "r", 3, 1) // 1 closed, 2 open
	others := addSegments(t, c, dir, "other", 1, 1)

	// A failure half-way (here the recording's update) rolls back the seals and spans too.
	boom := errors.New("boom")
	_, _, err := c.FinishRecording(ctx, "r", Ending{
		Seals:         []SegmentSeal{{ID: segs[1].ID, Bytes: 42, SHA256: sum("x")}},
		Spans:         []SegmentSpan{{ID: segs[0].ID, Duration: time.Second}},
		Update:        func(r *Recording) error { r.State = "failed"; return boom },
		UploadTargets: []string{"rws"},
	})
	if !errors.Is(err, boom) {
		t.Fatalf("FinishRecording with a failing update = %v, want boom", err)
	}
	if r, _ := c.GetRecording(ctx, "r"); r.State != "starting" {
		t.Errorf("state after a rolled-back finish = %q", r.State)
	}
	if got, _ := c.Segments(ctx, "r"); got[1].Closed || got[0].Duration != 0 {
		t.Errorf("segments after a rolled-back finish: %+v", got)
	}
	if jobs, _ := c.UploadJobs(ctx, UploadFilter{}); len(jobs) != 0 {
		t.Errorf("jobs after a rolled-back finish: %+v", jobs)
	}
	// A segment of another recording is refused, and nothing is written.
	if _, _, err := c.FinishRecording(ctx, "r", Ending{Update: func(*Recording) error { return nil },
		Removed: []int64{others[0].ID}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("finish with another recording's segment = %v, want ErrInvalid", err)
	}

	rec, jobs, err := c.FinishRecording(ctx, "r", Ending{
		// The first segment was cut back after its close: the seal replaces its size and sum.
		Seals:   []SegmentSeal{{ID: segs[0].ID, Bytes: 50, SHA256: sum("cut")}, {ID: segs[1].ID, Bytes: 42, SHA256: sum("x")}},
		Spans:   []SegmentSpan{{ID: segs[0].ID, Duration: time.Second}, {ID: segs[1].ID, Start: time.Second, Duration: 2 * time.Second}},
		Removed: []int64{segs[2].ID},
		Update: func(r *Recording) error {
			r.State, r.Error = "failed", "the X server went away"
			return nil
		},
		UploadTargets: []string{"rws"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != "failed" || rec.Error != "the X server went away" {
		t.Errorf("recording = %+v", rec)
	}
	if len(jobs) != 2 || jobs[0].Segment.ID != segs[0].ID || jobs[1].Segment.ID != segs[1].ID || jobs[0].State != UploadQueued {
		t.Fatalf("jobs = %+v", jobs)
	}
	// A job carries its segment's span (the upload metadata's start and duration).
	if jobs[1].Segment.Start != time.Second || jobs[1].Segment.Duration != 2*time.Second {
		t.Errorf("job's segment span = %s+%s, want 1s+2s", jobs[1].Segment.Start, jobs[1].Segment.Duration)
	}
	got, _ := c.Segments(ctx, "r")
	if got[0].Bytes != 50 || got[0].SHA256 != sum("cut") || !got[1].Closed || got[1].Start != time.Second ||
		got[1].Duration != 2*time.Second || got[2].RemovedAt.IsZero() {
		t.Errorf("segments = %+v", got)
	}
	// Without a target nothing is queued.
	mustCreate(t, c, "quiet")
	addSegments(t, c, dir, "quiet", 1, 1)
	if _, jobs, err := c.FinishRecording(ctx, "quiet", Ending{Update: func(*Recording) error { return nil }}); err != nil || len(jobs) != 0 {
		t.Errorf("finish without a target = %+v, %v", jobs, err)
	}
}
