// Package controller is the fleet controller: the engine the cloud API is served with when
// one `recorder controller` (or several replicas of it) serves every desktop of a fleet. It
// implements sdk.Engine by routing each call over NATS to the machine where the user is
// present (package pkg/fleet is the protocol), and cloud.Directory with JetStream: presence,
// per-user locks, contact-id allocation and the index of recordings live in JetStream
// key-value buckets, so replicas share all state and none holds any only in memory (the
// mirrors they keep of the buckets are caches, rebuilt from JetStream at start).
package controller

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/cloud"
	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/plugins/sdk"
)

// The JetStream key-value buckets of the fleet.
const (
	// BucketMachines: machine id → Machine (its last heartbeat); entries age out after the
	// presence TTL, so a machine that stopped heartbeating disappears.
	BucketMachines = "fleet_machines"
	// BucketUsers: user key → UserEntry (the machine the user is present on, most recent wins).
	BucketUsers = "fleet_users"
	// BucketLocks: user key → lock holder; entries age out after the lock TTL (a replica that
	// died holding one).
	BucketLocks = "fleet_locks"
	// BucketCounters: "contact_id" → the last contact id allocated.
	BucketCounters = "fleet_counters"
	// BucketRecordings: <user key>.<contact id> → Record, the index of recordings.
	BucketRecordings = "fleet_recordings"
)

// keyContactID is the counter's key in BucketCounters.
const keyContactID = "contact_id"

// Defaults of Options.
const (
	DefaultPresenceTTL   = 20 * time.Second
	DefaultLockTTL       = time.Minute
	DefaultContactIDBase = int64(1_000_000_000)
	DefaultEventsMaxAge  = 7 * 24 * time.Hour
	// maxPresigns bounds the archive requests a replica handles at once (a confirmation
	// waits on S3 and JetStream; signing alone is quick).
	maxPresigns = 64
	// noRespondersRetry is the pause before asking again a machine that has no subscriber
	// right now (an agent reconnecting after a NATS node restart).
	noRespondersRetry = 200 * time.Millisecond
)

// Options configure a Controller.
type Options struct {
	// Replicas is the JetStream replication of the buckets and the events stream (1 for a
	// single server, 3 on a three-node cluster).
	Replicas int
	// PresenceTTL is how long a machine stays present after its last heartbeat.
	PresenceTTL time.Duration
	// LockTTL bounds how long a user's start/stop lock can be held (a replica that died
	// holding one).
	LockTTL time.Duration
	// ContactIDBase is the first contact id of a new fleet.
	ContactIDBase int64
	// Presigner signs agents' archive uploads (an *Archive); nil: agents asking are told the
	// archive is not configured.
	Presigner Presigner
	// Log is the logger (slog.Default when nil).
	Log *slog.Logger
}

// Machine is a machine's entry in BucketMachines.
type Machine = fleet.Machine

// UserEntry is a user's entry in BucketUsers.
type UserEntry struct {
	User    string    `json:"user"`
	Machine string    `json:"machine"`
	Display string    `json:"display,omitempty"`
	Since   time.Time `json:"since"`
}

// Record is a recording's entry in the index (BucketRecordings).
type Record = fleet.Record

// Controller is the fleet's routing engine and directory. Create it with Open.
type Controller struct {
	opts Options
	nc   *nats.Conn
	js   jetstream.JetStream
	log  *slog.Logger

	machines, users, locks, counters, recordings jetstream.KeyValue

	ctx    context.Context
	cancel context.CancelFunc
	subs   []*nats.Subscription
	cons   jetstream.ConsumeContext
	wg     sync.WaitGroup

	// mirror of BucketUsers, kept by a watcher: what heartbeats compare against before
	// writing, so that an unchanged presence costs no write.
	mu        sync.Mutex
	userCache map[string]UserEntry
	userRev   map[string]uint64
	claims    chan struct{} // bounds the presence writes in flight
	presigns  chan struct{} // bounds the archive requests in flight

	idMu      sync.Mutex
	idWaiting []chan idResult // callers of NextContactID waiting for the next batch
	idRunning bool
}

var (
	_ sdk.Engine      = (*Controller)(nil)
	_ cloud.Directory = (*Controller)(nil)
)

