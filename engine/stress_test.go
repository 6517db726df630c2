package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// Many goroutines start, stop and mask the same and different sessions at once; the race
// detector watches, and every session must end in a terminal state and stay there.
func TestConcurrentStartStopMask(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{MaxSessions: 8, FPS: 5})
	src := Source{Display: srv.Display, Region: image.Rect(0, 0, 160, 120)}
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			owner := fmt.Sprintf("agent%d", g%4) // owners shared by several goroutines
			for i := 0; i < 6; i++ {
				switch r.IntN(3) {
				case 0:
					s, err := e.Start(context.Background(), StartRequest{Owner: owner, Frontend: fmt.Sprintf("fe%d", r.IntN(2)), Source: src})
					if err == nil {
						mu.Lock()
						ids[s.ID] = true
						mu.Unlock()
					} else if !errors.Is(err, ErrAlreadyRecording) && !errors.Is(err, ErrTooManySessions) {
						t.Errorf("start: %v", err)
					}
				case 1:
					mu.Lock()
					var id string
					for k := range ids {
						id = k
						break
					}
					mu.Unlock()
					if id != "" {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, err := e.Stop(ctx, id)
						cancel()
						if err != nil && !errors.Is(err, ErrTerminal) && !errors.Is(err, ErrBusy) {
							t.Errorf("stop: %v", err)
						}
					}
				case 2:
					if _, err := e.Mask(context.Background(), MaskTarget{Owner: owner}, r.IntN(2) == 0); err != nil {
						t.Errorf("mask: %v", err)
					}
				}
				time.Sleep(time.Duration(r.IntN(150)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	e2 := newEngine(t, Config{SpoolDir: e.cfg.SpoolDir})
	list, err := e2.List(context.Background(), ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(ids) {
		t.Errorf("catalog lists %d sessions, %d were started", len(list), len(ids))
	}
	for _, s := range list {
		if s.State != StateCompleted || s.Interrupted {
			t.Errorf("session %s ended %s (interrupted %v): %s", s.ID, s.State, s.Interrupted, s.Error)
		}
		if _, err := e2.Stop(context.Background(), s.ID); !errors.Is(err, ErrTerminal) {
			t.Errorf("stop after close: %v, want ErrTerminal", err)
		}
	}
}
