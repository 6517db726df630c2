package admin

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/screenrec/recorder/frontends/httpkit"
	"github.com/screenrec/recorder/pkg/fleet"
)

// The fleet view: what `recorder controller` serves of its fleet (machines, the users
// present on them, sessions, the index's recordings). Served when Deps.Fleet is set.
const (
	PathFleetMachines   = "/api/v1/fleet/machines"
	PathFleetSessions   = "/api/v1/fleet/sessions"
	PathFleetRecordings = "/api/v1/fleet/users/:id/recordings"
)

// Fleet is what the fleet view needs of a fleet controller; *controller.Controller (package
// fleet/controller) implements it.
type Fleet interface {
	// Machines lists the machines present now, with their last heartbeat.
	Machines(ctx context.Context) ([]fleet.Machine, error)
	// Sessions lists the fleet's recordings that have not ended.
	Sessions(ctx context.Context) ([]fleet.Record, error)
	// Recordings lists the index's recordings of a user.
	Recordings(ctx context.Context, owner string) ([]fleet.Record, error)
	// Ping reports whether the fleet's state (NATS, JetStream) answers.
	Ping(ctx context.Context) error
}

// FleetMachine is a machine present in the fleet.
type FleetMachine struct {
	Machine string `json:"machine"`
	// Users are the users present on the machine's displays.
	Users []FleetUser `json:"users"`
	// Sessions is how many sessions run on the machine.
	Sessions int       `json:"sessions"`
	Agent    string    `json:"agent,omitempty"`
	Started  time.Time `json:"started"`
	// Seen is when a controller last heard the machine's heartbeat.
	Seen time.Time `json:"seen"`
}

// FleetUser is a user present on a machine's display.
type FleetUser struct {
	User    string    `json:"user"`
	Display string    `json:"display,omitempty"`
	Since   time.Time `json:"since"`
	// Source is how the agent knows: "static" (configured) or "srs" (a login).
	Source string `json:"source,omitempty"`
}

// FleetRecording is a recording in the fleet's index.
type FleetRecording struct {
	ContactID int64     `json:"contact_id"`
	Machine   string    `json:"machine"`
	Session   Session   `json:"session"`
	Updated   time.Time `json:"updated"`
	// Archive are the segments' objects in the archive.
	Archive []FleetObject `json:"archive,omitempty"`
}

// FleetObject is where a segment of a recording went in the archive (fleet.ArchiveObject):
// pending once the request completing the object was signed, landed once the controller saw
// it in the bucket with its size and sha256.
type FleetObject struct {
	Segment  int       `json:"segment"`
	Bucket   string    `json:"bucket,omitempty"`
	Key      string    `json:"key"`
	Location string    `json:"location,omitempty"`
	State    string    `json:"state,omitempty"`
	Bytes    int64     `json:"bytes,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
	Time     time.Time `json:"time,omitzero"`
}

// FleetMachines and FleetRecordings are the fleet view's list answers; an empty list is [].
type (
	FleetMachines struct {
		Machines []FleetMachine `json:"machines"`
	}
	FleetRecordings struct {
		Recordings []FleetRecording `json:"recordings"`
	}
)

func toFleetMachine(m fleet.Machine) FleetMachine {
	out := FleetMachine{Machine: m.Machine, Users: make([]FleetUser, 0, len(m.Users)), Sessions: m.Sessions,
		Agent: m.Agent, Started: m.Started, Seen: m.Seen}
	for _, u := range m.Users {
		out.Users = append(out.Users, FleetUser{User: u.User, Display: u.Display, Since: u.Since, Source: u.Source})
	}
	return out
}

func toFleetRecordings(list []fleet.Record) FleetRecordings {
	out := FleetRecordings{Recordings: make([]FleetRecording, 0, len(list))}
	for _, r := range list {
		fr := FleetRecording{ContactID: r.ContactID, Machine: r.Machine, Session: toSession(r.Session), Updated: r.Updated}
		for seg, o := range r.Archive {
			fr.Archive = append(fr.Archive, FleetObject{Segment: seg, Bucket: o.Bucket, Key: o.Key, Location: o.Location,
				State: o.State, Bytes: o.Bytes, SHA256: o.SHA256, Time: o.Time})
		}
		sort.Slice(fr.Archive, func(i, j int) bool { return fr.Archive[i].Segment < fr.Archive[j].Segment })
		out.Recordings = append(out.Recordings, fr)
	}
	// Oldest first, as the engine's lists.
	sort.SliceStable(out.Recordings, func(i, j int) bool { return out.Recordings[i].ContactID < out.Recordings[j].ContactID })
	return out
}

// fleetRoutes adds the fleet view's routes to e.
func (s *Server) fleetRoutes(e *echo.Echo) {
	auth := s.requireToken
	e.GET(PathFleetMachines, s.fleetMachines, auth)
	e.GET(PathFleetSessions, s.fleetSessions, auth)
	e.GET(PathFleetRecordings, s.fleetRecordings, auth)
}

func (s *Server) fleetMachines(ec echo.Context) error {
	ms, err := s.deps.Fleet.Machines(ec.Request().Context())
	if err != nil {
		return fleetError("machines", err)
	}
	out := FleetMachines{Machines: make([]FleetMachine, 0, len(ms))}
	for _, m := range ms {
		out.Machines = append(out.Machines, toFleetMachine(m))
	}
	sort.Slice(out.Machines, func(i, j int) bool { return out.Machines[i].Machine < out.Machines[j].Machine })
	return httpkit.WriteJSON(ec, http.StatusOK, out)
}

func (s *Server) fleetSessions(ec echo.Context) error {
	recs, err := s.deps.Fleet.Sessions(ec.Request().Context())
	if err != nil {
		return fleetError("sessions", err)
	}
	return httpkit.WriteJSON(ec, http.StatusOK, toFleetRecordings(recs))
}

func (s *Server) fleetRecordings(ec echo.Context) error {
	owner := ec.Param("id")
	if owner == "" {
		return badRequest("want a user id: %s", PathFleetRecordings)
	}
	recs, err := s.deps.Fleet.Recordings(ec.Request().Context(), owner)
	if err != nil {
		return fleetError("recordings", err)
	}
	return httpkit.WriteJSON(ec, http.StatusOK, toFleetRecordings(recs))
}

// fleetError maps a fleet call's error: the fleet's state out of reach is 503, anything
// else 500 naming the call.
func fleetError(op string, err error) *httpkit.Error {
	if errors.Is(err, fleet.ErrStateUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "fleet: %s: %v", op, err)
	}
	return internal("fleet: %s: %v", op, err)
}
