package xvfb

import (
	"context"
	"testing"
	"time"
)

// StartForTest starts a server with the given monitors for the duration of
// a test or benchmark. It skips the test in the short tier (go test -short
// runs without an X server) and when Xvfb or xrandr is missing, fails it
// when the server cannot start, and closes the server in t.Cleanup.
func StartForTest(t testing.TB, monitors []Monitor) *Server {
	t.Helper()
	SkipIfUnavailable(t)
	// Deliberately not t.Context(): Start only uses the context during
	// start-up, and a timeout keeps a wedged Xvfb from hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{Monitors: monitors})
	if err != nil {
		t.Fatalf("start Xvfb: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close Xvfb %s: %v", s.Display, err)
		}
	})
	return s
}

// SkipIfUnavailable skips the test in the short tier (go test -short runs
// without an X server) and when Xvfb or xrandr is missing. StartForTest
// calls it; a test that starts Xvfb some other way calls it first.
func SkipIfUnavailable(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping in -short mode: needs an X server (Xvfb)")
	}
	if err := Available(); err != nil {
		t.Skipf("skipping: no virtual X server available: %v", err)
	}
}
