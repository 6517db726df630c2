package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/pkg/s3upload"
)

// rpc asks machine for op and decodes the reply. A machine with no agent subscribed is asked
// again until ctx ends (an agent reconnecting after a NATS node restart): nothing was
// delivered, so asking again is safe. No answer within ctx is fleet.Unreachable (504).
func (c *Controller) rpc(ctx context.Context, machine, op string, req fleet.Request) (fleet.Reply, error) {
	if dl, ok := ctx.Deadline(); ok {
		// The agent bounds its engine call a little inside ours, so its answer still arrives.
		req.Timeout = time.Until(dl) * 9 / 10
	}
	data, err := json.Marshal(req)
	if err != nil {
		return fleet.Reply{}, err
	}
	subject := fleet.RPCSubject(machine, op)
	for {
		msg, err := c.nc.RequestWithContext(ctx, subject, data)
		if errors.Is(err, nats.ErrNoResponders) {
			t := time.NewTimer(noRespondersRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return fleet.Reply{}, fleet.Unreachable(machine, err)
			case <-t.C:
				continue
			}
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				return fleet.Reply{}, fleet.Unreachable(machine, err)
			}
			return fleet.Reply{}, fmt.Errorf("controller: %s on %s: %w", op, machine, err)
		}
		var rep fleet.Reply
		if err := json.Unmarshal(msg.Data, &rep); err != nil {
			return fleet.Reply{}, fmt.Errorf("%w: %s answer of %s: %w", fleet.ErrProtocol, op, machine, err)
		}
		return rep, nil
	}
}

// one turns a reply carrying one session into the fleet's view of it.
func one(machine string, rep fleet.Reply, err error) (api.Session, error) {
	if err != nil {
		return api.Session{}, err
	}
	if rep.Error != nil {
		if rerr := rep.Error.Err(); rerr != nil {
			var are *api.AlreadyRecordingError
			if errors.As(rerr, &are) {
				return api.Session{}, &api.AlreadyRecordingError{Session: fleet.Value(machine, are.Session)}
			}
			return api.Session{}, fmt.Errorf("machine %s: %w", machine, rerr)
		}
	}
	if rep.Session == nil {
		return api.Session{}, fmt.Errorf("%w: machine %s answered no session", fleet.ErrProtocol, machine)
	}
	return fleet.Value(machine, *rep.Session), nil
}

func many(machine string, rep fleet.Reply, err error) ([]api.Session, error) {
	if err != nil {
		return nil, err
	}
	if rep.Error != nil {
		return nil, fmt.Errorf("machine %s: %w", machine, rep.Error.Err())
	}
	out := make([]api.Session, 0, len(rep.Sessions))
	for _, s := range rep.Sessions {
		out = append(out, fleet.Value(machine, s))
	}
	return out, nil
}

// Start starts a recording of req.Owner on the machine where they are present, with a contact
// id allocated for the whole fleet (label fleet.LabelContactID). A user present nowhere is an
// error wrapping api.ErrNotFound; a machine that does not answer in time one wrapping
// context.DeadlineExceeded; a user already recorded through req.Frontend an
// *api.AlreadyRecordingError with that recording, as the engine's.
func (c *Controller) Start(ctx context.Context, req api.StartRequest) (api.Session, error) {
	u, err := c.where(ctx, req.Owner)
	if err != nil {
		return api.Session{}, err
	}
	contact, err := c.NextContactID(ctx)
	if err != nil {
		return api.Session{}, err
	}
	labels := maps.Clone(req.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[fleet.LabelContactID] = strconv.FormatInt(contact, 10)
	req.Labels = labels
	rep, err := c.rpc(ctx, u.Machine, fleet.OpStart, fleet.Request{Start: &req})
	s, err := one(u.Machine, rep, err)
	if err != nil {
		return s, err
	}
	c.indexLater(u.Machine, s)
	return s, nil
}

// Stop stops a session by its fleet id (machine/id).
func (c *Controller) Stop(ctx context.Context, id string) (api.Session, error) {
	machine, local, err := fleet.SplitSessionID(id)
	if err != nil {
		return api.Session{}, err
	}
	rep, err := c.rpc(ctx, machine, fleet.OpStop, fleet.Request{ID: local})
	s, err := one(machine, rep, err)
	if err == nil {
		c.indexLater(machine, s)
	}
	return s, err
}

// Get returns a session by its fleet id.
func (c *Controller) Get(ctx context.Context, id string) (api.Session, error) {
	machine, local, err := fleet.SplitSessionID(id)
	if err != nil {
		return api.Session{}, err
	}
	rep, err := c.rpc(ctx, machine, fleet.OpGet, fleet.Request{ID: local})
	return one(machine, rep, err)
}

// machinesOf lists the machines that may hold owner's sessions: where they are present and
// where the index has recordings of theirs that have not ended.
func (c *Controller) machinesOf(ctx context.Context, owner string) ([]string, error) {
	var out []string
	if u, err := c.where(ctx, owner); err == nil {
		out = append(out, u.Machine)
	} else if !errors.Is(err, api.ErrNotFound) {
		return nil, err
	}
	recs, err := c.Recordings(ctx, owner)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if !r.Session.State.Terminal() && !slices.Contains(out, r.Machine) {
			out = append(out, r.Machine)
		}
	}
	return out, nil
}

