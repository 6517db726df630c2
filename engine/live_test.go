package engine

import (
	"os"
	"testing"
	"time"
)

// A running session reports what its open segment and its tracks hold so far, and an ended
// one keeps each track's frame count in the catalog.
func TestLiveSegmentBytesAndTrackFrames(t *testing.T) {
	t.Parallel()
	e := scriptedEngine(t, Config{}, twoMonitors())
	s := start(t, e, StartRequest{Owner: "agent", Frontend: "oem", Source: Source{Layout: "tracks"}})
	var live Session
	eventually(t, 10*time.Second, "live figures", func() bool {
		live, _ = e.Get(t.Context(), s.ID)
		return len(live.Segments) == 1 && live.Segments[0].Bytes > 0 && len(live.Tracks) == 2 &&
			live.Tracks[0].Frames > 0 && live.Tracks[1].Frames > 0
	})
	if live.State != StateRecording || live.Segments[0].Closed {
		t.Fatalf("live session = %+v, want recording with its segment open", live)
	}
	if fi, err := os.Stat(live.Segments[0].Path); err != nil || fi.Size() == 0 {
		t.Errorf("open segment file: %v", err)
	}
	if live.Tracks[0].Name != "LEFT" || live.Tracks[1].Name != "RIGHT" || live.Tracks[0].Width != 160 {
		t.Errorf("tracks = %+v, want LEFT and RIGHT, 160 wide", live.Tracks)
	}
	got := stop(t, e, s.ID)
	if len(got.Tracks) != 2 {
		t.Fatalf("ended session's tracks = %+v, want 2", got.Tracks)
	}
	for i, tr := range got.Tracks {
		if tr.Frames < live.Tracks[i].Frames {
			t.Errorf("track %d: %d frames at the end, %d while it recorded", i, tr.Frames, live.Tracks[i].Frames)
		}
	}
	if got.Segments[0].Bytes < live.Segments[0].Bytes {
		t.Errorf("segment: %d bytes at the end, %d while open", got.Segments[0].Bytes, live.Segments[0].Bytes)
	}
}
