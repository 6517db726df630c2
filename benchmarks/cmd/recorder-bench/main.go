// Command recorder-bench is the encoder benchmark suite (package encoderbench): the recorder
// against the ffmpeg CLI for each scene × resolution × encoder. It is its own binary so that
// the recorder carries no benchmark code; `make bench` builds and runs it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/screenrec/recorder/internal/memtrim"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks errors in how the command was called; they exit with status 2.
var errUsage = errors.New("usage")

func main() {
	_ = memtrim.Trim() // as the recorder does, so that encode-only children compare alike
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newBenchCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "recorder-bench: %v\n", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// setLogLevel makes slog log at the --log-level given.
func setLogLevel(w io.Writer, level string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, level)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})))
	return nil
}
