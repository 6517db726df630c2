package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventKind says what an Event reports. Kinds marshal to and from their names
// ("state_changed", …). The zero EventKind is not a kind: an Event must set one.
type EventKind uint8

// The kinds of Event.
const (
	// EventStateChanged: a session moved From one state To another (Reason set when To is failed).
	EventStateChanged EventKind = iota + 1
	// EventSegmentClosed: a segment file was sealed; Segment describes it.
	EventSegmentClosed
	// EventRecordingCompleted: a session's recording is complete.
	EventRecordingCompleted
	// EventRecordingFailed: a session failed; Reason says why.
	EventRecordingFailed
	// EventWarning: something the user should know that did not stop the session; Reason is the text.
	EventWarning
	// EventPipelineOpened: a capture/encode pipeline was opened; Pipeline is its key, Encoder the
	// encoder chosen.
	EventPipelineOpened
	// EventPipelineClosed: a pipeline was closed; Pipeline is its key.
	EventPipelineClosed

	numEventKinds = iota + 1
)

var eventKindNames = [numEventKinds]string{
	EventStateChanged:       "state_changed",
	EventSegmentClosed:      "segment_closed",
	EventRecordingCompleted: "recording_completed",
	EventRecordingFailed:    "recording_failed",
	EventWarning:            "warning",
	EventPipelineOpened:     "pipeline_opened",
	EventPipelineClosed:     "pipeline_closed",
}

func (k EventKind) valid() bool { return k > 0 && k < numEventKinds }

// String returns the kind's name ("state_changed", …), or "EventKind(n)" for an unknown value.
func (k EventKind) String() string {
	if k.valid() {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// MarshalText encodes the kind as its name; unknown values (including zero) are an error.
func (k EventKind) MarshalText() ([]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("cannot marshal unknown event kind %d", uint8(k))
	}
	return []byte(eventKindNames[k]), nil
}

// UnmarshalText decodes a kind name written by MarshalText.
func (k *EventKind) UnmarshalText(text []byte) error {
	for i, n := range eventKindNames {
		if i > 0 && n == string(text) {
			*k = EventKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown event kind %q", text)
}

// Event is one thing that happened in the engine, as delivered to subscribers.
//
// From and To are meaningful only for EventStateChanged. Because the zero State is idle,
// omitempty could not tell "unset" from idle, so the JSON form (see MarshalJSON) carries "from"
// and "to" exactly when Kind is EventStateChanged, and always then.
type Event struct {
	Kind      EventKind     `json:"kind"`
	Time      time.Time     `json:"time"`                 // set by the hub when left zero
	SessionID string        `json:"session_id,omitempty"` // empty for engine-wide events
	From      State         `json:"from"`                 // state changes only
	To        State         `json:"to"`                   // state changes only
	Reason    string        `json:"reason,omitempty"`     // failure reason or warning text
	Segment   *SegmentEvent `json:"segment,omitempty"`    // segment events only
	Pipeline  string        `json:"pipeline,omitempty"`   // pipeline key, for pipeline events
	Encoder   string        `json:"encoder,omitempty"`    // encoder name, for pipeline events
	// Dropped is how many events this subscriber lost just before this one because it fell
	// behind (its queue was full and the oldest events went). Set by the hub, not publishers.
	Dropped int `json:"dropped,omitempty"`
}

// SegmentEvent describes a sealed segment file.
type SegmentEvent struct {
	Index  int    `json:"index"`  // position of the segment in its recording, from 1 (as SegmentInfo.Index)
	Path   string `json:"path"`   // absolute path of the file
	Bytes  int64  `json:"bytes"`  // size of the file
	SHA256 string `json:"sha256"` // hex SHA-256 of the file
}

// MarshalJSON encodes the event with its struct tags, leaving out "from" and "to" unless Kind
// is EventStateChanged. Decoding needs no counterpart: absent fields decode as idle.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event // same fields, no MarshalJSON method
	if e.Kind == EventStateChanged {
		return json.Marshal(plain(e))
	}
	// Shallower fields win over the embedded ones of the same JSON name; nil pointers are
	// omitted.
	return json.Marshal(struct {
		plain
		From *State `json:"from,omitempty"`
		To   *State `json:"to,omitempty"`
	}{plain: plain(e)})
}