// List lists sessions of f.Owner on the machines that may hold them (an owner is required:
// listing a whole fleet is the index's job, see Recordings).
func (c *Controller) List(ctx context.Context, f api.ListFilter) ([]api.Session, error) {
	if f.Owner == "" {
		return nil, fmt.Errorf("%w: the fleet lists sessions by owner", api.ErrInvalidRequest)
	}
	machines, err := c.machinesOf(ctx, f.Owner)
	if err != nil {
		return nil, err
	}
	var out []api.Session
	for _, m := range machines {
		rep, err := c.rpc(ctx, m, fleet.OpList, fleet.Request{List: &fleet.ListFilter{Owner: f.Owner, States: f.States, Limit: f.Limit}})
		ss, err := many(m, rep, err)
		if err != nil {
			return nil, err
		}
		out = append(out, ss...)
	}
	return out, nil
}

// Mask masks or unmasks every recording of target.Owner on the machines that may hold them.
// A display alone names no machine: it is refused.
func (c *Controller) Mask(ctx context.Context, target api.MaskTarget, on bool) ([]api.Session, error) {
	if target.Owner == "" {
		return nil, fmt.Errorf("%w: the fleet masks by owner (a display alone names no machine)", api.ErrInvalidRequest)
	}
	machines, err := c.machinesOf(ctx, target.Owner)
	if err != nil {
		return nil, err
	}
	if len(machines) == 0 {
		return nil, fleet.NotPresent(target.Owner)
	}
	var out []api.Session
	for _, m := range machines {
		rep, err := c.rpc(ctx, m, fleet.OpMask, fleet.Request{Mask: &api.MaskTarget{Owner: target.Owner}, On: on})
		ss, err := many(m, rep, err)
		if err != nil {
			return nil, err
		}
		out = append(out, ss...)
	}
	return out, nil
}

// Events streams the fleet's session events (session ids are fleet ids) until ctx ends.
func (c *Controller) Events(ctx context.Context) (<-chan api.Event, error) {
	ch := make(chan api.Event, 256)
	msgs := make(chan *nats.Msg, 1024)
	sub, err := c.nc.ChanSubscribe(fleet.AllEvents, msgs)
	if err != nil {
		return nil, fmt.Errorf("controller: events: %w", err)
	}
	go func() {
		defer close(ch)
		defer func() { _ = sub.Unsubscribe() }()
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-msgs:
				var em fleet.EventMessage
				machine := fleet.MachineOf(m.Subject)
				if json.Unmarshal(m.Data, &em) != nil {
					continue
				}
				ev := em.Event
				if ev.SessionID != "" {
					ev.SessionID = fleet.SessionID(machine, ev.SessionID)
				}
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch, nil
}

// SetUploadAuth is not served across the fleet: credentials are lent on the agent's own
// machine, by its SRS front end.
func (c *Controller) SetUploadAuth(context.Context, string, *api.UploadAuth) error {
	return fmt.Errorf("%w: upload credentials are lent on the agent's machine, not through the fleet", api.ErrInvalidRequest)
}

// recordKey is a recording's key in the index.
func recordKey(machine string, s api.Session) string {
	owner := UserKey(s.Owner)
	if _, ok := s.Labels[fleet.LabelContactID]; ok {
		return owner + "." + strconv.FormatInt(s.ContactID, 10)
	}
	// A recording the fleet did not start (an SRS one): by the machine's own ids.
	return owner + "." + machine + "-" + UserKey(s.ID[len(machine)+1:])
}

// indexLater indexes s off the caller's path: the answer does not wait for the index.
func (c *Controller) indexLater(machine string, s api.Session) {
	at := time.Now()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.index(c.ctx, machine, s, at)
	}()
}

