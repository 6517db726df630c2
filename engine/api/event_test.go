package api

import (
	"encoding/json"
	"testing"
)

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

func TestSelectionJSON(t *testing.T) {
	for _, c := range []struct {
		sel  Selection
		json string
	}{{Selection{}, `"all"`}, {Selection{Indexes: []int{0, 2}}, `"0,2"`}} {
		b, err := json.Marshal(c.sel)
		if err != nil || string(b) != c.json {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", c.sel, b, err, c.json)
		}
		var back Selection
		if err := json.Unmarshal(b, &back); err != nil || back.String() != c.sel.String() {
			t.Errorf("Unmarshal(%s) = %+v, %v", b, back, err)
		}
	}
	var bad Selection
	if err := json.Unmarshal([]byte(`"0,x"`), &bad); err == nil {
		t.Error("a bad selection unmarshalled")
	}
	b, _ := json.Marshal(Source{Display: ":1"})
	if string(b) != `{"display":":1","monitors":"all"}` {
		t.Errorf("Source JSON = %s", b)
	}
}
