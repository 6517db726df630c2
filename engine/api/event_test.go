package api

import "testing"

func TestEventsKindNames(t *testing.T) {
	want := map[EventKind]string{
		EventStateChanged:       "state_changed",
		EventSegmentClosed:      "segment_closed",
		EventRecordingCompleted: "recording_completed",
		EventRecordingFailed:    "recording_failed",
		EventWarning:            "warning",
		EventPipelineOpened:     "pipeline_opened",
		EventPipelineClosed:     "pipeline_closed",
	}
	for k, name := range want {
		if k.String() != name {
			t.Errorf("EventKind(%d).String() = %q, want %q", uint8(k), k.String(), name)
		}
		b, err := k.MarshalText()
		if err != nil || string(b) != name {
			t.Errorf("MarshalText(%s) = %q, %v", name, b, err)
		}
		var back EventKind
		if err := back.UnmarshalText([]byte(name)); err != nil || back != k {
			t.Errorf("UnmarshalText(%q) = %v, %v", name, back, err)
		}
	}
	if len(want) != int(numEventKinds)-1 {
		t.Errorf("test covers %d kinds, package has %d", len(want), numEventKinds-1)
	}
	if _, err := EventKind(0).MarshalText(); err == nil {
		t.Error("the zero kind marshalled")
	}
	var k EventKind
	for _, bad := range []string{"", "EventWarning", "Warning", "state-changed"} {
		if err := k.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}
