package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/pkg/config"
	"github.com/screenrec/recorder/plugins/host"
)

// configCheckTimeout bounds starting and configuring the adapters' plugins for a check.
const configCheckTimeout = time.Minute

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the recorder's config file",
		Args:  cobra.NoArgs,
	}
	var cfgPath string
	check := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Check a config, the adapters' sections included, without starting anything",
		Long: "Check the config as `recorder run` would before it starts: the file and its RECORDER_*\n" +
			"overrides, the engine settings, the admin token, and each adapter's section (its plugin is\n" +
			"started and asked to check its section, then ended; nothing listens or records).\n" +
			"Exit 0 when the config is good, 2 with the error `run` would give otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := checkConfig(cmd.Context(), cfgPath)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d adapters checked)\n", cfgPath, n)
			return nil
		},
	}
	check.Flags().StringVar(&cfgPath, "config", "configs/recorder.yaml", "config file")
	cmd.AddCommand(check)
	return cmd
}

// checkConfig runs the checks `recorder run` makes before it starts anything, in its order,
// and returns how many adapters were checked.
func checkConfig(ctx context.Context, path string) (int, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return 0, err
	}
	if _, err := engineConfig(cfg); err != nil {
		return 0, err
	}
	if _, err := newAdminServer(cfg); err != nil {
		return 0, err
	}
	specs, err := adapterSpecs(cfg, nil, nil, false)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, configCheckTimeout)
	defer cancel()
	// No engine: Load only starts and configures; front ends get the engine at Serve, which a
	// check never reaches. The plugins' own chatter is not the check's output.
	h := host.New(nil, host.Options{PluginDir: cfg.PluginDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	err = h.Load(ctx, specs)
	return len(specs), errors.Join(err, h.Close(ctx))
}
