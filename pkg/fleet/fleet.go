// Package fleet is the fleet protocol: what a recorder on an agent's desktop (the `fleet`
// front end) and the fleet controller (`recorder controller`) say to each other over NATS.
// It holds the subjects, the JSON messages and the mapping of the engine's errors onto the
// wire and back; it imports only engine/api and pkg/s3upload's message types (no NATS client,
// no cgo), so a third party can speak the protocol with any NATS client. The agent's side of
// the archive (a signer asking the controller) is package pkg/fleet/fleetsign.
//
// Every subject of a machine starts with Prefix and the machine's id, so that NATS
// permissions can confine an agent to its own subjects (see AgentPublish, AgentSubscribe):
//
//	recorder.fleet.<machine>.hb           agent → controllers (queue): Heartbeat, the presence with it
//	recorder.fleet.<machine>.bye          agent → controllers: Goodbye, the agent stops cleanly
//	recorder.fleet.<machine>.events       agent → JetStream stream FLEET_EVENTS: EventMessage
//	recorder.fleet.<machine>.presign      agent → controllers, request/reply: PresignRequest → PresignReply (archive)
//	recorder.fleet.<machine>.rpc.<op>     controller → agent, request/reply: Request → Reply
//
// The agent's own requests (presign) receive their replies under InboxPrefix(machine), never
// the shared _INBOX, so that no agent can read another's replies.
package fleet

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/pkg/s3upload"
)

// Version is the protocol version carried in every heartbeat; a controller refuses nothing
// on it yet, it is there so that one can.
const Version = 1

// Prefix starts every fleet subject.
const Prefix = "recorder.fleet"

// The operations a controller asks of an agent (the last token of a request subject).
const (
	OpStart = "start"
	OpStop  = "stop"
	OpMask  = "mask"
	OpGet   = "get"
	OpList  = "list"
)

// Ops are the operations an agent serves.
var Ops = []string{OpStart, OpStop, OpMask, OpGet, OpList}

// QueueGroup is the queue group controllers share for what agents send them, so that each
// heartbeat or presign request is handled by one replica.
const QueueGroup = "recorder-fleet-controller"

// EventsStream is the JetStream stream that holds the agents' session events until a
// controller has indexed them.
const EventsStream = "FLEET_EVENTS"

// LabelContactID is the label carrying the fleet's contact id on a recording started through
// the fleet (api.LabelContactID). The engine on the desktop keeps its own contact id (its
// catalog's, unique on that machine); the fleet's, allocated centrally, is unique across the
// fleet and is the one the cloud API answers, the uploads' contactId and the files'
// contact_id tag carry.
const LabelContactID = api.LabelContactID

// LabelLocalContactID is added to the fleet's view of a session: the machine's own contact id.
const LabelLocalContactID = "machine_contact_id"

// machineRE is what a machine id may be: one NATS subject token of safe characters.
var machineRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckMachine reports whether id can be a machine id: 1 to 64 letters, digits, '-' or '_'
// (one subject token, no wildcards, no dots).
func CheckMachine(id string) error {
	if !machineRE.MatchString(id) {
		return fmt.Errorf("%w: machine id %q: want 1 to 64 letters, digits, '-' or '_'", ErrBadMachine, id)
	}
	return nil
}

// MachineSubject is the root of a machine's subjects: recorder.fleet.<machine>.
func MachineSubject(machine string) string { return Prefix + "." + machine }

// HeartbeatSubject is where machine heartbeats.
func HeartbeatSubject(machine string) string { return MachineSubject(machine) + ".hb" }

// GoodbyeSubject is where machine says it stops.
func GoodbyeSubject(machine string) string { return MachineSubject(machine) + ".bye" }

// EventsSubject is where machine publishes its session events.
func EventsSubject(machine string) string { return MachineSubject(machine) + ".events" }

// PresignSubject is where machine asks the controller to sign its archive uploads.
func PresignSubject(machine string) string { return MachineSubject(machine) + ".presign" }

// RPCSubject is where machine serves op.
func RPCSubject(machine, op string) string { return MachineSubject(machine) + ".rpc." + op }

