package capture

import (
	"testing"
	"time"
)

// After a sleep, Resync counts the frame times that went by and keeps the pacer's phase: the
// frame due last is read now, and the fraction of a frame time after it is not lost (sleeps of
// 2.5 frame times added up to too few frame times before).
func TestPacerResyncKeepsThePhase(t *testing.T) {
	p := NewPacer(10)
	due := time.Now().Add(-250 * time.Millisecond)
	p.next = due
	if n := p.Resync(); n != 2 {
		t.Errorf("Resync after 2.5 frame times = %d, want 2", n)
	}
	if want := due.Add(2 * p.Interval); !p.next.Equal(want) {
		t.Errorf("next frame due at %v after the sleep's start, want %v", p.next.Sub(due), want.Sub(due))
	}
	missed, err := p.Wait(t.Context())
	if err != nil || missed != 0 {
		t.Errorf("Wait = %d, %v; want the due frame at once", missed, err)
	}
}
