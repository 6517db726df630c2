package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/benchmarks/encoderbench"
)

// benchFlags are recorder-bench's flags as given; lists are comma-separated.
type benchFlags struct {
	out, scenes, resolutions, encoders, presets, encodeOnly string
	recorder, logLevel, baseline                            string
	duration, clip                                          time.Duration
	rounds, fps, encodeFrames, maxCanvas                    int
	quick, planOnly                                         bool
}

func newBenchCmd() *cobra.Command {
	def := encoderbench.DefaultConfig()
	var bf benchFlags
	cmd := &cobra.Command{
		Use:   "recorder-bench [flags]",
		Short: "Benchmark the engine's capture and encoders against the ffmpeg CLI",
		Long: "For each scene × resolution × encoder/preset, run `recorder record` and the ffmpeg CLI doing the same\n" +
			"capture and encode on a private Xvfb, alternately, and compare CPU, memory, frames, bitrate; then\n" +
			"(encode-only) feed the same stored frames to both and compare fps, CPU per frame, SSIM and PSNR.\n" +
			"Writes bench.json, bench.md and bench.svg (and bench-encode.svg) under --out.\n" +
			"Ratios are measured in one run; absolute numbers are only reported.",
		Version: version,
		Args:    cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return setLogLevel(cmd.ErrOrStderr(), bf.logLevel)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := benchConfig(cmd, bf)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			return runBench(cmd, c, bf.planOnly)
		},
	}
	cmd.PersistentFlags().StringVar(&bf.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	f := cmd.Flags()
	f.StringVar(&bf.recorder, "recorder", "", "the recorder binary measured (default: recorder next to this binary)")
	f.StringVar(&bf.out, "out", def.Out, "results folder")
	f.StringVar(&bf.scenes, "scenes", strings.Join(def.Scenes, ","), "scenes: "+strings.Join(encoderbench.SceneNames(), ", "))
	f.StringVar(&bf.resolutions, "resolutions", strings.Join(def.Resolutions, ","), "monitor resolutions: "+resolutionNames())
	f.StringVar(&bf.encoders, "encoders", strings.Join(def.Encoders, ","),
		// pflag takes a back-quoted word of the usage for the value's name: this one is "list".
		"comma-separated `list`: auto (what \"recorder record --encoder auto\" picks here), all (every usable one), or registry names")
	f.StringVar(&bf.presets, "presets", "", "presets for encoders that have one, e.g. ultrafast,veryfast (default: each encoder's own)")
	f.DurationVar(&bf.duration, "duration", def.Duration, "length of each live run")
	f.IntVar(&bf.rounds, "rounds", def.Rounds, "runs per tool and cell; who goes first alternates")
	f.IntVar(&bf.fps, "fps", def.FPS, "capture frame rate")
	f.StringVar(&bf.encodeOnly, "encode-only", string(def.EncodeOnly), "encode-only mode: also (after the live runs), only, or off")
	f.DurationVar(&bf.clip, "clip", def.ClipDuration, "encode-only: length of the stored raw clip (bounded to 4 GiB)")
	f.IntVar(&bf.encodeFrames, "encode-frames", def.EncodeFrames, "encode-only: frames each run encodes, looping the clip")
	f.StringVar(&bf.baseline, "baseline", def.Baseline, "what the ffmpeg CLI is given: cli-defaults (its own libx264/libx265 defaults) or same-options (the recorder's)")
	f.IntVar(&bf.maxCanvas, "max-canvas-pixels", def.MaxCanvasPixels, "skip live cells with a larger canvas (default: 4K's area)")
	f.BoolVar(&bf.quick, "quick", false, "a small matrix: 1080p idle and typing, 1 round of 5s (explicit flags still win)")
	f.BoolVar(&bf.planOnly, "plan", false, "print the plan and its time estimate, run nothing")
	cmd.AddCommand(newBenchEncodeChildCmd())
	return cmd
}

func resolutionNames() string {
	var names []string
	for _, r := range encoderbench.Resolutions {
		names = append(names, r.Name)
	}
	return strings.Join(names, ", ")
}

