//go:build unix

package testbin

import (
	"path/filepath"
	"testing"
	"time"
)

// A second package waiting to build the same binary waits until the first has released the
// lock (its build in the cache), not beside it.
func TestLockBuildExcludesASecondBuilder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key.lock")
	unlock, err := lockBuild(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		second, err := lockBuild(path)
		if err != nil {
			t.Error(err)
			second = func() {}
		}
		got <- second
	}()
	// Held: the second must still be waiting after a while (a failure shows at once on an
	// idle machine; a loaded one can only make the second later).
	select {
	case second := <-got:
		second()
		t.Fatal("a second lockBuild returned while the first held the lock")
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	select {
	case second := <-got:
		second()
	case <-time.After(time.Minute):
		t.Fatal("the second lockBuild did not return within a minute of the unlock")
	}
}
