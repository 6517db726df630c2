package fleet

import (
	"time"

	"github.com/screenrec/recorder/engine/api"
)

// Machine is a machine present in the fleet, as the controllers keep it: its last heartbeat
// (the users present on its displays among them) and when it arrived.
type Machine struct {
	Heartbeat
	// Seen is when the controller received the heartbeat.
	Seen time.Time `json:"seen"`
}

// Record is a recording's entry in the controllers' index.
type Record struct {
	ContactID int64       `json:"contact_id"`
	Machine   string      `json:"machine"`
	Session   api.Session `json:"session"` // the fleet's view (Value)
	Updated   time.Time   `json:"updated"`
	// Archive maps segment indexes to where each went in the archive: pending once a request
	// that completes the object was signed, landed once the agent confirmed the upload and
	// the controller saw the object in the bucket (with its size and sha256).
	Archive map[int]ArchiveObject `json:"archive,omitempty"`
}
