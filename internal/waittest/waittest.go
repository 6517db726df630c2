// Package waittest waits in tests for a condition rather than for a time: it polls until the
// condition holds or a deadline passes, and then fails saying what it last saw.
package waittest

import (
	"testing"
	"time"
)

// Until polls cond every 20 ms until it holds, or fails t after d with what cond last saw.
func Until[S any](t testing.TB, what string, d time.Duration, cond func() (bool, S)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var seen S
	for {
		var ok bool
		if ok, seen = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last seen: %+v", what, d, seen)
}
