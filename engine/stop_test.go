package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Concurrent Stops of one session: exactly one stops it, the others are busy (or, once it
// ended, terminal); none sees the state machine's own refusal.
func TestConcurrentStopsOfOneSession(t *testing.T) {
	t.Parallel()
	e := scriptedEngine(t, Config{}, twoMonitors())
	const rounds, stoppers = 10, 8
	for r := 0; r < rounds; r++ {
		s := start(t, e, StartRequest{Owner: "agent", Frontend: "oem"})
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			stopped int
		)
		gate := make(chan struct{})
		// Readers (an admin page polling) contend for the session's locks, as in a service.
		readCtx, stopReading := context.WithCancel(context.Background())
		for i := 0; i < 4; i++ {
			go func() {
				for readCtx.Err() == nil {
					_, _ = e.Get(readCtx, s.ID)
				}
			}()
		}
		for i := 0; i < stoppers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				_, err := e.Stop(ctx, s.ID)
				switch {
				case err == nil:
					mu.Lock()
					stopped++
					mu.Unlock()
				case errors.Is(err, ErrBusy), errors.Is(err, ErrTerminal):
				default:
					t.Errorf("round %d: Stop = %v, want nil, ErrBusy or ErrTerminal", r, err)
				}
			}()
		}
		close(gate)
		wg.Wait()
		stopReading()
		if stopped != 1 {
			t.Errorf("round %d: %d Stops succeeded, want 1", r, stopped)
		}
	}
}
