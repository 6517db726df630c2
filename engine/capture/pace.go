package capture

import (
	"context"
	"time"
)

// Pacer paces a change-tracking source at a fixed frame interval: Wait sleeps until the next
// frame is due and says how many frame times were missed, so a late source skips ahead
// instead of bursting.
type Pacer struct {
	// Interval is the frame interval.
	Interval time.Duration
	next     time.Time
}

// NewPacer paces at fps frames a second.
func NewPacer(fps int) Pacer { return Pacer{Interval: time.Second / time.Duration(max(fps, 1))} }

// Wait sleeps until the next frame is due (or ctx ends) and reports how many frame times were
// missed since the last one.
func (p *Pacer) Wait(ctx context.Context) (int, error) {
	now := time.Now()
	if p.next.IsZero() {
		p.next = now
	}
	if d := p.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	} else if err := ctx.Err(); err != nil {
		return 0, err
	}
	missed := 0
	if late := time.Since(p.next); late >= p.Interval {
		missed = int(late / p.Interval)
		p.next = p.next.Add(time.Duration(missed) * p.Interval)
	}
	p.next = p.next.Add(p.Interval)
	return missed, nil
}

// Resync makes a frame overdue since the reader slept on purpose due now, and returns how
// many frame times went by in the meantime (unread: nothing had changed) instead of counting
// them as missed; a frame not yet due stays so (the rate holds).
func (p *Pacer) Resync() int {
	now := time.Now()
	if p.next.IsZero() || now.Before(p.next) {
		return 0
	}
	// The frame times before the last one due went by unread; the last one is read now.
	// Keeping the phase (rather than starting again from now) drops no fraction of a frame
	// time at each sleep, so the frame times add up to the recording's length.
	n := int(now.Sub(p.next) / p.Interval)
	p.next = p.next.Add(time.Duration(n) * p.Interval)
	return n
}
