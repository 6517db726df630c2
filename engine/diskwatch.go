package engine

import (
	"context"
	"fmt"
	"time"
)

// diskWatchInterval is how often the spool's space is checked while sessions write. A
// session writes well under a megabyte a second: a few checks a second keep the floor from
// being crossed by more than a trifle of it, at the cost of one statfs (and, with a quota, one
// small catalog read) each.
const diskWatchInterval = 250 * time.Millisecond

// diskWatchIdle is the longest between checks: while the sessions write next to nothing (a
// still screen) or none records, the interval doubles up to it, so that an idle engine does
// not wake four times a second; an outside writer filling the disk is noticed within it (and
// a failed write ends the session in any case, see watchDisk).
const diskWatchIdle = 2 * time.Second

// diskWatchBusy is what the sessions must have written since the last check for the next one
// to come after diskWatchInterval again.
const diskWatchBusy = 64 << 10

// watchDisk keeps min_free_disk and spool_quota enforced while recording, not only at a
// start: when the spool's file system drops below its floor, or the spool reaches its quota,
// every running session is ended cleanly (its files end at the last frame before, as on a
// stop) and fails with the reason, and starts are refused (checkSpace) until space comes
// back, which needs no restart.
//
// The floor is also the catalog's reserve: the sessions are ended while at least the floor
// (default 256 MiB) is free, and ending them writes little more, each file's last fragment
// and a trailer, and a few SQLite pages to mark them failed (the catalog's rows are small;
// its WAL grows by a page or so per update). Should a write still fail (min_free_disk off, or
// an outside writer filling the disk faster than the checks), the failed write itself ends the
// session, with the file cut back to its last complete fragment (engine/mux).
//
// It runs until ctx ends; done is closed then.
func (e *Engine) watchDisk(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	if e.cfg.MinFreeDisk <= 0 && e.cfg.SpoolQuota <= 0 {
		return
	}
	interval := diskWatchInterval
	t := time.NewTimer(interval)
	defer t.Stop()
	var written int64 // by the live sessions, at the last check
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		live := e.recordingSessions()
		var now int64
		for _, s := range live {
			s.mu.Lock()
			now += s.sink.Bytes()
			s.mu.Unlock()
		}
		if len(live) == 0 || now-written < diskWatchBusy {
			interval = min(2*interval, diskWatchIdle)
		} else {
			interval = diskWatchInterval
		}
		written = now
		t.Reset(interval)
		if len(live) == 0 {
			continue
		}
		cause := e.spaceShortage(ctx, live)
		if cause == nil {
			continue
		}
		for _, s := range live {
			s.mu.Lock()
			sink := s.sink
			s.mu.Unlock()
			sink.Fail(cause)
		}
	}
}

// recordingSessions are the sessions with a sink (those past starting).
func (e *Engine) recordingSessions() []*session {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*session
	for _, s := range e.sessions {
		s.mu.Lock()
		if s.sink != nil {
			out = append(out, s)
		}
		s.mu.Unlock()
	}
	return out
}

// spaceShortage says why recording must end now, nil when there is room: the disk is below
// its floor, or the spool at its quota (counting what the live sessions have written into
// their open segments, which the catalog does not have yet).
func (e *Engine) spaceShortage(ctx context.Context, live []*session) error {
	if e.cfg.MinFreeDisk > 0 {
		if free, ok := freeBytes(e.cfg.SpoolDir); ok && free < e.cfg.MinFreeDisk {
			return fmt.Errorf("recording ended: %w: %d bytes free in %s, floor %d", ErrDiskFull, free, e.cfg.SpoolDir, e.cfg.MinFreeDisk)
		}
	}
	if e.cfg.SpoolQuota > 0 {
		used, err := e.cat.SpoolBytes(ctx)
		if err != nil {
			return nil // a catalog that cannot be read is for its own checks to report
		}
		for _, s := range live {
			for _, sg := range s.snapshot().Segments {
				if !sg.Closed { // a closed one is in the catalog's sum
					used += sg.Bytes
				}
			}
		}
		if used >= e.cfg.SpoolQuota {
			return fmt.Errorf("recording ended: %w: %d bytes kept, quota %d", ErrSpoolQuota, used, e.cfg.SpoolQuota)
		}
	}
	return nil
}