// Wildcards the controller subscribes to.
var (
	AllHeartbeats = Prefix + ".*.hb"
	AllGoodbyes   = Prefix + ".*.bye"
	AllEvents     = Prefix + ".*.events"
	AllPresigns   = Prefix + ".*.presign"
)

// MachineOf returns the machine token of a fleet subject ("" if it is not one).
func MachineOf(subject string) string {
	rest, ok := strings.CutPrefix(subject, Prefix+".")
	if !ok {
		return ""
	}
	m, _, _ := strings.Cut(rest, ".")
	return m
}

// InboxPrefix is the prefix of the reply subjects of machine's own requests
// (nats.CustomInboxPrefix).
func InboxPrefix(machine string) string { return "_INBOX_" + machine }

// AgentPublish lists the subjects an agent of machine may publish to (NATS permissions):
// its own heartbeats, goodbye, events and presign requests. Replies to the controller's
// requests need allow_responses besides.
func AgentPublish(machine string) []string {
	return []string{HeartbeatSubject(machine), GoodbyeSubject(machine), EventsSubject(machine), PresignSubject(machine)}
}

// AgentSubscribe lists the subjects an agent of machine may subscribe to: its own requests
// and the replies to its own requests.
func AgentSubscribe(machine string) []string {
	return []string{MachineSubject(machine) + ".rpc.>", InboxPrefix(machine) + ".>"}
}

// Presence is one user present on a machine.
type Presence struct {
	// User is the user id (as the cloud API's userId).
	User string `json:"user"`
	// Display is the X display their screen is on (empty: the engine's).
	Display string `json:"display,omitempty"`
	// Since is when they became present (their login); the most recent presence of a user
	// wins across machines.
	Since time.Time `json:"since"`
	// Source says how the agent knows: "static" (configured) or "srs" (a login).
	Source string `json:"source,omitempty"`
}

// Heartbeat is what an agent sends every heartbeat interval and at once when its presence
// changes or it (re)connects. It carries the whole presence, so a controller that missed
// anything heals at the next one.
type Heartbeat struct {
	Version int    `json:"version"`
	Machine string `json:"machine"`
	// Seq counts the agent's heartbeats since it started.
	Seq int64 `json:"seq"`
	// PresenceRev changes whenever Users changes (a controller may skip rewriting users whose
	// revision it has seen).
	PresenceRev int64      `json:"presence_rev"`
	Users       []Presence `json:"users"`
	// Sessions is how many sessions are running on the machine.
	Sessions int `json:"sessions"`
	// Started is when the agent started.
	Started time.Time `json:"started"`
	// Interval is the agent's heartbeat interval: a machine is gone after a few missed.
	Interval time.Duration `json:"interval"`
	// Agent is the recorder's version.
	Agent string    `json:"agent,omitempty"`
	Sent  time.Time `json:"sent"`
}

// Goodbye is sent by an agent that stops cleanly.
type Goodbye struct {
	Machine string `json:"machine"`
}

