package main

import (
	"context"
	"fmt"
	"os/exec"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/pkg/config"
	"github.com/screenrec/recorder/plugins/builtin"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

// pluginRow is one line of `recorder plugins`.
type pluginRow struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
	Source  string `json:"source"` // "built-in", "built-in (test)" or the binary's path
	Error   string `json:"error,omitempty"`
	// Schema is the plugin's config section (sdk.Schema: its keys, types, defaults, secrets).
	Schema *sdk.Schema `json:"schema,omitempty"`
}

func newPluginsCmd() *cobra.Command {
	var cfgPath, dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plugins [--config FILE | --plugin-dir DIR] [--json]",
		Short: "List built-in and discovered plugins with their kind and version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" && cfgPath != "" {
				cfg, err := config.Load(cfgPath)
				if err != nil {
					return fmt.Errorf("%w: %w", errUsage, err)
				}
				dir = cfg.PluginDir
			}
			rows := listPlugins(cmd.Context(), dir)
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tSOURCE")
			for _, r := range rows {
				src := r.Source
				if r.Error != "" {
					src += " (" + r.Error + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Kind, r.Version, src)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "config file whose plugin_dir to search")
	cmd.Flags().StringVar(&dir, "plugin-dir", "", "folder of recorder-plugin-<name> binaries")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func listPlugins(ctx context.Context, dir string) []pluginRow {
	var rows []pluginRow
	for _, r := range builtin.All() {
		p := r.New()
		info, _ := p.Info(ctx)
		src := "built-in"
		if r.Test {
			src = "built-in (test)"
		}
		row := pluginRow{Name: r.Name, Kind: string(r.Kind), Version: info.Version, Source: src}
		if schema, err := p.ConfigSchema(ctx); err == nil {
			row.Schema = &schema
		}
		rows = append(rows, row)
	}
	ext, err := host.Discover(dir)
	if err != nil {
		return append(rows, pluginRow{Name: dir, Error: err.Error()})
	}
	for _, e := range ext {
		rows = append(rows, fingerprint(ctx, e))
	}
	return rows
}

// fingerprint starts an external plugin just long enough to ask who it is.
func fingerprint(ctx context.Context, e host.External) pluginRow {
	row := pluginRow{Name: e.Name, Source: e.Path}
	for _, kind := range []sdk.Kind{sdk.KindFrontend, sdk.KindUploader} {
		c := plugin.NewClient(sdk.ClientConfig(exec.Command(e.Path), kind, nil))
		rpc, err := c.Client()
		if err == nil {
			var p sdk.Plugin
			if p, err = sdk.Dispense(rpc, kind); err == nil {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				var info sdk.Info
				info, err = p.Info(cctx)
				if err == nil {
					if schema, serr := p.ConfigSchema(cctx); serr == nil {
						row.Schema = &schema
					}
					cancel()
					c.Kill()
					row.Kind, row.Version = string(info.Kind), info.Version
					return row
				}
				cancel()
			}
		}
		c.Kill()
		row.Error = err.Error()
	}
	return row
}
