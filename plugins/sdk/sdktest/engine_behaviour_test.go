package sdktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/capture/capturetest"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

// The fake engine front ends test against behaves as the real engine does: both pass the same
// checks. The real engine records a scripted screen, so this runs without an X server.
func TestEngineBehaviour(t *testing.T) {
	t.Run("Fake", func(t *testing.T) {
		t.Parallel()
		sdktest.EngineBehaviour(t, func(t *testing.T) sdk.Engine {
			e := sdktest.NewFakeEngine()
			t.Cleanup(e.Close)
			return e
		})
	})
	t.Run("Real", func(t *testing.T) {
		t.Parallel()
		sdktest.EngineBehaviour(t, func(t *testing.T) sdk.Engine {
			e, err := engine.New(context.Background(), engine.Config{SpoolDir: t.TempDir(), MinFreeDisk: -1},
				engine.WithCaptureBackend(&capturetest.Screen{}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := e.Close(ctx); err != nil {
					t.Errorf("close engine: %v", err)
				}
			})
			return host.EngineAPI(e)
		})
	})
}
