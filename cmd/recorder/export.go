package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/export"
	"github.com/screenrec/recorder/pkg/config"
)

// newExportCmd is `recorder export`: a recording's segments joined into one file, or a
// constant-frame-rate copy for video editors (engine/export does the work).
func newExportCmd() *cobra.Command {
	var cfgPath, spool, recording string
	var o export.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use: "export (--recording ID [--config FILE | --spool DIR] | --input FILE...) --output FILE " +
			"[--join] [--cfr [--fps N]] [--overwrite] [--json]",
		Short: "Join a recording's segments into one file, or write a constant-frame-rate copy for video editors",
		Long: "Export a recording (by its id, from the spool's catalog) or files given with --input.\n\n" +
			"--join writes one file from the segments, in order, each starting where the one before ended; the " +
			"video is copied, not encoded again. Segments whose tracks differ (the screen changed between them) " +
			"cannot be joined.\n\n" +
			"--cfr writes a constant frame rate (--fps, default the recording's capture rate), which video " +
			"editors need: every frame slot shows what the recording shows at its time. Recorded frames cannot " +
			"be repeated as they are (an inter-coded frame decoded twice adds its changes twice), so this copy " +
			"is decoded and encoded again, at x264 crf " + export.QualityCRF + " (visually lossless).\n\n" +
			"Both write a progressive MP4 with the recording's tags; an existing output is replaced only with " +
			"--overwrite (-y).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			switch {
			case recording == "" && len(o.Inputs) == 0:
				return fmt.Errorf("%w: give --recording ID or --input FILE", errUsage)
			case recording != "" && len(o.Inputs) > 0:
				return fmt.Errorf("%w: --recording and --input: give one", errUsage)
			case !o.Join && !o.CFR:
				return fmt.Errorf("%w: nothing to do: give --join, --cfr or both", errUsage)
			case recording == "" && (flags.Changed("spool") || flags.Changed("config")):
				return fmt.Errorf("%w: --spool and --config only go with --recording", errUsage)
			}
			if recording != "" {
				paths, err := recordingFiles(cmd, recording, cfgPath, spool)
				if err != nil {
					return err
				}
				if len(paths) > 1 && !o.Join {
					return fmt.Errorf("%w: recording %s has %d segments: give --join (with --cfr too for one "+
						"constant-frame-rate file)", errUsage, recording, len(paths))
				}
				o.Inputs = paths
			}
			res, err := export.Run(cmd.Context(), o)
			if errors.Is(err, export.ErrOutputExists) {
				return fmt.Errorf("%w: --output: %s exists; give --overwrite (-y) to replace it", errUsage, o.Output)
			}
			if errors.Is(err, export.ErrOptions) {
				return fmt.Errorf("%w: %w (see --join, --cfr, --fps)", errUsage, err)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "wrote %s: %.3f s, %d frames", res.Output, res.Duration.Seconds(), res.Frames)
			if res.FPS > 0 {
				fmt.Fprintf(out, " at a constant %d fps (encoded again)", res.FPS)
			}
			fmt.Fprintf(out, ", from %d file(s)\n", res.Inputs)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&recording, "recording", "", "the recording's id (its segments are read from the spool's catalog)")
	f.StringVar(&cfgPath, "config", "configs/recorder.yaml", "config file (for the spool folder), with --recording")
	f.StringVar(&spool, "spool", "", "spool folder (instead of --config), with --recording")
	f.StringArrayVar(&o.Inputs, "input", nil, "an input file (repeat for several, in order; several need --join)")
	f.StringVarP(&o.Output, "output", "o", "", "the file to write (MP4)")
	f.BoolVar(&o.Join, "join", false, "write the segments (inputs) as one file, without encoding again")
	f.BoolVar(&o.CFR, "cfr", false, "write a constant frame rate (encodes again)")
	f.IntVar(&o.FPS, "fps", 0, "the constant frame rate of --cfr (default: the recording's capture rate)")
	f.BoolVarP(&o.Overwrite, "overwrite", "y", false, "replace the output file if it exists")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// recordingFiles lists the files of recording id, in order, from the catalog of the spool
// (--spool, or the config file's).
func recordingFiles(cmd *cobra.Command, id, cfgPath, spool string) ([]string, error) {
	var ec engine.Config
	if cmd.Flags().Changed("spool") {
		if cmd.Flags().Changed("config") {
			return nil, fmt.Errorf("%w: --spool and --config: give one", errUsage)
		}
		abs, err := filepath.Abs(spool)
		if err != nil {
			return nil, fmt.Errorf("%w: --spool: %w", errUsage, err)
		}
		ec.SpoolDir = abs
	} else {
		c, err := config.Load(cfgPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		ec.SpoolDir = c.SpoolDir
	}
	cat, err := engine.OpenCatalog(cmd.Context(), ec)
	if err != nil {
		return nil, err
	}
	defer cat.Close()
	if _, err := cat.GetRecording(cmd.Context(), id); errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("%w: --recording: no recording %q in the catalog of %s", errUsage, id, ec.SpoolDir)
	} else if err != nil {
		return nil, err
	}
	segs, err := cat.Segments(cmd.Context(), id)
	if err != nil {
		return nil, err
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].Index < segs[j].Index })
	var paths []string
	for _, s := range segs {
		switch {
		case !s.RemovedAt.IsZero():
			return nil, fmt.Errorf("recording %s: segment %d (%s) was removed from the spool (uploaded)", id, s.Index, s.Path)
		case !s.Closed:
			return nil, fmt.Errorf("recording %s: segment %d (%s) is still being written", id, s.Index, s.Path)
		}
		paths = append(paths, s.Path)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("recording %s has no segments", id)
	}
	return paths, nil
}
