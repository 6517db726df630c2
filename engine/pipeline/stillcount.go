package pipeline

import (
	"sync"
	"time"
)

// stillCount counts a track's frame times skipped as unchanged. A still screen sleeps in
// WaitChange until something is due (up to max_frame_gap, 10 s), which returns how many frame
// times it slept through; the count includes those of a sleep in progress, so that it (and
// the recorder.frames.* metrics made from it) follows the clock, and it never goes back.
type stillCount struct {
	mu       sync.Mutex
	n        int64
	from     time.Time     // the sleep in progress began; zero when awake
	interval time.Duration // of the sleep in progress
}

// add counts n frame times.
func (s *stillCount) add(n int64) {
	s.mu.Lock()
	s.n += n
	s.mu.Unlock()
}

// sleeping marks the start of a sleep of frame times interval apart.
func (s *stillCount) sleeping(interval time.Duration) {
	s.mu.Lock()
	s.from, s.interval = time.Now(), interval
	s.mu.Unlock()
}

// woke ends the sleep, which slept through n frame times: at least those already reported.
func (s *stillCount) woke(n int64) {
	s.mu.Lock()
	s.n += max(n, s.credit(time.Now()))
	s.from = time.Time{}
	s.mu.Unlock()
}

// load is the count, with the frame times of a sleep in progress.
func (s *stillCount) load() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n + s.credit(time.Now())
}

// credit is how many whole frame times the sleep in progress has lasted at now; s.mu is held.
func (s *stillCount) credit(now time.Time) int64 {
	if s.from.IsZero() || s.interval <= 0 {
		return 0
	}
	return int64(now.Sub(s.from) / s.interval)
}
