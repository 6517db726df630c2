package api

import (
	"context"
	"time"
)

// Credentials authenticate an upload.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"-"`
}

// Resume is where an earlier attempt of an upload got to.
type Resume struct {
	// Location is the remote upload's URL; empty for a new upload.
	Location string `json:"location,omitempty"`
	// Offset is how many bytes the server confirmed.
	Offset int64 `json:"offset"`
	// State is the uploader's own record of where the upload stands — e.g. one upload
	// address per server, or a multipart upload's id — as its last Progress reported it. The
	// engine keeps it with the job, across attempts and restarts, without reading it.
	State string `json:"state,omitempty"`
}

// UploadRequest hands an uploader one segment.
type UploadRequest struct {
	JobID       int64  `json:"job_id"`
	RecordingID string `json:"recording_id"`
	// SegmentIndex is the segment's position in its recording, from 1 (as SegmentInfo.Index);
	// the metadata's "segment" says the same.
	SegmentIndex int               `json:"segment_index"`
	SegmentPath  string            `json:"segment_path"`
	Size         int64             `json:"size"`
	SHA256       string            `json:"sha256"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	// Target names the upload target (from the engine's config).
	Target string `json:"target"`
	// Credentials, when set, replace the uploader's configured ones (an agent's own login).
	Credentials *Credentials `json:"credentials,omitempty"`
	Resume      Resume       `json:"resume"`
}

// Progress reports what the server has confirmed so far.
type Progress struct {
	Location string `json:"location"`
	Offset   int64  `json:"offset"`
	Size     int64  `json:"size"`
	// State, when not empty, replaces the job's Resume.State (see there).
	State string `json:"state,omitempty"`
}

// UploadResult is a finished upload.
type UploadResult struct {
	Location string `json:"location"`
	Bytes    int64  `json:"bytes"`
}

// Uploader ships one segment somewhere; the engine's upload scheduler calls it. An error
// wrapping ErrPermanent is not retried; one wrapping a failure sentinel (ErrRefused, …) is
// classified by it (see ClassifyFailure). Upload returns nil only when the server confirmed
// the whole segment and its checksum: the engine then deletes the local file.
type Uploader interface {
	Upload(ctx context.Context, req UploadRequest, progress func(Progress)) (UploadResult, error)
}

// UploadAuth is an agent's own credentials (and RWS servers) for the uploads of their
// recordings, as a front end learnt them at login. The engine keeps them in memory only.
type UploadAuth struct {
	Credentials Credentials
	Server      string
	PeerServer  string
}

// UploadState is the state of an upload job.
//
//	queued ──► running ──► uploaded
//	   ▲          │
//	   └──────────┤   a retryable failure: queued again, due after a back-off
//	              ▼
//	            failed    given up (a permanent error)
type UploadState string

// The states of an upload job.
const (
	UploadQueued   UploadState = "queued"
	UploadRunning  UploadState = "running"
	UploadUploaded UploadState = "uploaded"
	UploadFailed   UploadState = "failed"
)

// UploadStates lists every upload state, in the order a job passes through them.
func UploadStates() []UploadState {
	return []UploadState{UploadQueued, UploadRunning, UploadUploaded, UploadFailed}
}

// Valid reports whether s is one of the defined states.
func (s UploadState) Valid() bool {
	switch s {
	case UploadQueued, UploadRunning, UploadUploaded, UploadFailed:
		return true
	}
	return false
}

// UploadJob is the upload of one segment of a recording to one target, as the engine's
// durable queue holds it.
type UploadJob struct {
	ID          int64  `json:"id"`
	RecordingID string `json:"recording_id"`
	// SegmentIndex (from 1) and SegmentPath name the segment as Session.Segments does.
	SegmentIndex int         `json:"segment_index"`
	SegmentPath  string      `json:"segment_path"`
	Target       string      `json:"target"`
	State        UploadState `json:"state"`
	// Attempts counts the tries so far.
	Attempts int `json:"attempts"`
	// Bytes is the segment's size, Offset how many of them the server confirmed.
	Bytes  int64 `json:"bytes"`
	Offset int64 `json:"offset"`
	// NextTryAt is when a queued job is due (zero in the other states).
	NextTryAt time.Time `json:"next_try_at,omitzero"`
	// Location is the remote upload's address, once the server gave one.
	Location string `json:"location,omitempty"`
	// LastError is the error of the last failed try, LastErrorKind its kind.
	LastError     string      `json:"last_error,omitempty"`
	LastErrorKind FailureKind `json:"last_error_kind,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
}

// UploadFilter selects upload jobs; zero fields do not filter.
type UploadFilter struct {
	RecordingID string
	States      []UploadState
	Limit       int
}