// Open sets up (or joins) the fleet's JetStream state through nc and starts handling what
// agents send: heartbeats, goodbyes, events and presign requests. Close stops it; nc stays
// the caller's.
func Open(ctx context.Context, nc *nats.Conn, opts Options) (*Controller, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.PresenceTTL <= 0 {
		opts.PresenceTTL = DefaultPresenceTTL
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = DefaultLockTTL
	}
	if opts.ContactIDBase <= 0 {
		opts.ContactIDBase = DefaultContactIDBase
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192), jetstream.WithPublishAsyncErrHandler(
		func(_ jetstream.JetStream, m *nats.Msg, err error) {
			opts.Log.Warn("fleet: record heartbeat", "subject", m.Subject, "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("controller: jetstream: %w", err)
	}
	c := &Controller{opts: opts, nc: nc, js: js, log: opts.Log.With("part", "fleet-controller"),
		userCache: map[string]UserEntry{}, userRev: map[string]uint64{}, claims: make(chan struct{}, 32),
		presigns: make(chan struct{}, maxPresigns)}
	buckets := []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&c.machines, jetstream.KeyValueConfig{Bucket: BucketMachines, TTL: opts.PresenceTTL, Description: "fleet: machines, by heartbeat"}},
		{&c.users, jetstream.KeyValueConfig{Bucket: BucketUsers, Description: "fleet: where each user is present"}},
		{&c.locks, jetstream.KeyValueConfig{Bucket: BucketLocks, TTL: opts.LockTTL, Description: "fleet: per-user start/stop locks"}},
		{&c.counters, jetstream.KeyValueConfig{Bucket: BucketCounters, Description: "fleet: contact-id counter"}},
		{&c.recordings, jetstream.KeyValueConfig{Bucket: BucketRecordings, History: 1, Description: "fleet: index of recordings"}},
	}
	for _, b := range buckets {
		b.cfg.Storage = jetstream.FileStorage
		b.cfg.Replicas = opts.Replicas
		kv, err := js.CreateOrUpdateKeyValue(ctx, b.cfg)
		if err != nil {
			return nil, fmt.Errorf("controller: bucket %s: %w", b.cfg.Bucket, err)
		}
		*b.kv = kv
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: fleet.EventsStream, Subjects: []string{fleet.AllEvents},
		Storage: jetstream.FileStorage, Replicas: opts.Replicas, MaxAge: DefaultEventsMaxAge, Description: "fleet: agents' session events"})
	if err != nil {
		return nil, fmt.Errorf("controller: stream %s: %w", fleet.EventsStream, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "fleet-index", AckPolicy: jetstream.AckExplicitPolicy,
		MaxAckPending: 1024, AckWait: 30 * time.Second, Description: "fleet: the index of recordings, shared by the controllers"})
	if err != nil {
		return nil, fmt.Errorf("controller: consumer: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.watchUsers(ctx); err != nil {
		c.cancel()
		return nil, err
	}
	for _, s := range []struct {
		subject string
		h       nats.MsgHandler
	}{{fleet.AllHeartbeats, c.onHeartbeat}, {fleet.AllGoodbyes, c.onGoodbye}, {fleet.AllPresigns, c.presignLater}} {
		sub, err := nc.QueueSubscribe(s.subject, fleet.QueueGroup, s.h)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("controller: subscribe %s: %w", s.subject, err)
		}
		// Heartbeats of thousands of machines: let them queue rather than be dropped.
		_ = sub.SetPendingLimits(1<<20, 256<<20)
		c.subs = append(c.subs, sub)
	}
	cc, err := cons.Consume(c.onEvent)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("controller: consume events: %w", err)
	}
	c.cons = cc
	return c, nil
}

// Close stops handling agents' messages. It does not close the NATS connection.
func (c *Controller) Close() {
	c.cancel()
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
	if c.cons != nil {
		c.cons.Stop()
	}
	c.wg.Wait()
}

// watchUsers mirrors BucketUsers; it returns once the mirror holds what the bucket held.
func (c *Controller) watchUsers(ctx context.Context) error {
	w, err := c.users.WatchAll(c.ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("controller: watch %s: %w", BucketUsers, err)
	}
	ready := make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { _ = w.Stop() }()
		once := sync.OnceFunc(func() { close(ready) })
		for {
			select {
			case <-c.ctx.Done():
				once()
				return
			case e, ok := <-w.Updates():
				if !ok {
					once()
					return
				}
				if e == nil {
					once() // the initial values are in
					continue
				}
				c.mu.Lock()
				if e.Operation() == jetstream.KeyValuePut {
					var u UserEntry
					if json.Unmarshal(e.Value(), &u) == nil {
						c.userCache[e.Key()], c.userRev[e.Key()] = u, e.Revision()
					}
				} else {
					delete(c.userCache, e.Key())
					delete(c.userRev, e.Key())
				}
				c.mu.Unlock()
			}
		}
	}()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("controller: watch %s: %w", BucketUsers, ctx.Err())
	}
}

