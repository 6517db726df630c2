package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/cli"
	"github.com/screenrec/recorder/pkg/config"
	"github.com/screenrec/recorder/pkg/telemetry"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

// shutdownTimeout bounds finalising recordings and stopping plugins on SIGTERM.
const shutdownTimeout = 30 * time.Second

func newRunCmd() *cobra.Command {
	var (
		cfgPath             string
		frontends, uploader []string
		inProcess           bool
	)
	cmd := &cobra.Command{
		Use:   "run --config FILE [--frontend NAME]... [--uploader NAME]... [--in-process]",
		Short: "Run the recorder service: the engine with its front ends and uploaders",
		Long: "Run the engine with the adapters the config names. --frontend and --uploader choose\n" +
			"adapters at run time instead (their config sections still come from the file when\n" +
			"present); --in-process runs every adapter inside this process instead of as plugins.\n" +
			"SIGINT or SIGTERM: front ends stop accepting, recordings are finalised, plugins end.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			setLogger(cmd, cfg.Log)
			err = func() error {
				ec, err := engineConfig(cfg)
				if err != nil {
					return fmt.Errorf("%w: %w", errUsage, err)
				}
				specs, err := adapterSpecs(cfg, frontends, uploader, inProcess)
				if err != nil {
					return fmt.Errorf("%w: %w", errUsage, err)
				}
				// The uploaders that run are the targets, unless upload.targets says.
				ec.UploadTargets = cfg.UploadTargets(specNames(specsOf(specs, sdk.KindUploader)))
				return run(cmd, cfg, ec, specs)
			}()
			if err != nil && cfg.Log.Format == "json" {
				// In the log's format, not as main's plain line.
				slog.Error("recorder failed", "err", err)
				return cli.Reported(err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "configs/recorder.yaml", "config file")
	f.StringArrayVar(&frontends, "frontend", nil, "run this front end (repeatable; default: those in the config)")
	f.StringArrayVar(&uploader, "uploader", nil, "run this uploader (repeatable; default: those in the config)")
	f.BoolVar(&inProcess, "in-process", false, "run every adapter in this process instead of as plugin processes")
	return cmd
}

// announcer prints the lines an operator watches for on stdout ("… running", "… listening
// on …"): plain text, or with log.format json JSON log lines whose msg is that text and whose
// attributes carry its parts, so that nothing plain is printed.
type announcer func(msg string, args ...any)

func newAnnouncer(w io.Writer, lc config.Log) announcer {
	if lc.Format == "json" {
		l := slog.New(slog.NewJSONHandler(w, nil))
		return func(msg string, args ...any) { l.Info(msg, args...) }
	}
	return func(msg string, _ ...any) { fmt.Fprintln(w, msg) }
}

// setLogger switches the default logger to the config's level and format.
func setLogger(cmd *cobra.Command, lc config.Log) {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(lc.Level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), opts)
	if lc.Format == "json" {
		h = slog.NewJSONHandler(cmd.ErrOrStderr(), opts)
	}
	// Lines logged inside a span (with a *Context method) carry its trace_id and span_id.
	slog.SetDefault(slog.New(telemetry.NewLogHandler(h)))
}

// adapterSpecs picks the adapters to run: the flags' if any, else the config's.
func adapterSpecs(cfg *config.Config, frontends, uploaders []string, inProcess bool) ([]host.Spec, error) {
	pick := func(kind sdk.Kind, section string, configured []config.Adapter, chosen []string) ([]host.Spec, error) {
		var out []host.Spec
		if len(chosen) == 0 {
			for i, a := range configured {
				out = append(out, host.Spec{Name: a.Name, Kind: kind, InProcess: a.InProcess || inProcess, Config: a.Config,
					Where: fmt.Sprintf("%s[%d]", section, i)})
			}
			return out, nil
		}
		for _, name := range chosen {
			sp := host.Spec{Name: name, Kind: kind, InProcess: inProcess, Where: fmt.Sprintf("--%s %s", kind, name)}
			for i, a := range configured {
				if a.Name == name {
					sp.Config, sp.InProcess = a.Config, a.InProcess || inProcess
					sp.Where = fmt.Sprintf("%s[%d]", section, i)
				}
			}
			out = append(out, sp)
		}
		return out, nil
	}
	fe, err := pick(sdk.KindFrontend, "frontends", cfg.Frontends, frontends)
	if err != nil {
		return nil, err
	}
	up, err := pick(sdk.KindUploader, "uploaders", cfg.Uploaders, uploaders)
	if err != nil {
		return nil, err
	}
	return append(fe, up...), nil
}

func run(cmd *cobra.Command, cfg *config.Config, ec engine.Config, specs []host.Spec) error {
	ctx := cmd.Context()
	adm, err := newAdminServer(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	// Telemetry first, so the engine, the host and in-process adapters all use it; last to
	// stop, so it flushes what they recorded on the way out. Its MetricsHandler is what the
	// admin listener serves at /metrics.
	tel, err := startTelemetry(ctx, cfg.TelemetryConfig(version))
	if err != nil {
		return err
	}
	defer stopTelemetry(tel)
	eng, err := engine.New(ctx, ec, engineTelemetry(tel)...)
	if err != nil {
		return err
	}
	// Subscribed before any front end starts, so no session goes unlogged.
	waitSessionLog := logSessions(eng, slog.Default())
	h := host.New(host.EngineAPI(eng), hostTelemetry(host.Options{PluginDir: cfg.PluginDir}, tel))
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		// Stop taking requests (admin API, then front ends), then finalise the recordings,
		// then end the plugins.
		err := errors.Join(adm.stop(sctx), h.StopFrontends(sctx))
		err = errors.Join(err, eng.Close(sctx))
		waitSessionLog(sctx) // the lines of the sessions the close finalised
		return errors.Join(err, h.Close(sctx))
	}
	if err := h.Load(ctx, specs); err != nil {
		_ = shutdown()
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := h.Serve(ctx); err != nil {
		return errors.Join(err, shutdown())
	}
	say := newAnnouncer(cmd.OutOrStdout(), cfg.Log)
	say(fmt.Sprintf("recorder %s running: spool %s", version, cfg.SpoolDir), "version", version, "spool", cfg.SpoolDir)
	for name, eps := range h.Endpoints() {
		for _, ep := range eps {
			say(fmt.Sprintf("front end %s: %s listening on %s", name, ep.Name, ep.URL), "plugin", name, "endpoint", ep.Name, "url", ep.URL)
		}
	}
	// /metrics is telemetry's Prometheus handler (none when telemetry is off: 404).
	adminAddr, err := adm.start(ctx, eng, h, cfg.SpoolDir, tel.MetricsHandler())
	if err != nil {
		return errors.Join(err, shutdown())
	}
	if adminAddr != "" {
		say("admin API listening on http://"+adminAddr, "url", "http://"+adminAddr)
	}
	// Uploads: each target's jobs go to the uploader of that name.
	upCtx, stopUploads := context.WithCancel(context.WithoutCancel(ctx))
	uploadsDone := make(chan struct{})
	targets, err := uploadTargets(h, specNames(specsOf(specs, sdk.KindUploader)))
	if err != nil {
		stopUploads()
		return errors.Join(err, shutdown())
	}
	if len(targets) > 0 {
		go func() {
			defer close(uploadsDone)
			_ = eng.RunUploadTargets(upCtx, targets, engine.UploadConfig{Concurrency: cfg.Upload.Concurrency,
				BaseDelay: cfg.Upload.RetryBaseDelay.Std(), MaxDelay: cfg.Upload.RetryMaxDelay.Std(), Keep: cfg.Upload.KeepUploaded})
		}()
	} else {
		close(uploadsDone)
	}
	stopAll := shutdown
	shutdown = func() error {
		// Uploads in flight stop and go back to the queue (resumed next time) before the
		// plugins that carry them end.
		stopUploads()
		<-uploadsDone
		return stopAll()
	}
	go func() {
		for ev := range h.Events() {
			slog.Info("plugin event", "plugin", ev.Plugin, "type", ev.Type, "pid", ev.Pid, "down", ev.Down, "err", ev.Err)
		}
	}()
	// Under systemd: ready now that everything serves; the watchdog from here on.
	notifyReady("running: spool " + cfg.SpoolDir)
	watchdogDone := make(chan struct{})
	go func() {
		defer close(watchdogDone)
		runWatchdog(ctx, eng, serviceDisplays(cfg))
	}()
	<-ctx.Done()
	notifyStopping()
	<-watchdogDone
	say("recorder: stopping: finalising recordings")
	if err := shutdown(); err != nil {
		return err
	}
	say("recorder: stopped")
	return nil
}

// uploadTargets maps each running uploader's name to it. The first one also serves the
// target "default", unless an uploader has that name: the queue of a build with a single
// target used that name.
func uploadTargets(h *host.Host, names []string) (map[string]engine.Uploader, error) {
	out := make(map[string]engine.Uploader, len(names)+1)
	for _, n := range names {
		up, err := h.Uploader(n)
		if err != nil {
			return nil, err
		}
		out[n] = up
	}
	if len(names) > 0 && out[config.DefaultUploadTarget] == nil {
		out[config.DefaultUploadTarget] = out[names[0]]
	}
	return out, nil
}

// specNames returns the specs' names, in order.
func specNames(specs []host.Spec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}

// specsOf keeps the specs of one kind.
func specsOf(specs []host.Spec, kind sdk.Kind) []host.Spec {
	var out []host.Spec
	for _, s := range specs {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}
