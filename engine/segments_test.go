package engine

import (
	"strconv"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/pipeline"
	"github.com/screenrec/recorder/internal/mediatest"
)

// Each segment file says what it is on its own: its own start (the recording's start plus the
// segment's offset), its 1-based index, and the recording's ids.
func TestSegmentFilesCarryTheirOwnStartIndexAndIDs(t *testing.T) {
	mediatest.SkipIfUnavailable(t)
	t.Parallel()
	e := scriptedEngine(t, Config{SegmentDuration: time.Second}, twoMonitors())
	s := start(t, e, StartRequest{Owner: "agent", Frontend: "oem"})
	eventually(t, 20*time.Second, "a third segment", func() bool {
		got, _ := e.Get(t.Context(), s.ID)
		return len(got.Segments) >= 3
	})
	got := stop(t, e, s.ID)
	if len(got.Segments) < 3 {
		t.Fatalf("segments = %+v, want at least 3", got.Segments)
	}
	const frame = 100 * time.Millisecond // the default 10 fps
	var first time.Time
	for i, sg := range got.Segments {
		if sg.Index != i+1 {
			t.Errorf("segment %d has index %d, want %d", i, sg.Index, i+1)
		}
		tags := probe(t, sg.Path).Format.Tags
		if tags["segment"] != strconv.Itoa(i+1) || tags["contact_id"] != strconv.FormatInt(s.ContactID, 10) ||
			tags["interaction_id"] != s.InteractionID || tags[pipeline.MetaRecordingID] != s.ID {
			t.Errorf("segment %d tags = %v, want segment %d, contact_id %d, interaction_id %s, recording_id %s",
				i+1, tags, i+1, s.ContactID, s.InteractionID, s.ID)
		}
		at, err := time.Parse(time.RFC3339Nano, tags[pipeline.MetaStartTime])
		if err != nil {
			t.Fatalf("segment %d start_time %q: %v", i+1, tags[pipeline.MetaStartTime], err)
		}
		if i == 0 {
			first = at
			if !near(at.Sub(got.StartedAt), 0, frame) {
				t.Errorf("first segment starts at %s, the recording at %s", at, got.StartedAt)
			}
			continue
		}
		if want := first.Add(time.Duration(i) * time.Second); !near(at.Sub(want), 0, frame) {
			t.Errorf("segment %d start_time = %s, want %s (the first's + %d × 1s, ± a frame)", i+1, at, want, i)
		}
	}
}