// safeKeyRE is what a user id may be to serve as a key as it is.
var safeKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// UserKey is user's key in the buckets: the id itself when it is made of letters, digits,
// '-' and '_' (and does not start with "b64_"), else "b64_" and its unpadded base64url.
func UserKey(user string) string {
	if safeKeyRE.MatchString(user) && len(user) < 4 || safeKeyRE.MatchString(user) && user[:4] != "b64_" {
		return user
	}
	return "b64_" + base64.RawURLEncoding.EncodeToString([]byte(user))
}

// onHeartbeat records a machine's heartbeat and claims its users. The machine is the
// subject's, which NATS permissions tie to the agent's credentials, never the body's.
func (c *Controller) onHeartbeat(m *nats.Msg) {
	machine := fleet.MachineOf(m.Subject)
	var hb fleet.Heartbeat
	if fleet.CheckMachine(machine) != nil || json.Unmarshal(m.Data, &hb) != nil {
		return
	}
	hb.Machine = machine
	rec := Machine{Heartbeat: hb, Seen: time.Now()}
	b, _ := json.Marshal(rec)
	// A put into the machines bucket, without waiting for its acknowledgement: thousands of
	// machines heartbeat, and one handler goroutine waiting on each write would fall behind
	// (a failed write is logged; the next heartbeat writes again).
	if _, err := c.js.PublishAsync("$KV."+BucketMachines+"."+machine, b); err != nil {
		c.log.Warn("fleet: record heartbeat", "machine", machine, "err", err)
		return
	}
	if !c.claimNeeded(machine, hb.Users) {
		return
	}
	// Presence changed: written in the background, a few at a time.
	select {
	case c.claims <- struct{}{}:
	case <-c.ctx.Done():
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.claims }()
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		c.claim(ctx, machine, hb.Users)
	}()
}

// claimNeeded reports whether machine's presence differs from the users bucket (as mirrored).
func (c *Controller) claimNeeded(machine string, users []fleet.Presence) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range users {
		cur, ok := c.userCache[UserKey(p.User)]
		if !ok || cur.Machine != machine || cur.Display != p.Display || !cur.Since.Equal(p.Since.UTC()) {
			return true
		}
		n++
	}
	for _, u := range c.userCache {
		if u.Machine == machine {
			n--
		}
	}
	return n != 0
}

// claim points the users present on machine at it (the most recent presence wins), and
// releases those that left it.
func (c *Controller) claim(ctx context.Context, machine string, users []fleet.Presence) {
	present := map[string]bool{}
	for _, p := range users {
		key := UserKey(p.User)
		present[key] = true
		want := UserEntry{User: p.User, Machine: machine, Display: p.Display, Since: p.Since.UTC()}
		c.mu.Lock()
		cur, known := c.userCache[key]
		rev := c.userRev[key]
		c.mu.Unlock()
		switch {
		case known && cur.Machine == want.Machine && cur.Display == want.Display && cur.Since.Equal(want.Since):
			continue // nothing new
		case known && cur.Machine != machine && cur.Since.After(want.Since) && c.hasUser(ctx, cur.Machine, p.User):
			continue // present more recently elsewhere
		}
		b, _ := json.Marshal(want)
		var err error
		if known {
			_, err = c.users.Update(ctx, key, b, rev)
		} else {
			_, err = c.users.Create(ctx, key, b)
		}
		if err != nil && !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			c.log.Warn("fleet: record presence", "machine", machine, "user", p.User, "err", err)
		}
	}
	c.mu.Lock()
	var gone []string
	var revs []uint64
	for key, u := range c.userCache {
		if u.Machine == machine && !present[key] {
			gone, revs = append(gone, key), append(revs, c.userRev[key])
		}
	}
	c.mu.Unlock()
	for i, key := range gone {
		_ = c.users.Delete(ctx, key, jetstream.LastRevision(revs[i]))
	}
}

// hasUser reports whether machine is alive and announces user.
func (c *Controller) hasUser(ctx context.Context, machine, user string) bool {
	m, err := c.machine(ctx, machine)
	if err != nil {
		return false
	}
	for _, p := range m.Users {
		if p.User == user {
			return true
		}
	}
	return false
}

// machine reads a machine's entry; a machine silent for the presence TTL is not found.
func (c *Controller) machine(ctx context.Context, machine string) (Machine, error) {
	e, err := c.machines.Get(ctx, machine)
	if err != nil {
		return Machine{}, err
	}
	var m Machine
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return Machine{}, fmt.Errorf("%w: machine %s: %w", fleet.ErrProtocol, machine, err)
	}
	if time.Since(e.Created()) > c.opts.PresenceTTL {
		return Machine{}, jetstream.ErrKeyNotFound
	}
	return m, nil
}

