// Package fleetsign is the agent's side of the fleet's archive: an s3upload.Signer that asks
// the fleet controller, over NATS, to sign each S3 operation of an upload, so that the
// desktop sends a segment straight to the archive without holding archive credentials. It
// also tells the controller when an upload is done (s3upload.Confirmer), and the controller
// records in its index where the segment landed.
//
// Keys are relative to the machine's key space: the controller puts them under its prefix and
// the machine's id. The machine is the connection's (NATS permissions allow an agent to ask
// on its own presign subject only).
package fleetsign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/pkg/fleet/fleetconn"
	"github.com/screenrec/recorder/pkg/s3upload"
)

// DefaultTimeout bounds one request to the controller.
const DefaultTimeout = 30 * time.Second

// Signer asks the fleet controller to sign. Create it with New or Connect.
type Signer struct {
	nc      *nats.Conn
	own     bool
	machine string
	// Timeout bounds each request to the controller; 0: DefaultTimeout.
	Timeout time.Duration
}

var (
	_ s3upload.Signer    = (*Signer)(nil)
	_ s3upload.Confirmer = (*Signer)(nil)
)

// New returns a Signer of machine asking through nc (which stays the caller's). nc must use
// the machine's inbox prefix (fleet.InboxPrefix) when NATS permissions confine the agent.
func New(nc *nats.Conn, machine string) (*Signer, error) {
	if err := fleet.CheckMachine(machine); err != nil {
		return nil, err
	}
	return &Signer{nc: nc, machine: machine}, nil
}

// Connect opens a connection of its own with cfg (checked: fleetconn.Config.Check) and
// returns a Signer asking through it; Close closes it. It does not wait for NATS to be
// reachable: requests made meanwhile fail as unreachable and the upload is retried.
func Connect(cfg fleetconn.Config) (*Signer, error) {
	opts, err := cfg.Options("recorder s3 uploader")
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.URL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("fleet signer: connect to NATS %v: %w", cfg.URLs, err)
	}
	s, err := New(nc, cfg.Machine)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// Machine is the machine the signer asks for.
func (s *Signer) Machine() string { return s.machine }

// Close closes the connection when the Signer opened it.
func (s *Signer) Close() {
	if s.own {
		s.nc.Close()
	}
}

// Sign asks the controller to sign op; the upload's identity comes from ctx
// (s3upload.WithUpload).
func (s *Signer) Sign(ctx context.Context, op s3upload.Operation) (s3upload.SignedRequest, error) {
	rep, err := s.ask(ctx, fleet.PresignRequest{Segment: segmentOf(ctx), Operation: &op})
	if err != nil {
		return s3upload.SignedRequest{}, err
	}
	if rep.Signed == nil {
		return s3upload.SignedRequest{}, fmt.Errorf("%w: the controller signed nothing", fleet.ErrProtocol)
	}
	return *rep.Signed, nil
}

// Confirm tells the controller that the upload of key is done; the controller checks the
// object and answers where it landed.
func (s *Signer) Confirm(ctx context.Context, key string) (string, error) {
	rep, err := s.ask(ctx, fleet.PresignRequest{Segment: segmentOf(ctx), Confirm: true, Key: key})
	if err != nil {
		return "", err
	}
	if rep.Object == nil || rep.Object.State != fleet.ArchiveLanded {
		return "", fmt.Errorf("%w: the controller confirmed no landed object", fleet.ErrProtocol)
	}
	return rep.Object.Location, nil
}

func segmentOf(ctx context.Context) fleet.Segment {
	u, _ := s3upload.UploadFrom(ctx)
	return fleet.Segment{RecordingID: u.RecordingID, Index: u.Segment, Owner: u.Owner, Bytes: u.Bytes, SHA256: u.SHA256}
}

// ask sends req and decodes the reply. Errors: the controller's refusal (fleet.ErrForbidden,
// api.ErrInvalidRequest: also api.ErrPermanent, as no retry can change it; not configured:
// fleet.ErrNotConfigured), or no answer (api.ErrRefused when no controller listens,
// api.ErrTimeout when none answered in time).
func (s *Signer) ask(ctx context.Context, req fleet.PresignRequest) (fleet.PresignReply, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return fleet.PresignReply{}, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := s.nc.RequestWithContext(rctx, fleet.PresignSubject(s.machine), data)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return fleet.PresignReply{}, ctx.Err()
	case errors.Is(err, nats.ErrNoResponders):
		return fleet.PresignReply{}, fmt.Errorf("fleet signer: no controller answers on %s: %w", fleet.PresignSubject(s.machine), api.ErrRefused)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return fleet.PresignReply{}, fmt.Errorf("fleet signer: no answer from the controller within %s: %w", timeout, api.ErrTimeout)
	default:
		return fleet.PresignReply{}, fmt.Errorf("fleet signer: %w", api.WrapFailure(err))
	}
	var rep fleet.PresignReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return fleet.PresignReply{}, fmt.Errorf("%w: presign answer: %w", fleet.ErrProtocol, err)
	}
	if rep.Error != nil {
		rerr := rep.Error.Err()
		if errors.Is(rerr, fleet.ErrForbidden) || errors.Is(rerr, api.ErrInvalidRequest) {
			return rep, fmt.Errorf("fleet signer: the controller refused: %w (%w)", rerr, api.ErrPermanent)
		}
		return rep, fmt.Errorf("fleet signer: the controller answered: %w", rerr)
	}
	return rep, nil
}