// benchConfig builds the suite's config from the flags: --quick's matrix first, then every
// flag given explicitly on top.
func benchConfig(cmd *cobra.Command, bf benchFlags) (encoderbench.Config, error) {
	c := encoderbench.DefaultConfig()
	if bf.quick {
		c = encoderbench.QuickConfig()
	}
	set := func(name string) bool { return cmd.Flags().Changed(name) }
	if set("out") {
		c.Out = bf.out
	}
	if set("scenes") {
		c.Scenes = splitList(bf.scenes)
	}
	if set("resolutions") {
		c.Resolutions = splitList(bf.resolutions)
	}
	if set("encoders") {
		c.Encoders = splitList(bf.encoders)
	}
	if set("presets") {
		c.Presets = splitList(bf.presets)
	}
	if set("duration") {
		c.Duration = bf.duration
	}
	if set("rounds") {
		c.Rounds = bf.rounds
	}
	if set("fps") {
		c.FPS = bf.fps
	}
	if set("encode-only") {
		c.EncodeOnly = encoderbench.EncodeOnlyMode(bf.encodeOnly)
	}
	if set("clip") {
		c.ClipDuration = bf.clip
	}
	if set("encode-frames") {
		c.EncodeFrames = bf.encodeFrames
	}
	if set("baseline") {
		c.Baseline = bf.baseline
	}
	if set("max-canvas-pixels") {
		c.MaxCanvasPixels = bf.maxCanvas
	}
	self, err := os.Executable()
	if err != nil {
		return c, fmt.Errorf("cannot find this binary, which runs encode-only: %w", err)
	}
	c.EncodeChild = self
	c.Recorder = bf.recorder
	if c.Recorder == "" {
		c.Recorder = filepath.Join(filepath.Dir(self), "recorder")
	}
	c.Version = version
	c.Log = cmd.ErrOrStderr()
	return c, c.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runBench(cmd *cobra.Command, c encoderbench.Config, planOnly bool) error {
	ctx := cmd.Context()
	plan, err := encoderbench.NewPlan(ctx, c)
	if err != nil {
		if errors.Is(err, encoderbench.ErrUnknownPreset) || errors.Is(err, encoderbench.ErrEncoderUnusable) {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		return err
	}
	live, enc := plan.Cells()
	labels := make([]string, len(plan.Variants))
	for i, v := range plan.Variants {
		labels[i] = v.Label()
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "bench: %d stage(s), %d live cell(s) × %d round(s) × 2 tools, %d encode-only cell(s); encoders %s\n",
		len(plan.Stages), live, c.Rounds, enc, strings.Join(labels, ", "))
	for _, s := range plan.Skipped {
		fmt.Fprintf(w, "bench: skipping %s\n", s)
	}
	fmt.Fprintf(w, "bench: estimated %s on a 2-core machine; results in %s\n", plan.Estimate(c), c.Out)
	if planOnly {
		return nil
	}
	if live > 0 {
		if _, err := os.Stat(c.Recorder); err != nil {
			return fmt.Errorf("%w: the recorder to measure: %w (`make build` puts it next to recorder-bench; or give --recorder)", errUsage, err)
		}
	}
	rep, err := encoderbench.Run(ctx, c, plan)
	if rep != nil {
		fmt.Fprint(cmd.OutOrStdout(), encoderbench.Markdown(rep))
		files := []string{encoderbench.FileJSON, encoderbench.FileMarkdown, encoderbench.FileChart}
		if len(rep.EncodeOnly) > 0 {
			files = append(files, encoderbench.FileEncodeChart)
		}
		fmt.Fprintf(w, "bench: wrote %s in %s\n", strings.Join(files, ", "), c.Out)
	}
	return err
}

// newBenchEncodeChildCmd is the hidden child of encode-only runs: the engine's converter,
// encoder and muxer on stored raw frames, measured from outside like the ffmpeg CLI is.
func newBenchEncodeChildCmd() *cobra.Command {
	var (
		c       encoderbench.ChildConfig
		size    string
		encOpts []string
	)
	cmd := &cobra.Command{
		Use:    "encode-child --raw FILE --size WxH --fps N --frames N --encoder NAME --out FILE",
		Short:  "internal: encode stored raw frames with the engine (for bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if c.Width, c.Height, err = encoderbench.ParseSize(size); err != nil {
				return fmt.Errorf("%w: --size: %w", errUsage, err)
			}
			c.Options = map[string]string{}
			for _, kv := range encOpts {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("%w: --encoder-opt %q: want key=value", errUsage, kv)
				}
				c.Options[k] = v
			}
			if err := c.Validate(); err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			res, err := encoderbench.EncodeChild(cmd.Context(), c)
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Raw, "raw", "", "bgr0 rawvideo clip")
	f.StringVar(&size, "size", "", "frame size WxH")
	f.IntVar(&c.FPS, "fps", encoderbench.DefaultFPS, "frame rate")
	f.IntVar(&c.Frames, "frames", 0, "frames to encode, looping the clip")
	f.StringVar(&c.Encoder, "encoder", "libx264", "registry encoder")
	f.StringArrayVar(&encOpts, "encoder-opt", nil, "encoder private option key=value (repeatable)")
	f.StringVar(&c.Out, "out", "", "MP4 file to write")
	return cmd
}
