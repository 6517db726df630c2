package admin

import (
	"fmt"
	"time"

	"github.com/screenrec/recorder/engine/api"
)

// The API's JSON bodies (openapi.yaml's components). They are this API's own types, not the
// engine's, so that the published contract changes only when this package says so; durations
// are whole milliseconds.

// Session is a recording session, running or ended.
type Session struct {
	ID            string `json:"id"`
	ContactID     int64  `json:"contact_id"`
	InteractionID string `json:"interaction_id"`
	Owner         string `json:"owner"`
	Frontend      string `json:"frontend"`
	Reason        string `json:"reason,omitempty"`
	// State is the session's state: idle, starting, recording, masked, stopping,
	// finalizing, completed or failed.
	State string `json:"state"`
	// Error is why a failed session failed.
	Error       string            `json:"error,omitempty"`
	Source      Source            `json:"source"`
	Labels      map[string]string `json:"labels,omitempty"`
	Encoder     string            `json:"encoder,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	StartedAt   time.Time         `json:"started_at,omitzero"`
	EndedAt     time.Time         `json:"ended_at,omitzero"`
	DurationMS  int64             `json:"duration_ms"`
	MaskedMS    int64             `json:"masked_ms"`
	Masks       []Interval        `json:"masked_intervals,omitempty"`
	Segments    []Segment         `json:"segments,omitempty"`
	Tracks      []Track           `json:"tracks,omitempty"`
	Interrupted bool              `json:"interrupted,omitempty"`
}

// Source is what a session records.
type Source struct {
	Display string `json:"display,omitempty"`
	// Monitors is "all" or monitor indexes such as "0,2".
	Monitors string `json:"monitors"`
	Layout   string `json:"layout,omitempty"`
	// Region is a root-window area "WxH+X+Y" recorded instead of monitors.
	Region string `json:"region,omitempty"`
}

// Interval is a span of a recording, as offsets from its start; EndMS is 0 while it is open.
type Interval struct {
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

// Segment is one file of a recording.
type Segment struct {
	Index  int    `json:"index"`
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256,omitempty"`
	Closed bool   `json:"closed"`
}

// Track is one video track of a recording (a monitor, the canvas of all, or a region).
type Track struct {
	Name     string `json:"name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Monitors int    `json:"monitors"`
	Frames   int64  `json:"frames"`
}

// Upload is the upload of one segment to one target.
type Upload struct {
	ID           int64     `json:"id"`
	RecordingID  string    `json:"recording_id"`
	SegmentIndex int       `json:"segment_index"`
	SegmentPath  string    `json:"segment_path"`
	Target       string    `json:"target"`
	State        string    `json:"state"`
	Attempts     int       `json:"attempts"`
	Bytes        int64     `json:"bytes"`
	Offset       int64     `json:"offset"`
	NextTryAt    time.Time `json:"next_try_at,omitzero"`
	Location     string    `json:"location,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	// LastErrorKind classifies LastError (api.FailureKind).
	LastErrorKind string    `json:"last_error_kind,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Sessions, Recordings and Uploads are the list answers; an empty list is [], never null.
type (
	Sessions struct {
		Sessions []Session `json:"sessions"`
	}
	Recordings struct {
		Recordings []Session `json:"recordings"`
	}
	Uploads struct {
		Uploads []Upload `json:"uploads"`
	}
)

// MaskRequest is the body of POST /api/v1/mask: whose recordings to mask (owner, display or
// both) and whether to mask (true) or unmask (false) them.
type MaskRequest struct {
	Owner   string `json:"owner,omitempty"`
	Display string `json:"display,omitempty"`
	On      *bool  `json:"on"`
}

// Health is the answer of /healthz.
type Health struct {
	Status string `json:"status"`
}

// Readiness is the answer of /readyz: "ready" when every check passed, else "not_ready".
type Readiness struct {
	Status string  `json:"status"`
	Checks []Check `json:"checks"`
}

// Check is one readiness check, named by one of the Check* constants.
type Check struct {
	Name string `json:"name"`
	// Display is the X display a display check is about ("": the engine's default).
	Display string `json:"display,omitempty"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// The readiness checks' names.
const (
	CheckEngine  = "engine"  // the engine answers
	CheckCatalog = "catalog" // its catalog is healthy, the file on disk included
	CheckDisplay = "display" // an X display the service records answers (one check each)
	CheckPlugins = "plugins" // every plugin process is up
	CheckSpool   = "spool"   // a file can be written in the spool folder, and a start finds room
	CheckFleet   = "fleet"   // a fleet controller reaches NATS and the fleet's state in JetStream
)

func ms(d time.Duration) int64 { return d.Milliseconds() }

func toSession(s api.Session) Session {
	out := Session{ID: s.ID, ContactID: s.ContactID, InteractionID: s.InteractionID, Owner: s.Owner,
		Frontend: s.Frontend, Reason: s.Reason, State: s.State.String(), Error: s.Error,
		Source: Source{Display: s.Source.Display, Monitors: s.Source.Monitors.String(), Layout: string(s.Source.Layout)},
		Labels: s.Labels, Encoder: s.Encoder, CreatedAt: s.CreatedAt, StartedAt: s.StartedAt, EndedAt: s.EndedAt,
		DurationMS: ms(s.Duration), MaskedMS: ms(s.Masked), Interrupted: s.Interrupted}
	if r := s.Source.Region; !r.Empty() {
		out.Source.Region = fmt.Sprintf("%dx%d+%d+%d", r.Dx(), r.Dy(), r.Min.X, r.Min.Y)
	}
	for _, iv := range s.MaskedIntervals {
		out.Masks = append(out.Masks, Interval{StartMS: ms(iv.Start), EndMS: ms(iv.End)})
	}
	for _, sg := range s.Segments {
		out.Segments = append(out.Segments, Segment{Index: sg.Index, Path: sg.Path, Bytes: sg.Bytes, SHA256: sg.SHA256, Closed: sg.Closed})
	}
	for _, tr := range s.Tracks {
		out.Tracks = append(out.Tracks, Track{Name: tr.Name, Width: tr.Width, Height: tr.Height, Monitors: tr.Monitors, Frames: tr.Frames})
	}
	return out
}

func toSessions(list []api.Session) []Session {
	out := make([]Session, 0, len(list))
	for _, s := range list {
		out = append(out, toSession(s))
	}
	return out
}

func toUpload(j api.UploadJob) Upload {
	return Upload{ID: j.ID, RecordingID: j.RecordingID, SegmentIndex: j.SegmentIndex, SegmentPath: j.SegmentPath,
		Target: j.Target, State: string(j.State), Attempts: j.Attempts, Bytes: j.Bytes, Offset: j.Offset,
		NextTryAt: j.NextTryAt, Location: j.Location, LastError: j.LastError, LastErrorKind: string(j.LastErrorKind), CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
}
