// Command recorder-bench is the encoder benchmark suite (package encoderbench): the recorder
// against the ffmpeg CLI for each scene × resolution × encoder. It is its own binary so that
// the recorder carries no benchmark code; `make bench` builds and runs it.
package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/screenrec/recorder/internal/cli"
	"github.com/screenrec/recorder/internal/memtrim"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks errors in how the command was called; they exit with status 2 (cli.ExitUsage).
var errUsage = cli.ErrUsage

func main() {
	_ = memtrim.Trim() // as the recorder does, so that encode-only children compare alike
	cli.Main(newBenchCmd())
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
