package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/encode"
)

// discoverTimeout bounds how long completing --monitors waits for the display.
const discoverTimeout = 2 * time.Second

// completeRecordFlags registers shell completion of the values of record's flags.
func completeRecordFlags(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("layout", fixedValues(
		string(capture.LayoutCanvas)+"\tone video of the selected monitors",
		string(capture.LayoutTracks)+"\tone video track per monitor"))
	_ = cmd.RegisterFlagCompletionFunc("capture-method", fixedValues(capture.Methods()...))
	_ = cmd.RegisterFlagCompletionFunc("encoder", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		names := make([]string, len(encode.Candidates))
		for i, c := range encode.Candidates {
			kind := "software"
			if c.Hardware {
				kind = "hardware"
			}
			names[i] = c.Name + "\t" + c.Codec + ", " + kind
		}
		return listValues(toComplete, "auto\thardware first, then libx264", names), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("monitors", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var indexes []string
		display, _ := cmd.Flags().GetString("display")
		ctx, cancel := context.WithTimeout(contextOf(cmd), discoverTimeout)
		defer cancel()
		if s, err := capture.Discover(ctx, display); err == nil { // no display: "all" alone
			for _, m := range s.Monitors {
				indexes = append(indexes, fmt.Sprintf("%d\t%s %dx%d+%d+%d", m.Index, m.Name, m.Width, m.Height, m.X, m.Y))
			}
		}
		return listValues(toComplete, "all\tevery monitor", indexes), cobra.ShellCompDirectiveNoFileComp
	})
}

// fixedValues completes a flag that takes one of values ("value\tdescription").
func fixedValues(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// listValues completes a comma-separated list of values ("value\tdescription") or the one
// value whole meaning all of them: after a comma, the values not yet in the list.
func listValues(toComplete, whole string, values []string) []string {
	i := strings.LastIndex(toComplete, ",")
	if i < 0 {
		return append([]string{whole}, values...)
	}
	prefix := toComplete[:i+1]
	given := map[string]bool{}
	for _, v := range strings.Split(prefix, ",") {
		given[strings.TrimSpace(v)] = true
	}
	var out []string
	for _, v := range values {
		if name, _, _ := strings.Cut(v, "\t"); !given[name] {
			out = append(out, prefix+v)
		}
	}
	return out
}

// contextOf is cmd's context, which completion may leave unset.
func contextOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
