// Command recorder records screens: one-shot recordings to a file, monitor and encoder
// discovery, and (later) the recorder service with its adapters.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/internal/cli"
	"github.com/screenrec/recorder/internal/memtrim"
	"github.com/screenrec/recorder/pkg/telemetry"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks errors in how the command was called; they exit with status 2 (cli.ExitUsage).
var errUsage = cli.ErrUsage

func main() {
	_ = memtrim.Trim() // a saving, not a requirement
	cli.Main(newRoot())
}

func newRoot() *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:     "recorder",
		Short:   "Record screens to crash-safe MP4",
		Version: version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, logLevel)
			}
			slog.SetDefault(slog.New(telemetry.NewLogHandler(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lv}))))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	root.AddCommand(newMonitorsCmd(), newEncodersCmd(), newRecordCmd(), newRunCmd(), newPluginsCmd(), newUploadsCmd(),
		newConfigCmd(), newCatalogCmd(), newExportCmd(), newVersionCmd(), newControllerCmd())
	return root
}

// printJSON writes v as indented JSON, the form every --json flag prints.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
