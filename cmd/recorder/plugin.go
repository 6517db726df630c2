package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

// newPluginCmd serves a built-in adapter as a plugin process; the host runs it, not people.
func newPluginCmd() *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:    "plugin NAME --kind frontend|uploader",
		Short:  "Serve a built-in adapter as a plugin process (started by `recorder run`)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, ok := host.Builtin(sdk.Kind(kind), args[0])
			if !ok {
				return fmt.Errorf("%w: no built-in %s named %q", errUsage, kind, args[0])
			}
			sdk.Serve(reg.New()) // never returns until the host ends the plugin
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", string(sdk.KindFrontend), "frontend or uploader")
	return cmd
}
