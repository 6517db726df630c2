package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// seqEvent returns an event numbered i; the number travels in Segment.Index.
func seqEvent(i int) Event {
	return Event{Kind: EventSegmentClosed, SessionID: "s1", Segment: &SegmentEvent{Index: i}}
}

// recvTimeout receives one event or fails the test after d.
func recvTimeout(t *testing.T, ch <-chan Event, d time.Duration) (Event, bool) {
	t.Helper()
	select {
	case e, ok := <-ch:
		return e, ok
	case <-time.After(d):
		t.Fatalf("no event and no close within %v", d)
		return Event{}, false
	}
}

// waitSettled waits until every subscriber's forwarder is offering the current head of its
// queue, so that a reader arriving now gets exactly what the queue holds. Only tests need this:
// right after a publish that dropped the head, a reader racing the forwarder may still receive
// the dropped head (the count stays exact; see hub.forward).
func waitSettled(t *testing.T, h *hub) {
	t.Helper()
	waitFor(t, 5*time.Second, "the forwarders to settle", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for s := range h.subs {
			s.mu.Lock()
			ok := s.n == 0 || s.offering == s.headSeq
			s.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
}

// subOf returns the subscription behind ch.
func subOf(t *testing.T, h *hub, ch <-chan Event) *subscription {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if (<-chan Event)(s.out) == ch {
			return s
		}
	}
	t.Fatal("no such subscription")
	return nil
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEventsJSON(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	sc := Event{Kind: EventStateChanged, Time: at, SessionID: "s1", From: StateIdle, To: StateStarting}
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"state_changed","time":"2025-03-01T12:00:00Z","session_id":"s1","from":"idle","to":"starting"}`
	if string(b) != want {
		t.Errorf("state change JSON\n got %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.Kind != sc.Kind || back.From != sc.From ||
		back.To != sc.To || !back.Time.Equal(at) || back.SessionID != "s1" {
		t.Errorf("round trip = %+v, %v", back, err)
	}

	seg := Event{Kind: EventSegmentClosed, Time: at, SessionID: "s1", Dropped: 3,
		Segment: &SegmentEvent{Index: 2, Path: "/spool/s1/0002.mp4", Bytes: 1024, SHA256: "ab"}}
	b, err = json.Marshal(&seg) // pointer too: the value method applies
	if err != nil {
		t.Fatal(err)
	}
	want = `{"kind":"segment_closed","time":"2025-03-01T12:00:00Z","session_id":"s1",` +
		`"segment":{"index":2,"path":"/spool/s1/0002.mp4","bytes":1024,"sha256":"ab"},"dropped":3}`
	if string(b) != want {
		t.Errorf("segment JSON\n got %s\nwant %s", b, want)
	}
	if strings.Contains(string(b), `"from"`) || strings.Contains(string(b), `"to"`) {
		t.Errorf("from/to present on a %s event: %s", seg.Kind, b)
	}

	// Inside another struct and a slice, MarshalJSON still applies.
	b, err = json.Marshal(map[string][]Event{"events": {sc, seg}})
	if err != nil || strings.Count(string(b), `"from"`) != 1 {
		t.Errorf("nested JSON = %s, %v", b, err)
	}

	if _, err := json.Marshal(Event{}); err == nil {
		t.Error("an event without a kind marshalled")
	}
}

func TestHubOrderingFastSubscriber(t *testing.T) {
	const total = 2000
	h := newHub(total) // room for everything: a reader that keeps up loses nothing
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := h.subscribe(ctx)
	before := time.Now()
	for i := range total {
		h.publish(seqEvent(i))
	}
	h.close()
	n := 0
	for e := range ch {
		if e.Segment.Index != n {
			t.Fatalf("event #%d has index %d", n, e.Segment.Index)
		}
		if e.Dropped != 0 {
			t.Fatalf("event #%d: Dropped = %d", n, e.Dropped)
		}
		if e.Time.Before(before) || e.Time.After(time.Now()) {
			t.Fatalf("event #%d: Time %v not set by publish", n, e.Time)
		}
		n++
	}
	if n != total {
		t.Fatalf("received %d events, want %d", n, total)
	}
}

// TestHubDroppedCountIsExact: a reader that sometimes stalls receives events in order, and every
// gap in the sequence is exactly the Dropped of the event after it — also when the publisher
// drops while the reader is receiving.
func TestHubDroppedCountIsExact(t *testing.T) {
	const total = 20000
	for _, buffer := range []int{1, 4, 64} {
		t.Run(fmt.Sprint("buffer=", buffer), func(t *testing.T) {
			h := newHub(buffer)
			ch := h.subscribe(context.Background())
			done := make(chan struct{})
			var received, dropped, last int
			go func() {
				defer close(done)
				last = -1
				for e := range ch {
					if got, want := e.Segment.Index, last+1+e.Dropped; got != want {
						t.Errorf("after %d with Dropped=%d got %d, want %d", last, e.Dropped, got, want)
						return
					}
					last = e.Segment.Index
					received++
					dropped += e.Dropped
					if received%97 == 0 {
						time.Sleep(50 * time.Microsecond)
					}
				}
			}()
			for i := range total {
				h.publish(seqEvent(i))
			}
			h.close()
			<-done
			if last != total-1 || received+dropped != total {
				t.Fatalf("last %d, received %d + dropped %d, want last %d and %d in all",
					last, received, dropped, total-1, total)
			}
			t.Logf("received %d, dropped %d", received, dropped)
		})
	}
}

func TestHubBlockedSubscriberDoesNotBlockPublish(t *testing.T) {
	const (
		buffer = 16
		total  = 10000
	)
	h := newHub(buffer)
	blocked := h.subscribe(context.Background()) // never read until the end
	fast := h.subscribe(context.Background())
	fastDone := make(chan int)
	go func() {
		n := 0
		for range fast {
			n++
		}
		fastDone <- n
	}()

	start := time.Now()
	for i := range total {
		h.publish(seqEvent(i))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("publishing %d events with a blocked subscriber took %v", total, d)
	}

	// The blocked subscriber now holds the newest `buffer` events; the first says how many
	// were lost before it.
	waitSettled(t, h)
	for i := range buffer {
		e, ok := recvTimeout(t, blocked, time.Second)
		if !ok {
			t.Fatalf("channel closed after %d events", i)
		}
		if want := total - buffer + i; e.Segment.Index != want {
			t.Fatalf("event #%d has index %d, want %d", i, e.Segment.Index, want)
		}
		wantDropped := 0
		if i == 0 {
			wantDropped = total - buffer
		}
		if e.Dropped != wantDropped {
			t.Fatalf("event #%d (index %d): Dropped = %d, want %d", i, e.Segment.Index, e.Dropped, wantDropped)
		}
	}
	select {
	case e := <-blocked:
		t.Fatalf("more than %d events queued: got index %d", buffer, e.Segment.Index)
	default:
	}
	// Delivery resumes normally, with nothing counted twice.
	h.publish(seqEvent(total))
	if e, _ := recvTimeout(t, blocked, time.Second); e.Segment.Index != total || e.Dropped != 0 {
		t.Fatalf("next event: index %d Dropped %d, want %d and 0", e.Segment.Index, e.Dropped, total)
	}
	h.close()
	if n := <-fastDone; n == 0 {
		t.Fatal("the reading subscriber got nothing")
	}
}

func TestHubSegmentCopiedPerSubscriber(t *testing.T) {
	h := newHub(4)
	a := h.subscribe(context.Background())
	b := h.subscribe(context.Background())
	seg := &SegmentEvent{Index: 1, Path: "/p"}
	h.publish(Event{Kind: EventSegmentClosed, Segment: seg, Dropped: 7})
	ea, _ := recvTimeout(t, a, time.Second)
	eb, _ := recvTimeout(t, b, time.Second)
	ea.Segment.Path = "changed"
	if eb.Segment.Path != "/p" || seg.Path != "/p" {
		t.Fatal("subscribers share the publisher's Segment")
	}
	if ea.Dropped != 0 || eb.Dropped != 0 {
		t.Fatal("publisher's Dropped leaked to subscribers")
	}
	h.close()
}

func TestHubContextCancelUnsubscribes(t *testing.T) {
	h := newHub(4)
	ctx, cancel := context.WithCancel(context.Background())
	ch := h.subscribe(ctx)
	other := h.subscribe(context.Background())
	if n := h.subscribers(); n != 2 {
		t.Fatalf("subscribers() = %d, want 2", n)
	}
	h.publish(seqEvent(0))
	cancel()
	waitFor(t, 5*time.Second, "the subscriber to be removed", func() bool { return h.subscribers() == 1 })
	// An event queued before the cancel may still be read, then the channel is closed.
	for {
		_, ok := recvTimeout(t, ch, 5*time.Second)
		if !ok {
			break
		}
	}
	// Publishing afterwards neither panics nor reaches the gone subscriber.
	h.publish(seqEvent(1))
	if e, _ := recvTimeout(t, other, time.Second); e.Segment.Index != 0 {
		t.Fatalf("other subscriber got %d first", e.Segment.Index)
	}
	if e, _ := recvTimeout(t, other, time.Second); e.Segment.Index != 1 {
		t.Fatalf("other subscriber got %d second", e.Segment.Index)
	}

	// A context that has already ended gives a closed channel and no subscriber.
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if _, ok := recvTimeout(t, h.subscribe(done), time.Second); ok {
		t.Fatal("subscribe with an ended context returned an open channel")
	}
	if n := h.subscribers(); n != 1 {
		t.Fatalf("subscribers() = %d, want 1", n)
	}
	h.close()
}

func TestHubCloseClosesAll(t *testing.T) {
	h := newHub(4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chans := []<-chan Event{h.subscribe(ctx), h.subscribe(context.Background()), h.subscribe(ctx)}
	h.publish(seqEvent(0))
	h.close()
	if n := h.subscribers(); n != 0 {
		t.Fatalf("subscribers() after close = %d", n)
	}
	h.publish(seqEvent(1)) // no-op, no panic
	for i, ch := range chans {
		if e, ok := recvTimeout(t, ch, time.Second); !ok || e.Segment.Index != 0 {
			t.Fatalf("subscriber %d: queued event lost at close (ok=%v)", i, ok)
		}
		if _, ok := recvTimeout(t, ch, time.Second); ok {
			t.Fatalf("subscriber %d: channel still open after close", i)
		}
	}
	cancel()  // the forwarders have ended: nothing is closed twice
	h.close() // idempotent
	if _, ok := recvTimeout(t, h.subscribe(context.Background()), time.Second); ok {
		t.Fatal("subscribe after close returned an open channel")
	}
}

// TestHubCloseDrainTimeout: after close, a subscriber that does not read its queued events
// loses them after the drain timeout, and its forwarder ends; one that reads gets them all.
func TestHubCloseDrainTimeout(t *testing.T) {
	h := newHub(8)
	h.drainTimeout = 20 * time.Millisecond
	idle := h.subscribe(context.Background())
	reader := h.subscribe(context.Background())
	idleSub, readerSub := subOf(t, h, idle), subOf(t, h, reader)
	for i := range 5 {
		h.publish(seqEvent(i))
	}
	h.close()
	for i := range 5 {
		if e, ok := recvTimeout(t, reader, time.Second); !ok || e.Segment.Index != i {
			t.Fatalf("reader: event %d: index %d ok=%v", i, e.Segment.Index, ok)
		}
	}
	if _, ok := recvTimeout(t, reader, time.Second); ok {
		t.Fatal("reader: channel open after the queue was handed over")
	}
	select {
	case <-idleSub.done:
	case <-time.After(5 * time.Second):
		t.Fatal("idle subscriber's forwarder still running long after the drain timeout")
	}
	if _, ok := recvTimeout(t, idle, time.Second); ok {
		t.Fatal("idle subscriber: channel open after the drain timeout")
	}
	<-readerSub.done
}

// TestHubForwardersEnd: cancelling a subscription ends its forwarder, whether it waits for
// events or is offering one nobody reads, so subscriptions leak no goroutine.
func TestHubForwardersEnd(t *testing.T) {
	h := newHub(2)
	ctx, cancel := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	waiting := h.subscribe(ctx)   // empty queue: its forwarder waits for a wake-up
	offering := h.subscribe(ctx2) // gets an event it never reads
	subs := []*subscription{subOf(t, h, waiting), subOf(t, h, offering)}
	h.publish(seqEvent(0))
	cancel()
	waitFor(t, 5*time.Second, "one subscriber to go", func() bool { return h.subscribers() == 1 })
	cancel2()
	for i, s := range subs {
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("forwarder %d did not end after cancel", i)
		}
	}
	if n := h.subscribers(); n != 0 {
		t.Fatalf("subscribers() = %d after both cancelled", n)
	}
	h.close()
}

// TestHubConcurrent runs publishers, subscribers that come and go, and a close that lands in the
// middle of it all; run it with -race. Per publisher, every subscriber sees events in order.
func TestHubConcurrent(t *testing.T) {
	const (
		publishers  = 4
		perPub      = 3000
		subscribers = 16
	)
	h := newHub(8)
	var wg sync.WaitGroup
	stop := make(chan struct{})

	for s := range subscribers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; ; round++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+(s+round)%5)*time.Millisecond)
				last := make(map[string]int)
				for e := range h.subscribe(ctx) {
					if prev, ok := last[e.SessionID]; ok && e.Segment.Index <= prev {
						t.Errorf("subscriber %d: %s went from %d to %d", s, e.SessionID, prev, e.Segment.Index)
					}
					last[e.SessionID] = e.Segment.Index
					if s%3 == 0 {
						time.Sleep(20 * time.Microsecond) // a slow one
					}
				}
				cancel()
				_ = h.subscribers()
			}
		}()
	}

	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range perPub {
				h.publish(Event{Kind: EventWarning, SessionID: fmt.Sprint("pub", p), Segment: &SegmentEvent{Index: i}})
			}
		}()
	}
	pubs.Wait()
	h.close() // subscribers' channels close; their next subscribe gets a closed channel
	close(stop)
	within(t, 10*time.Second, wg.Wait)
	if n := h.subscribers(); n != 0 {
		t.Fatalf("subscribers() = %d after close", n)
	}
}
