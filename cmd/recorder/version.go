package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/engine/encode"
)

// commit is set at build time with -ldflags "-X main.commit=…" (make build does); without it
// the commit comes from the build's VCS stamp, when Go recorded one.
var commit string

// versionReport is what `recorder version` says: enough to answer "what exactly is running
// here" in a support case.
type versionReport struct {
	Version   string                  `json:"version"`
	Commit    string                  `json:"commit,omitempty"`
	Modified  bool                    `json:"modified,omitempty"`
	Go        string                  `json:"go"`
	Platform  string                  `json:"platform"`
	Libraries []encode.LibraryVersion `json:"ffmpeg_libraries"`
	Encoders  []string                `json:"encoders"`
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, its commit, the FFmpeg libraries and the encoders usable here",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := versionReport{Version: version, Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
				Libraries: encode.LibraryVersions(), Encoders: []string{}}
			if bi, ok := debug.ReadBuildInfo(); ok && r.Commit == "" {
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						r.Commit = s.Value
					case "vcs.modified":
						r.Modified = s.Value == "true"
					}
				}
			}
			for _, s := range encode.Probe(cmd.Context()) {
				if s.Usable {
					r.Encoders = append(r.Encoders, s.Name)
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			commit := r.Commit
			if commit == "" {
				commit = "unknown"
			} else if r.Modified {
				commit += " (modified)"
			}
			fmt.Fprintf(w, "recorder %s\ncommit: %s\ngo: %s %s\n", r.Version, commit, r.Go, r.Platform)
			for _, l := range r.Libraries {
				built := ""
				if l.Built != l.Runtime {
					built = " (built against " + l.Built + ")"
				}
				fmt.Fprintf(w, "%s: %s%s\n", l.Name, l.Runtime, built)
			}
			fmt.Fprintf(w, "encoders: %s\n", strings.Join(r.Encoders, ", "))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
