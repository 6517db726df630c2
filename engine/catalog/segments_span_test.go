package catalog

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestSegmentSpan(t *testing.T) {
	c, _ := openTest(t)
	ctx := context.Background()
	if _, err := c.CreateRecording(ctx, NewRecording{ID: "r", Owner: "o"}); err != nil {
		t.Fatal(err)
	}
	seg, err := c.AddSegment(ctx, NewSegment{RecordingID: "r", Index: 2, Path: filepath.Join(t.TempDir(), "s.mp4")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetSegmentSpan(ctx, seg.ID, 10*time.Minute, 95500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSegment(ctx, seg.ID)
	if err != nil || got.Start != 10*time.Minute || got.Duration != 95500*time.Millisecond {
		t.Errorf("span = %s + %s, %v", got.Start, got.Duration, err)
	}
	if err := c.SetSegmentSpan(ctx, 999, 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown segment: %v", err)
	}
	if err := c.SetSegmentSpan(ctx, seg.ID, -1, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative start: %v", err)
	}
}