// Request is what a controller asks of an agent; which fields count depends on the op.
type Request struct {
	// Start: the start request. Source.Display is the agent's to fill from its presence.
	Start *api.StartRequest `json:"start,omitempty"`
	// Stop, Get: the machine's session id.
	ID string `json:"id,omitempty"`
	// Mask: whose recordings, and on or off.
	Mask *api.MaskTarget `json:"mask,omitempty"`
	On   bool            `json:"on,omitempty"`
	// List: the filter.
	List *ListFilter `json:"list,omitempty"`
	// Timeout is how long the controller waits for the answer; the agent bounds its engine
	// call by it.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// ListFilter is api.ListFilter on the wire.
type ListFilter struct {
	Owner  string      `json:"owner,omitempty"`
	States []api.State `json:"states,omitempty"`
	Limit  int         `json:"limit,omitempty"`
}

// Reply is an agent's answer: the session(s), or the error.
type Reply struct {
	Session  *api.Session  `json:"session,omitempty"`
	Sessions []api.Session `json:"sessions,omitempty"`
	Error    *Error        `json:"error,omitempty"`
}

// EventMessage is one engine event of a machine, with the session it concerns as it was
// then (when the agent could read it), so that the controller's index needs no call back.
type EventMessage struct {
	Machine string       `json:"machine"`
	Event   api.Event    `json:"event"`
	Session *api.Session `json:"session,omitempty"`
}

// Segment names the recording segment an archive request is for: the machine's own ids
// (the recording is found in the index by owner and the machine's recording id).
type Segment struct {
	// RecordingID is the machine's recording (session) id.
	RecordingID string `json:"recording_id"`
	// Index is the segment's index, from 1.
	Index int `json:"index"`
	// Owner is the recorded user.
	Owner string `json:"owner,omitempty"`
	// Bytes and SHA256 (hex) are the segment's size and checksum.
	Bytes  int64  `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// PresignRequest asks the controller to sign one S3 operation of a segment's upload to the
// archive (the desktop holds no archive credentials), or, with Confirm, to check that the
// segment's object landed and record it in the index.
//
// Operation.Key is relative to the machine's key space: the controller puts it under its
// own prefix and the machine's id (<prefix>/<machine>/<key>), so that no agent can name
// another's objects; keys with empty, "." or ".." path segments are refused.
type PresignRequest struct {
	Segment Segment `json:"segment"`
	// Operation is the S3 operation to sign (all but Confirm).
	Operation *s3upload.Operation `json:"operation,omitempty"`
	// Confirm: the upload of Segment to Key (relative, as in Operation.Key) is done; the
	// controller checks the object with its own credentials and records where it landed.
	Confirm bool   `json:"confirm,omitempty"`
	Key     string `json:"key,omitempty"`
}

// PresignReply is the controller's answer: the signed request to send, or the object that
// landed (Confirm), or the error.
type PresignReply struct {
	Signed *s3upload.SignedRequest `json:"signed,omitempty"`
	// Object is where the segment goes (or went): bucket, full key, location.
	Object *ArchiveObject `json:"object,omitempty"`
	Error  *Error         `json:"error,omitempty"`
}

// ArchiveObject is where a segment went in the archive.
type ArchiveObject struct {
	Bucket string `json:"bucket"`
	// Key is the object's full key (the controller's prefix and the machine's id first).
	Key string `json:"key"`
	// Location is the object's URL (endpoint/bucket/key, path style).
	Location string `json:"location"`
	// State is ArchivePending (a URL that completes the object was signed) or ArchiveLanded
	// (the controller saw the object in the bucket, with Bytes and SHA256).
	State  string    `json:"state"`
	Bytes  int64     `json:"bytes,omitempty"`
	SHA256 string    `json:"sha256,omitempty"`
	Time   time.Time `json:"time"`
}

// The states of an ArchiveObject.
const (
	ArchivePending = "pending"
	ArchiveLanded  = "landed"
)

// Value is the fleet's view of a session of machine: the id names the machine too
// (SessionID), and the contact id is the fleet's (LabelContactID) when the recording has one,
// the machine's own then kept as label LabelLocalContactID.
func Value(machine string, s api.Session) api.Session {
	s.ID = SessionID(machine, s.ID)
	if v, ok := s.Labels[LabelContactID]; ok {
		var id int64
		if _, err := fmt.Sscan(v, &id); err == nil && id > 0 {
			labels := make(map[string]string, len(s.Labels)+1)
			for k, v := range s.Labels {
				labels[k] = v
			}
			labels[LabelLocalContactID] = fmt.Sprint(s.ContactID)
			s.Labels, s.ContactID = labels, id
		}
	}
	return s
}

// SessionID is the fleet's id of session id of machine: "<machine>/<id>".
func SessionID(machine, id string) string { return machine + "/" + id }

// SplitSessionID splits a fleet session id into the machine and the machine's session id.
func SplitSessionID(id string) (machine, local string, err error) {
	machine, local, ok := strings.Cut(id, "/")
	if !ok || CheckMachine(machine) != nil || local == "" {
		return "", "", fmt.Errorf("%w: %q is not a fleet session id (machine/id)", api.ErrNotFound, id)
	}
	return machine, local, nil
}
