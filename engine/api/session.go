package api

import (
	"image"
	"strconv"
	"time"
)

// Source says what a session records.
type Source struct {
	// Display is the X display (empty: $DISPLAY of the engine's process).
	Display string `json:"display,omitempty"`
	// Monitors selects monitors (empty: all).
	Monitors Selection `json:"monitors"`
	// Layout is canvas (default) or tracks.
	Layout Layout `json:"layout,omitempty"`
	// Region, when not empty, records this root-window area instead of monitors.
	Region image.Rectangle `json:"region,omitzero"`
}

// Limits bound a session.
type Limits struct {
	// MaxDuration stops the session this long after it started (0: the engine's cap, if any).
	MaxDuration time.Duration `json:"max_duration,omitempty"`
}

// StartRequest asks for a recording.
type StartRequest struct {
	// Owner is whose screen it is (the agent's user id). Required.
	Owner string `json:"owner"`
	// Frontend names what asked for it ("srs", "cloud", "cli", …). Required. An owner has at
	// most one running session per front end.
	Frontend string `json:"frontend"`
	// Reason is free text saying why.
	Reason string `json:"reason,omitempty"`
	// Source is what to record.
	Source Source `json:"source"`
	// Limits bound the session.
	Limits Limits `json:"limits"`
	// Labels are free key/values kept with the recording (contact id of the telephony
	// system, place, …) and written into its files as label_<key> tags. LabelContactID is
	// the one the engine reads.
	Labels map[string]string `json:"labels,omitempty"`
}

// LabelContactID is the label of a contact id allocated outside the engine, by a fleet
// controller for the whole fleet: a positive integer. The world outside the machine knows
// the recording by it, so the uploads' contactId and the files' contact_id tag carry it; the
// engine's catalog keeps its own contact id (unique on the machine), in the files as
// local_contact_id. A request whose label is not a positive integer is ErrInvalidRequest.
const LabelContactID = "fleet_contact_id"

// ContactIDOf returns the contact id the world outside the machine knows a recording by:
// its LabelContactID when it has one, else the engine's own.
func ContactIDOf(own int64, labels map[string]string) int64 {
	if v, ok := labels[LabelContactID]; ok {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			return id
		}
	}
	return own
}

// Interval is a span of a recording, as offsets from its start.
type Interval struct {
	Start time.Duration `json:"start"`
	// End is zero while the interval is still open.
	End time.Duration `json:"end"`
}

// SegmentInfo describes one file of a recording.
type SegmentInfo struct {
	// Index is the segment's position in its recording, counted from 1 (as everywhere: the
	// catalog, events, upload jobs and the files' "segment" tag).
	Index int    `json:"index"`
	Path  string `json:"path"`
	// Bytes is the file's size: so far while the segment is open, final once Closed.
	Bytes int64 `json:"bytes"`
	// SHA256 is the hex SHA-256 of the closed file.
	SHA256 string `json:"sha256,omitempty"`
	Closed bool   `json:"closed"`
}

// Track is one video track of a recording: the whole canvas, one monitor or a region.
type Track struct {
	// Name is the track's name (monitor name, "canvas" or "region").
	Name string `json:"name"`
	// Width and Height are the encoded size.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Monitors is how many monitors the track shows.
	Monitors int `json:"monitors"`
	// Frames is how many frames were written: so far while the session runs, the total once
	// it ended.
	Frames int64 `json:"frames"`
}

// Session is a snapshot of a recording session.
type Session struct {
	ID            string `json:"id"`
	ContactID     int64  `json:"contact_id"`
	InteractionID string `json:"interaction_id"`
	Owner         string `json:"owner"`
	Frontend      string `json:"frontend"`
	Reason        string `json:"reason,omitempty"`
	State         State  `json:"state"`
	// Error is why a failed session failed.
	Error  string            `json:"error,omitempty"`
	Source Source            `json:"source"`
	Labels map[string]string `json:"labels,omitempty"`
	// Encoder is the encoder in use (or used).
	Encoder   string    `json:"encoder,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Duration is how long has been recorded.
	Duration time.Duration `json:"duration"`
	// Masked is how much of it was masked, and MaskedIntervals when.
	Masked          time.Duration `json:"masked"`
	MaskedIntervals []Interval    `json:"masked_intervals,omitempty"`
	Segments        []SegmentInfo `json:"segments,omitempty"`
	// Tracks are the recording's video tracks, with their frame counts (empty until it
	// records).
	Tracks []Track `json:"tracks,omitempty"`
	// Interrupted is true for a recording finalised after a crash.
	Interrupted bool `json:"interrupted,omitempty"`
}

// MaskTarget says whose recordings Mask applies to: an owner's, a display's, or both.
type MaskTarget struct {
	Owner   string `json:"owner,omitempty"`
	Display string `json:"display,omitempty"`
}

// ListFilter selects sessions for List; zero fields do not filter.
type ListFilter struct {
	Owner  string
	States []State
	Limit  int
}
