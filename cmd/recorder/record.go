package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/codes"
	"golang.org/x/term"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/engine/pipeline"
	"github.com/screenrec/recorder/pkg/config"
	"github.com/screenrec/recorder/pkg/telemetry"
)

func newRecordCmd() *cobra.Command {
	var (
		spec                          pipeline.Spec
		monitors, layout, enc, region string
		encOpts                       []string
		owner, id                     string
		asJSON, overwrite             bool
		withTelemetry                 bool
		metricsListen                 string
	)
	cmd := &cobra.Command{
		Use:   "record --out FILE [flags]",
		Short: "Record the screen to a fragmented MP4 file",
		Long: "Record one or more monitors (or a region) to a crash-safe fragmented MP4.\n" +
			"--duration 0 records until SIGINT or SIGTERM; either finishes the file properly.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := pipeline.ValidateFPS(spec.FPS); err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			var err error
			if spec.Monitors, err = capture.ParseSelection(monitors); err != nil {
				return fmt.Errorf("%w: --monitors: %w", errUsage, err)
			}
			if spec.Layout, err = capture.ParseLayout(layout); err != nil {
				return fmt.Errorf("%w: --layout: %w", errUsage, err)
			}
			if spec.Encoders, err = encode.ParseOrder(enc); err != nil {
				return fmt.Errorf("%w: --encoder: %w", errUsage, err)
			}
			if region != "" {
				if spec.Region, err = capture.ParseRegion(region); err != nil {
					return fmt.Errorf("%w: --region: %w", errUsage, err)
				}
			}
			if len(encOpts) > 0 {
				spec.EncoderOptions = map[string]string{}
				for _, kv := range encOpts {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return fmt.Errorf("%w: --encoder-opt %q: want key=value", errUsage, kv)
					}
					spec.EncoderOptions[k] = v
				}
			}
			spec.Metadata = map[string]string{}
			if owner != "" {
				spec.Metadata[pipeline.MetaOwner] = owner
			}
			if id != "" {
				spec.Metadata[pipeline.MetaRecordingID] = id
			}
			if err := spec.Validate(); err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if !overwrite {
				if err := refuseExisting(spec); err != nil {
					return err
				}
			}
			tcfg, err := recordTelemetryConfig(cmd.Flags().Changed("telemetry"), withTelemetry)
			if err != nil {
				return err
			}
			if metricsListen != "" && !tcfg.Enabled {
				return fmt.Errorf("%w: --metrics-listen needs telemetry (--telemetry or %s=true)", errUsage, config.EnvTelemetryEnabled)
			}
			return record(cmd, spec, asJSON, tcfg, metricsListen)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&spec.Out, "out", "o", "", "output file (required)")
	f.BoolVarP(&overwrite, "overwrite", "y", false, "replace the output file if it exists")
	f.DurationVar(&spec.Duration, "duration", 0, "stop after this long (0: until SIGINT)")
	f.IntVar(&spec.FPS, "fps", pipeline.DefaultFPS, fmt.Sprintf("frames per second (%d-%d)", pipeline.MinFPS, pipeline.MaxFPS))
	f.StringVar(&monitors, "monitors", "all", "monitors to record: all, or indexes such as 0,2")
	f.StringVar(&layout, "layout", "canvas", "canvas (one video of all selected monitors) or tracks (one track per monitor)")
	f.StringVar(&region, "region", "", "record this root-window area WxH+X+Y instead of monitors")
	f.StringVar(&enc, "encoder", "auto", "encoder name, comma-separated order, or auto (hardware first, then libx264)")
	f.StringArrayVar(&encOpts, "encoder-opt", nil, "encoder private option key=value (repeatable), e.g. preset=superfast")
	f.IntVar(&spec.MaxWidth, "max-width", 0, "downscale to at most this width, keeping aspect (0: no limit)")
	f.IntVar(&spec.MaxHeight, "max-height", 0, "downscale to at most this height, keeping aspect (0: no limit)")
	f.StringVar(&spec.Display, "display", "", "X display (default $DISPLAY)")
	f.BoolVar(&spec.DrawMouse, "mouse", true, "draw the mouse pointer")
	f.StringVar(&spec.Method, "capture-method", capture.MethodAuto, "how to grab: auto, xshm (change-tracking: a still screen costs almost nothing) or x11grab (every frame whole)")
	f.DurationVar(&spec.MaxFrameGap, "max-frame-gap", pipeline.DefaultMaxFrameGap, "with xshm, encode a still screen at least this often")
	f.DurationVar(&spec.SegmentEvery, "segment", 0, "start a new standalone file this often (0: one file)")
	f.StringVar(&owner, "owner", "", "owner tag (default: the current user)")
	f.StringVar(&id, "id", "", "recording id tag (default: random)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.BoolVar(&withTelemetry, "telemetry", false, "record traces and metrics (default: $"+config.EnvTelemetryEnabled+"); OTLP export by the OTEL_EXPORTER_OTLP_* variables")
	f.StringVar(&metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics while recording (needs telemetry)")
	_ = cmd.MarkFlagRequired("out")
	completeRecordFlags(cmd)
	return cmd
}

// refuseExisting fails with a usage error when the recording's first file exists already
// (a folder is the pipeline's to refuse): nothing is overwritten unless asked for.
func refuseExisting(spec pipeline.Spec) error {
	first := spec.Out
	if spec.SegmentEvery > 0 {
		first = mux.SegmentPath(spec.Out, 1)
	}
	if fi, err := os.Stat(first); err == nil && !fi.IsDir() {
		return fmt.Errorf("%w: --out: %s exists; give --overwrite (-y) to replace it", errUsage, first)
	}
	return nil
}

func record(cmd *cobra.Command, spec pipeline.Spec, asJSON bool, tcfg telemetry.Config, metricsListen string) error {
	ctx := cmd.Context()
	tel, err := startTelemetry(ctx, tcfg)
	if err != nil {
		return err
	}
	defer stopTelemetry(tel)
	if metricsListen != "" {
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		defer stop()
		addr, err := serveMetrics(sctx, metricsListen, tel.MetricsHandler())
		if err != nil {
			return err
		}
		slog.Info("serving metrics", "url", "http://"+addr+"/metrics")
	}
	ctx, span := tel.TracerProvider().Tracer("github.com/screenrec/recorder/cmd/recorder").Start(ctx, "record")
	defer span.End()
	rec, err := pipeline.Start(ctx, spec)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	if reg, err := recordingMetrics(tel.MeterProvider(), rec); err == nil {
		defer func() { _ = reg.Unregister() }()
	}
	var prog *progress
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		prog = startProgress(f, rec)
	}
	sum, err := rec.Wait()
	prog.stop() // before the summary, which would otherwise land on the progress line
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	if sum != nil {
		if perr := printSummary(cmd.OutOrStdout(), sum, asJSON); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// progress shows a live line of a recording's figures on a terminal.
type progress struct {
	quit, done chan struct{}
}

// startProgress shows rec's figures on w, refreshed twice a second, until stopped.
func startProgress(w io.Writer, rec *pipeline.Recording) *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				s := rec.Stats()
				fmt.Fprintf(w, "\r\033[K%s  %5.1f fps  %6d frames  %7.1f kb/s  %d dropped",
					s.Elapsed.Truncate(time.Second), s.FPS, s.Frames, s.Bitrate/1000, s.Dropped)
			}
		}
	}()
	return p
}

// stop ends the progress line and returns once it is cleared; a nil progress does nothing.
func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.quit)
	<-p.done
}

func printSummary(w io.Writer, s *pipeline.Summary, asJSON bool) error {
	if asJSON {
		return printJSON(w, s)
	}
	fmt.Fprintf(w, "%s: %.1fs, %d frames (%d dropped), %dx%d, %d bytes, %d track(s), encoder %s\n",
		s.Path, s.Duration, s.Frames, s.Dropped, s.Width, s.Height, s.Size, len(s.Tracks), s.Encoder)
	for _, sk := range s.Skipped {
		fmt.Fprintf(w, "skipped encoder %s: %s\n", sk.Name, sk.Reason)
	}
	for _, sg := range s.Segments {
		fmt.Fprintf(w, "segment %d: %s (%d bytes, starts at %s)\n", sg.Index, sg.Path, sg.Bytes, sg.Start)
	}
	return nil
}
