package engine

import (
	"context"
	"sync"
	"time"
)

// eventDrainTimeout bounds how long, after the hub closes, a subscriber's channel stays open to
// hand over the events still queued for it; a subscriber that does not read them in time loses
// them. A variable so tests can shorten it (per hub: hub.drainTimeout).
var eventDrainTimeout = 5 * time.Second

// hub fans events out to subscribers without ever blocking the publisher.
//
// Each subscriber has a bounded queue (a ring of `buffer` events) and a forwarder goroutine that
// offers the queue's head on the subscriber's unbuffered channel. publish only appends to the
// queues. When a queue is full its oldest event is dropped, and the count of dropped events
// travels with the head of the queue, so the next event the subscriber receives carries in
// Dropped exactly how many it lost since the previous one.
//
// Why not a plain buffered channel per subscriber: an event inside a channel cannot be changed,
// so the count of events dropped from the front could only ride on the event being pushed at the
// back; and taking the queue out to fix its head lets a concurrent reader overtake the events
// taken out. A queue the hub owns, plus one goroutine per subscriber, has neither problem.
type hub struct {
	buffer       int
	drainTimeout time.Duration // see eventDrainTimeout

	mu     sync.Mutex // guards subs and closed; publish holds it, so queues see events in one order
	subs   map[*subscription]struct{}
	closed bool
}

// subscription is one subscriber: its queue and the channel its forwarder sends on.
type subscription struct {
	out  chan Event    // unbuffered; only the forwarder sends on it and closes it
	kick chan struct{} // capacity 1: the queue gained a first event, lost its head, or closes
	done chan struct{} // closed when the forwarder has returned (and out is closed)

	mu       sync.Mutex
	ring     []Event // len == buffer; the queue is ring[head], ring[head+1], … (n events)
	head, n  int
	headSeq  uint64 // number of events ever removed from the front (delivered or dropped)
	offering uint64 // headSeq of the event the forwarder last took to offer (tests use it)
	closing  bool   // the hub closed: hand over what is queued, then close out
}

// newHub returns a hub whose subscribers each queue up to buffer events (at least 1).
func newHub(buffer int) *hub {
	if buffer < 1 {
		buffer = 1
	}
	return &hub{buffer: buffer, drainTimeout: eventDrainTimeout, subs: make(map[*subscription]struct{})}
}

// subscribe returns a channel that receives the events published from now on, in publish order.
// When ctx ends the channel is closed and events still queued for it are discarded. When the hub
// closes, the events still queued are handed over first (for up to the drain timeout), then the
// channel is closed. If ctx or the hub has already ended, the channel is returned closed.
func (h *hub) subscribe(ctx context.Context) <-chan Event {
	s := &subscription{
		out:  make(chan Event),
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
		ring: make([]Event, h.buffer),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || ctx.Err() != nil {
		close(s.out)
		close(s.done)
		return s.out
	}
	h.subs[s] = struct{}{}
	go h.forward(ctx, s)
	return s.out
}

// publish hands e to every subscriber and never blocks: it only appends to their queues. A
// subscriber whose queue is full loses its oldest queued event, and the event it receives next
// carries in Dropped how many it lost since the last one it received. publish sets Time when it
// is zero, overwrites Dropped, and gives each subscriber its own copy of Segment. After close it
// does nothing.
func (h *hub) publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Dropped = 0
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for s := range h.subs {
		ev := e
		if e.Segment != nil {
			seg := *e.Segment
			ev.Segment = &seg
		}
		s.push(ev)
	}
}

// close makes publish a no-op and ends every subscription: each channel is closed once the events
// already queued for it have been received (or the drain timeout or its ctx ends first). It does
// not wait for that. It is safe to call more than once.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.wake()
	}
}

// subscribers returns the number of live subscriptions; ended ones are removed at once by close,
// and shortly after their ctx ends otherwise.
func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// remove forgets s; a no-op if close already did.
func (h *hub) remove(s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// push appends e to the queue, dropping the oldest event if the queue is full; the dropped
// event's count, plus one, moves to the new head (or to e when the queue held only one event).
// Only the head ever carries a non-zero Dropped.
func (s *subscription) push(e Event) {
	s.mu.Lock()
	wake := s.n == 0
	if s.n == len(s.ring) {
		lost := s.ring[s.head].Dropped + 1
		s.ring[s.head] = Event{}
		s.head = (s.head + 1) % len(s.ring)
		s.n--
		s.headSeq++
		if s.n > 0 {
			s.ring[s.head].Dropped += lost
		} else {
			e.Dropped += lost
		}
		wake = true // the forwarder may be offering the event just dropped
	}
	s.ring[(s.head+s.n)%len(s.ring)] = e
	s.n++
	s.mu.Unlock()
	if wake {
		s.wake()
	}
}

// wake tells the forwarder to look at the queue again, without blocking.
func (s *subscription) wake() {
	select {
	case s.kick <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// forward is s's forwarder: it offers the head of the queue on s.out until ctx ends, or the hub
// has closed and the queue is empty or the drain timeout has passed. It then closes s.out.
//
// The head stays in the queue while it is offered. If publish drops it meanwhile, it wakes the
// forwarder, which offers the new head instead. If the reader took the old head at that very
// moment, the drop is undone in the count: the new head carries the old head's Dropped plus one
// too many, so that much is taken off.
func (h *hub) forward(ctx context.Context, s *subscription) {
	defer close(s.done)
	defer close(s.out)
	defer h.remove(s)
	var drain <-chan time.Time // fires drainTimeout after the hub closed
	for {
		s.mu.Lock()
		if s.closing && drain == nil {
			t := time.NewTimer(h.drainTimeout)
			defer t.Stop()
			drain = t.C
		}
		if s.n == 0 {
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-s.kick:
				continue
			case <-ctx.Done():
				return
			}
		}
		ev, seq := s.ring[s.head], s.headSeq
		s.offering = seq
		s.mu.Unlock()

		select {
		case s.out <- ev:
			s.mu.Lock()
			if s.headSeq == seq { // ev is still the head: remove it
				s.ring[s.head] = Event{}
				s.head = (s.head + 1) % len(s.ring)
				s.n--
				s.headSeq++
			} else { // ev was dropped while it was being received: it was not lost after all
				s.ring[s.head].Dropped -= ev.Dropped + 1
			}
			s.mu.Unlock()
		case <-s.kick:
		case <-ctx.Done():
			return
		case <-drain:
			return
		}
	}
}