// index writes s into the index of recordings, unless the index already holds a later view
// of it (events arrive through several replicas, in any order).
func (c *Controller) index(ctx context.Context, machine string, s api.Session, at time.Time) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	key := recordKey(machine, s)
	for range 5 {
		e, err := c.recordings.Get(ctx, key)
		var rec Record
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			c.log.Warn("fleet: index", "key", key, "err", err)
			return
		default:
			if json.Unmarshal(e.Value(), &rec) == nil && (rec.Updated.After(at) || rec.Session.State.Terminal() && !s.State.Terminal()) {
				return
			}
		}
		rec.ContactID, rec.Machine, rec.Session, rec.Updated = s.ContactID, machine, s, at
		b, _ := json.Marshal(rec)
		if e == nil {
			_, err = c.recordings.Create(ctx, key, b)
		} else {
			_, err = c.recordings.Update(ctx, key, b, e.Revision())
		}
		if err == nil || !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return
		}
	}
}

// onEvent indexes one event of the events stream (each to one replica).
func (c *Controller) onEvent(m jetstream.Msg) {
	var em fleet.EventMessage
	machine := fleet.MachineOf(m.Subject())
	if json.Unmarshal(m.Data(), &em) == nil && em.Session != nil && fleet.CheckMachine(machine) == nil {
		at := em.Event.Time
		if at.IsZero() {
			at = time.Now()
		}
		c.index(c.ctx, machine, fleet.Value(machine, *em.Session), at)
	}
	_ = m.Ack()
}

// Recordings lists the index's recordings of owner.
func (c *Controller) Recordings(ctx context.Context, owner string) ([]Record, error) {
	return c.indexed(ctx, func(Record) bool { return true }, UserKey(owner)+".>")
}

// indexed reads the index's recordings under the key filters (all when none) that keep
// holds for.
func (c *Controller) indexed(ctx context.Context, keep func(Record) bool, filters ...string) ([]Record, error) {
	var lister jetstream.KeyLister
	var err error
	if len(filters) == 0 {
		lister, err = c.recordings.ListKeys(ctx)
	} else {
		lister, err = c.recordings.ListKeysFiltered(ctx, filters...)
	}
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: index: %w", fleet.ErrStateUnavailable, err)
	}
	var out []Record
	for key := range lister.Keys() {
		e, err := c.recordings.Get(ctx, key)
		if err != nil {
			continue // deleted since listed
		}
		var r Record
		if json.Unmarshal(e.Value(), &r) == nil && keep(r) {
			out = append(out, r)
		}
	}
	return out, ctx.Err()
}

// Machines lists the machines present now, with their last heartbeat.
func (c *Controller) Machines(ctx context.Context) ([]Machine, error) {
	lister, err := c.machines.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: machines: %w", fleet.ErrStateUnavailable, err)
	}
	var out []Machine
	for key := range lister.Keys() {
		if m, err := c.machine(ctx, key); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// presignLater handles an archive request off the subscription's goroutine, a bounded
// number at a time, so that one waiting on S3 or JetStream does not hold up the others.
func (c *Controller) presignLater(m *nats.Msg) {
	select {
	case c.presigns <- struct{}{}:
	case <-c.ctx.Done():
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.presigns }()
		c.onPresign(m)
	}()
}

