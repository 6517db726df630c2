package api

import "context"

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
}

// UploadRequest hands an uploader one segment.
type UploadRequest struct {
	JobID        int64             `json:"job_id"`
	RecordingID  string            `json:"recording_id"`
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
}

// UploadResult is a finished upload.
type UploadResult struct {
	Location string `json:"location"`
	Bytes    int64  `json:"bytes"`
}

// Uploader ships one segment somewhere; the engine's upload scheduler calls it. An error
// wrapping ErrPermanent is not retried.
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
