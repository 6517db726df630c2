package rwsserver

import (
	"io"
	"log"
	"os"
	"testing"
)

// TestMain silences tusd's request log (it writes to the log package through
// golang.org/x/exp/slog); RWS_REQUEST_LOG=1 keeps it.
func TestMain(m *testing.M) {
	if os.Getenv("RWS_REQUEST_LOG") == "" {
		log.SetOutput(io.Discard)
	}
	os.Exit(m.Run())
}