// onPresign answers an agent's archive request: it signs one S3 operation on the agent's
// own key space, or, on a confirmation, checks the object with the controller's credentials
// and records in the index that the segment landed. A request that completes an object
// (complete, a single put) is noted in the index as pending before the answer goes out, so
// that the landing recorded later is never overwritten by it.
func (c *Controller) onPresign(m *nats.Msg) {
	machine := fleet.MachineOf(m.Subject) // the subject's, which the agent's permissions tie to it
	reply := func(r fleet.PresignReply) {
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	}
	fail := func(err error) { reply(fleet.PresignReply{Error: fleet.ErrorOf(err)}) }
	var req fleet.PresignRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		fail(fmt.Errorf("%w: presign request: %w", api.ErrInvalidRequest, err))
		return
	}
	if err := fleet.CheckMachine(machine); err != nil {
		fail(err)
		return
	}
	if c.opts.Presigner == nil {
		fail(fmt.Errorf("controller: %w: no archive to sign uploads for (the controller config has no archive section)", fleet.ErrNotConfigured))
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if req.Confirm {
		obj, err := c.opts.Presigner.Landed(ctx, machine, req.Key, req.Segment)
		if err != nil {
			fail(err)
			return
		}
		if err := c.noteArchive(ctx, machine, req.Segment, obj, indexWait); err != nil {
			fail(err)
			return
		}
		reply(fleet.PresignReply{Object: &obj})
		return
	}
	if req.Operation == nil {
		fail(fmt.Errorf("%w: presign request without operation or confirm", api.ErrInvalidRequest))
		return
	}
	signed, obj, err := c.opts.Presigner.Presign(ctx, machine, *req.Operation)
	if err != nil {
		if errors.Is(err, fleet.ErrForbidden) {
			c.log.Warn("fleet: archive request refused", "machine", machine, "op", req.Operation.Op, "key", req.Operation.Key, "err", err)
		}
		fail(err)
		return
	}
	if op := req.Operation.Op; op == s3upload.OpComplete || op == s3upload.OpPut {
		if err := c.noteArchive(ctx, machine, req.Segment, obj, 0); err != nil {
			c.log.Warn("fleet: index archive", "machine", machine, "key", obj.Key, "err", err)
		}
	}
	reply(fleet.PresignReply{Signed: &signed, Object: &obj})
}

// indexWait bounds how long a segment's archive note waits for its recording to appear in
// the index (its events may still be on their way).
const indexWait = 5 * time.Second

// noteArchive records in the index where a segment of machine's recording went. A pending
// object does not replace the same object landed. A recording the index does not hold within
// wait (one made before the machine joined the fleet) is logged and skipped; an index that
// cannot be written is an error.
func (c *Controller) noteArchive(ctx context.Context, machine string, seg fleet.Segment, obj fleet.ArchiveObject, wait time.Duration) error {
	if seg.RecordingID == "" || seg.Owner == "" || seg.Index < 1 {
		return fmt.Errorf("%w: archive request without the segment's recording, owner and index", api.ErrInvalidRequest)
	}
	deadline := time.Now().Add(wait)
	for {
		key, e, err := c.findRecord(ctx, machine, seg)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if time.Now().Before(deadline) && !sleepCtx(ctx, 200*time.Millisecond) {
				continue
			}
			c.log.Warn("fleet: archive of a recording not in the index", "machine", machine, "recording", seg.RecordingID, "key", obj.Key)
			return nil
		}
		if err != nil {
			return fmt.Errorf("controller: index: %w", err)
		}
		var rec Record
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return fmt.Errorf("%w: index %s: %w", fleet.ErrProtocol, key, err)
		}
		if rec.Archive == nil {
			rec.Archive = map[int]fleet.ArchiveObject{}
		}
		if cur, ok := rec.Archive[seg.Index]; ok && cur.State == fleet.ArchiveLanded && obj.State == fleet.ArchivePending && cur.Key == obj.Key {
			return nil
		}
		rec.Archive[seg.Index] = obj
		b, _ := json.Marshal(rec)
		_, err = c.recordings.Update(ctx, key, b, e.Revision())
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !transient(ctx, err) {
			return fmt.Errorf("controller: index %s: %w", key, err)
		}
	}
}

// findRecord finds the index entry of machine's recording seg.RecordingID: by its key when the
// fleet did not start it, else among its owner's recordings.
func (c *Controller) findRecord(ctx context.Context, machine string, seg fleet.Segment) (string, jetstream.KeyValueEntry, error) {
	id := fleet.SessionID(machine, seg.RecordingID)
	key := recordKey(machine, api.Session{ID: id, Owner: seg.Owner})
	if e, err := c.recordings.Get(ctx, key); err == nil {
		return key, e, nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil, err
	}
	lister, err := c.recordings.ListKeysFiltered(ctx, UserKey(seg.Owner)+".>")
	if err != nil {
		return "", nil, err
	}
	for k := range lister.Keys() {
		e, err := c.recordings.Get(ctx, k)
		if err != nil {
			continue
		}
		var rec Record
		if json.Unmarshal(e.Value(), &rec) == nil && rec.Machine == machine && rec.Session.ID == id {
			return k, e, nil
		}
	}
	return "", nil, jetstream.ErrKeyNotFound
}

// sleepCtx pauses for d; it reports whether ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true
	case <-t.C:
		return false
	}
}