func (c *Controller) onGoodbye(m *nats.Msg) {
	machine := fleet.MachineOf(m.Subject)
	if fleet.CheckMachine(machine) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	_ = c.machines.Delete(ctx, machine)
	c.claim(ctx, machine, nil)
}

// Locate finds the machine user is present on (cloud.Directory): the display there, or an
// error wrapping api.ErrNotFound.
func (c *Controller) Locate(ctx context.Context, user string) (string, error) {
	u, err := c.where(ctx, user)
	return u.Display, err
}

func (c *Controller) where(ctx context.Context, user string) (UserEntry, error) {
	e, err := c.users.Get(ctx, UserKey(user))
	for err != nil && transient(ctx, err) {
		e, err = c.users.Get(ctx, UserKey(user))
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return UserEntry{}, fleet.NotPresent(user)
	}
	if err != nil {
		return UserEntry{}, fmt.Errorf("controller: presence of %q: %w", user, err)
	}
	var u UserEntry
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		return UserEntry{}, fmt.Errorf("%w: presence of %q: %w", fleet.ErrProtocol, user, err)
	}
	if !c.hasUser(ctx, u.Machine, user) {
		return UserEntry{}, fleet.NotPresent(user)
	}
	return u, nil
}

// Lock takes user's start/stop lock across every replica (cloud.Directory): a compare-and-set
// create in BucketLocks; held elsewhere → an error wrapping api.ErrBusy. The lock ages out
// after the lock TTL should the holder die.
func (c *Controller) Lock(ctx context.Context, user string) (func(), error) {
	key := UserKey(user)
	rev, err := c.locks.Create(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	for err != nil && transient(ctx, err) {
		rev, err = c.locks.Create(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("controller: user %q: a start or stop is in progress: %w", user, api.ErrBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("controller: lock user %q: %w", user, err)
	}
	return sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := c.locks.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
			c.log.Warn("fleet: unlock (it ages out)", "user", user, "err", err)
		}
	}), nil
}

// NextContactID allocates the next contact id of the fleet: compare-and-set on one counter
// in JetStream, so ids are unique and increasing across replicas and restarts. Concurrent
// calls in one replica are combined into one compare-and-set of as many ids (a hot counter
// key would otherwise spend its time in conflicts); an id whose caller gave up is not reused.
func (c *Controller) NextContactID(ctx context.Context) (int64, error) {
	ch := make(chan idResult, 1)
	c.idMu.Lock()
	c.idWaiting = append(c.idWaiting, ch)
	if !c.idRunning {
		c.idRunning = true
		c.wg.Add(1)
		go c.allocate()
	}
	c.idMu.Unlock()
	select {
	case r := <-ch:
		return r.id, r.err
	case <-ctx.Done():
		return 0, fmt.Errorf("controller: contact id: %w", ctx.Err())
	}
}

type idResult struct {
	id  int64
	err error
}

// allocate serves the waiting callers, a batch at a time, until none wait.
func (c *Controller) allocate() {
	defer c.wg.Done()
	for {
		c.idMu.Lock()
		batch := c.idWaiting
		c.idWaiting = nil
		if len(batch) == 0 {
			c.idRunning = false
			c.idMu.Unlock()
			return
		}
		c.idMu.Unlock()
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		first, err := c.reserve(ctx, int64(len(batch)))
		cancel()
		for i, ch := range batch {
			ch <- idResult{first + int64(i), err}
		}
	}
}

// reserve takes n ids from the counter and returns the first.
func (c *Controller) reserve(ctx context.Context, n int64) (int64, error) {
	for {
		e, err := c.counters.Get(ctx, keyContactID)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			_, err := c.counters.Create(ctx, keyContactID, []byte(strconv.FormatInt(c.opts.ContactIDBase+n-1, 10)))
			if err == nil {
				return c.opts.ContactIDBase, nil
			}
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return 0, fmt.Errorf("controller: contact id: %w", err)
		}
		if err != nil {
			if transient(ctx, err) {
				continue
			}
			return 0, fmt.Errorf("controller: contact id: %w", err)
		}
		last, err := strconv.ParseInt(string(e.Value()), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: contact-id counter %q", fleet.ErrProtocol, e.Value())
		}
		_, err = c.counters.Update(ctx, keyContactID, []byte(strconv.FormatInt(last+n, 10)), e.Revision())
		if err == nil {
			return last + 1, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !transient(ctx, err) {
			return 0, fmt.Errorf("controller: contact id: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("controller: contact id: %w", err)
		}
	}
}

// transient reports whether err may go away by itself (a JetStream leader being elected after
// a node was lost, a reconnection) and ctx leaves time to try again; it then pauses briefly.
func transient(ctx context.Context, err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) ||
		errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrInvalidKey) {
		return false
	}
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
