package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/engine/capture"
)

func newMonitorsCmd() *cobra.Command {
	var display string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "monitors",
		Short: "List the monitors of a display in absolute root coordinates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := capture.Discover(cmd.Context(), display)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, s)
			}
			fmt.Fprintf(out, "display %s, screen %dx%d\n", s.Display, s.Width, s.Height)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INDEX\tNAME\tGEOMETRY\tPRIMARY")
			for _, m := range s.Monitors {
				fmt.Fprintf(tw, "%d\t%s\t%dx%d+%d+%d\t%v\n", m.Index, m.Name, m.Width, m.Height, m.X, m.Y, m.Primary)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&display, "display", "", "X display (default $DISPLAY)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
