package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/engine/encode"
)

func newEncodersCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "encoders",
		Short: "Probe which encoders this machine can use, and why not",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := encode.Probe(cmd.Context())
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, st)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCODEC\tHARDWARE\tUSABLE\tREASON")
			for _, s := range st {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\n", s.Name, s.Codec, s.Hardware, s.Usable, s.Reason)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
