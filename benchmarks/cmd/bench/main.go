// Command bench runs the recorder's service-level benchmark suites on a private 1920x1080
// display with changing content: shared sessions, the plugin boundary, the SRS and cloud front
// ends and the uploader. Each writes JSON and Markdown. The capture and encoder comparison with
// the ffmpeg CLI is recorder-bench (benchmarks/encoderbench).
package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
	"github.com/screenrec/recorder/plugins/builtin"
)

type config struct {
	Recorder string        `json:"-"`
	Out      string        `json:"-"`
	Duration time.Duration `json:"duration"`
	FPS      int           `json:"fps"`
	Rounds   int           `json:"rounds"`
	Width    int           `json:"width"`
	Height   int           `json:"height"`
	Suites   []string      `json:"-"`
}

// builtinExecutable is the binary serving built-in adapters as plugin processes, installed
// next to the recorder.
func (c config) builtinExecutable() string {
	return filepath.Join(filepath.Dir(c.Recorder), builtin.Executable)
}

// allSuites are the suites this command runs, in order.
var allSuites = []string{"sessions", "plugins", "srs", "cloud", "telemetry", "upload", "s3"}

func main() {
	var c config
	flag.StringVar(&c.Recorder, "recorder", "bin/recorder", "recorder binary (recorder-builtin, which serves built-in plugins, next to it)")
	flag.StringVar(&c.Out, "out", "benchmarks/results", "results folder")
	flag.DurationVar(&c.Duration, "duration", 20*time.Second, "length of each run")
	flag.IntVar(&c.FPS, "fps", 15, "frames per second")
	flag.IntVar(&c.Rounds, "rounds", 3, "rounds of the sessions and telemetry suites; who goes first alternates")
	suites := flag.String("suites", "sessions,plugins,srs,cloud,telemetry,upload,s3", "comma-separated suites to run: sessions (shared encode, start latency), plugins (plugin boundary), srs (login latency, ping throughput), cloud (start latency, 200 vs 202), telemetry (CPU of record with telemetry on vs off), upload (rws throughput vs curl PUT, bytes re-sent), s3 (s3 uploader vs curl SigV4 PUT to versitygw, bytes re-sent and stored under interruptions); recorder vs the ffmpeg CLI is recorder-bench")
	flag.Parse()
	c.Width, c.Height = 1920, 1080
	if *childMode != "" {
		if err := runChild(*childMode, *childDisplay, c.FPS, c.Duration); err != nil {
			fmt.Fprintf(os.Stderr, "bench child: %v\n", err)
			os.Exit(1)
		}
		return
	}
	c.Suites = strings.Split(*suites, ",")
	for _, s := range c.Suites {
		if !slices.Contains(allSuites, s) {
			fmt.Fprintf(os.Stderr, "bench: unknown suite %q: choose from %s (recorder vs the ffmpeg CLI, the old pipeline suite, is recorder-bench)\n",
				s, strings.Join(allSuites, ", "))
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	srv, err := xvfb.Start(ctx, xvfb.Options{Monitors: []xvfb.Monitor{{Name: "M0", Width: c.Width, Height: c.Height}}})
	if err != nil {
		return err
	}
	defer srv.Close()
	animCtx, stopAnim := context.WithCancel(ctx)
	animated := make(chan error, 1)
	go func() { animated <- xscene.Animate(animCtx, srv.Display, image.Rectangle{}, 30) }()
	defer func() { stopAnim(); <-animated }()

	if slices.Contains(c.Suites, "sessions") {
		if err := runSessions(ctx, c, srv); err != nil {
			return err
		}
	}
	if slices.Contains(c.Suites, "plugins") {
		if err := runPlugins(ctx, c, srv); err != nil {
			return err
		}
	}
	if slices.Contains(c.Suites, "srs") {
		if err := runSRS(ctx, c, srv); err != nil {
			return err
		}
	}
	if slices.Contains(c.Suites, "cloud") {
		if err := runCloud(ctx, c, srv); err != nil {
			return err
		}
	}
	if slices.Contains(c.Suites, "telemetry") {
		if err := runTelemetry(ctx, c, srv); err != nil {
			return err
		}
	}
	if slices.Contains(c.Suites, "upload") {
		if err := runUpload(ctx, c); err != nil {
			return err
		}
	}
	if slices.Contains(c.Suites, "s3") {
		return runS3(ctx, c)
	}
	return nil
}
