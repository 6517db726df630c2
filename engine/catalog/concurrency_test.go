package catalog

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentCreate hammers one catalog from many goroutines, mixing reads and updates in,
// and checks that every create succeeds (no SQLITE_BUSY) with a distinct contact id.
func TestConcurrentCreate(t *testing.T) {
	const workers, each = 16, 25
	ctx := context.Background()
	c, _ := openTest(t)

	ids := make(chan int64, workers*each)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%02d-%02d", w, i)
				r, err := c.CreateRecording(ctx, NewRecording{ID: id, Owner: fmt.Sprint("w", w)})
				if err != nil {
					errs <- err
					continue
				}
				ids <- r.ContactID
				if _, err := c.UpdateRecording(ctx, id, func(r *Recording) error { r.State = "recording"; return nil }); err != nil {
					errs <- err
				}
				if _, err := c.ListRecordings(ctx, RecordingFilter{Owner: r.Owner, Limit: 5}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertContiguous(t, ids, workers*each, DefaultContactIDBase)
}

// TestConcurrentCreateTwoHandles opens the same file twice — as a second process (a CLI) would
// — and writes through both at once: BEGIN IMMEDIATE plus busy_timeout must make them queue
// rather than fail, and the shared counter must still hand out distinct ids.
func TestConcurrentCreateTwoHandles(t *testing.T) {
	const workers, each = 8, 25
	ctx := context.Background()
	a, path := openTest(t)
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	ids := make(chan int64, 2*workers*each)
	errs := make(chan error, 4*workers*each)
	var wg sync.WaitGroup
	for h, c := range []*Catalog{a, b} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					id := fmt.Sprintf("h%d-w%02d-%02d", h, w, i)
					r, err := c.CreateRecording(ctx, NewRecording{ID: id})
					if err != nil {
						errs <- err
						continue
					}
					ids <- r.ContactID
					// Read-modify-write: with deferred transactions this is where the two
					// handles fail with SQLITE_BUSY(_SNAPSHOT) instead of waiting.
					if _, err := c.UpdateRecording(ctx, id, func(r *Recording) error { r.State = "recording"; return nil }); err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertContiguous(t, ids, 2*workers*each, DefaultContactIDBase)
}

// assertContiguous checks that ids holds exactly n distinct ids base..base+n-1: a rolled-back
// or failed create must not leave a hole either.
func assertContiguous(t *testing.T, ids <-chan int64, n int, base int64) {
	t.Helper()
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("contact id %d handed out twice", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct contact ids, want %d", len(seen), n)
	}
	for id := base; id < base+int64(n); id++ {
		if !seen[id] {
			t.Errorf("contact id %d missing", id)
		}
	}
}
