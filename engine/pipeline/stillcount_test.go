package pipeline

import (
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/waittest"
)

// A sleep's frame times count while it lasts, and waking never takes back what was counted,
// even when the sleep reports fewer frame times than the clock gave it.
func TestStillCountFollowsTheClock(t *testing.T) {
	var s stillCount
	s.add(2)
	s.sleeping(5 * time.Millisecond)
	waittest.Until(t, "frame times counted during the sleep", 10*time.Second, func() (bool, int64) {
		return s.load() >= 2+4, s.load()
	})
	seen := s.load()
	s.woke(1) // the source says 1: fewer than already reported
	if got := s.load(); got < seen {
		t.Fatalf("count went back from %d to %d on waking", seen, got)
	}
	after := s.load()
	time.Sleep(20 * time.Millisecond)
	if got := s.load(); got != after {
		t.Errorf("awake, the count moved from %d to %d by itself", after, got)
	}
	s.sleeping(time.Hour)
	s.woke(7)
	if got := s.load(); got != after+7 {
		t.Errorf("a sleep reporting 7 frame times: %d, want %d", got, after+7)
	}
}
