// Command bench compares `recorder record` with the ffmpeg CLI doing the same capture and
// encode of changing content on a private 1920x1080 display, alternating the two, and writes
// the results as JSON and Markdown.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

type config struct {
	Recorder string        `json:"-"`
	Out      string        `json:"-"`
	Duration time.Duration `json:"duration"`
	FPS      int           `json:"fps"`
	Rounds   int           `json:"rounds"`
	Preset   string        `json:"preset"`
	CRF      int           `json:"crf"`
	Width    int           `json:"width"`
	Height   int           `json:"height"`
	Suites   []string      `json:"-"`
}

type report struct {
	Config    config             `json:"config"`
	Date      time.Time          `json:"date"`
	Runs      []benchmarks.Usage `json:"runs"`
	CPURatio  float64            `json:"cpu_ratio"`
	RSSRatio  float64            `json:"rss_ratio"`
	Recorder  summary            `json:"recorder"`
	FFmpegCLI summary            `json:"ffmpeg"`
}

type summary struct {
	CPU    float64 `json:"median_cpu_s"`
	CPUPct float64 `json:"median_cpu_pct_of_core"`
	MaxRSS float64 `json:"median_max_rss_mib"`
	Frames float64 `json:"median_frames"`
	Kbps   float64 `json:"median_kbps"`
}

func main() {
	var c config
	flag.StringVar(&c.Recorder, "recorder", "bin/recorder", "recorder binary")
	flag.StringVar(&c.Out, "out", "benchmarks/results", "results folder")
	flag.DurationVar(&c.Duration, "duration", 20*time.Second, "length of each run")
	flag.IntVar(&c.FPS, "fps", 15, "frames per second")
	flag.IntVar(&c.Rounds, "rounds", 3, "rounds; each runs ffmpeg and the recorder once, alternating who goes first")
	flag.StringVar(&c.Preset, "preset", "ultrafast", "x264 preset")
	flag.IntVar(&c.CRF, "crf", 23, "x264 CRF")
	suites := flag.String("suites", "pipeline,sessions,plugins,srs,cloud,telemetry,upload", "comma-separated suites to run: pipeline (recorder vs ffmpeg CLI), sessions (shared encode, start latency), plugins (plugin boundary), srs (login latency, ping throughput), cloud (start latency, 200 vs 202), telemetry (CPU of record with telemetry on vs off), upload (rws throughput vs curl PUT, bytes re-sent)")
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
	work, err := os.MkdirTemp("", "recorder-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	srv, err := xvfb.Start(ctx, xvfb.Options{Monitors: []xvfb.Monitor{{Name: "M0", Width: c.Width, Height: c.Height}}})
	if err != nil {
		return err
	}
	defer srv.Close()
	animCtx, stopAnim := context.WithCancel(ctx)
	animated := make(chan error, 1)
	go func() { animated <- xscene.Animate(animCtx, srv.Display, image.Rectangle{}, 30) }()
	defer func() { stopAnim(); <-animated }()

	if slices.Contains(c.Suites, "pipeline") {
		if err := runPipeline(ctx, c, srv, work); err != nil {
			return err
		}
	}
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
		if err := runTelemetry(ctx, c, srv, work); err != nil {
			return err
		}
	}
	if slices.Contains(c.Suites, "upload") {
		return runUpload(ctx, c)
	}
	return nil
}

// runPipeline compares `recorder record` with the ffmpeg CLI.
func runPipeline(ctx context.Context, c config, srv *xvfb.Server, work string) error {
	rep := report{Config: c, Date: time.Now().UTC()}
	secs := strconv.FormatFloat(c.Duration.Seconds(), 'f', -1, 64)
	gop := strconv.Itoa(2 * c.FPS)
	for round := 0; round < c.Rounds; round++ {
		order := []string{"ffmpeg", "recorder"}
		if round%2 == 1 {
			order = []string{"recorder", "ffmpeg"}
		}
		for _, tool := range order {
			path := filepath.Join(work, fmt.Sprintf("%s-%d.mp4", tool, round))
			var argv []string
			switch tool {
			case "ffmpeg":
				argv = []string{"ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
					"-f", "x11grab", "-framerate", strconv.Itoa(c.FPS), "-video_size", fmt.Sprintf("%dx%d", c.Width, c.Height),
					"-grab_x", "0", "-grab_y", "0", "-draw_mouse", "1", "-i", srv.Display,
					"-t", secs, "-c:v", "libx264", "-preset", c.Preset, "-crf", strconv.Itoa(c.CRF), "-g", gop,
					"-pix_fmt", "yuv420p", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
					"-frag_duration", "1000000", path}
			case "recorder":
				argv = []string{c.Recorder, "record", "--out", path, "--duration", c.Duration.String(),
					"--fps", strconv.Itoa(c.FPS), "--encoder", "libx264", "--encoder-opt", "preset=" + c.Preset,
					"--encoder-opt", "crf=" + strconv.Itoa(c.CRF)}
			}
			if *tune != "" { // the same tune for both tools
				if tool == "ffmpeg" {
					argv = append(argv[:len(argv)-1], "-tune", *tune, path)
				} else {
					argv = append(argv, "--encoder-opt", "tune="+*tune)
				}
			}
			u, err := benchmarks.Run(ctx, tool, srv.Env(), argv...)
			if err != nil {
				return err
			}
			u.Bytes = benchmarks.FileSize(path)
			if p, err := mediatest.ProbeFile(ctx, path); err == nil && len(p.VideoStreams()) > 0 {
				u.Frames = p.VideoStreams()[0].NbReadFrames
			}
			fmt.Fprintf(os.Stderr, "round %d %-8s cpu %.2fs (user %.2f sys %.2f) rss %.0f MiB frames %d\n", round+1, tool, u.CPU, u.User, u.Sys, u.MaxRSS, u.Frames)
			rep.Runs = append(rep.Runs, u)
			os.Remove(path)
		}
	}
	rep.Recorder, rep.FFmpegCLI = summarize(rep.Runs, "recorder", c), summarize(rep.Runs, "ffmpeg", c)
	rep.CPURatio = rep.Recorder.CPU / rep.FFmpegCLI.CPU
	rep.RSSRatio = rep.Recorder.MaxRSS / rep.FFmpegCLI.MaxRSS
	return write(c.Out, rep)
}

func summarize(runs []benchmarks.Usage, tool string, c config) summary {
	var cpu, rss, frames, kbps []float64
	for _, u := range runs {
		if u.Tool != tool {
			continue
		}
		cpu = append(cpu, u.CPU)
		rss = append(rss, u.MaxRSS)
		frames = append(frames, float64(u.Frames))
		kbps = append(kbps, float64(u.Bytes)*8/1000/c.Duration.Seconds())
	}
	s := summary{CPU: benchmarks.Median(cpu), MaxRSS: benchmarks.Median(rss), Frames: benchmarks.Median(frames), Kbps: benchmarks.Median(kbps)}
	s.CPUPct = 100 * s.CPU / c.Duration.Seconds()
	return s
}

func write(dir string, rep report) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "pipeline.json"), js, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	c := rep.Config
	fmt.Fprintf(&b, "# Pipeline benchmark — %s\n\n", rep.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "%dx%d, %d fps, %s per run, libx264 preset=%s crf=%d, changing content (xscene), %d rounds alternated. Medians.\n\n",
		c.Width, c.Height, c.FPS, c.Duration, c.Preset, c.CRF, c.Rounds)
	fmt.Fprintln(&b, "| tool | CPU user+sys (s) | % of a core | max RSS (MiB) | frames | kb/s |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|")
	for _, r := range []struct {
		name string
		s    summary
	}{{"ffmpeg CLI", rep.FFmpegCLI}, {"recorder", rep.Recorder}} {
		fmt.Fprintf(&b, "| %s | %.2f | %.1f | %.1f | %.0f | %.0f |\n", r.name, r.s.CPU, r.s.CPUPct, r.s.MaxRSS, r.s.Frames, r.s.Kbps)
	}
	fmt.Fprintf(&b, "\n**recorder / ffmpeg: CPU %.3f, max RSS %.3f**\n", rep.CPURatio, rep.RSSRatio)
	if err := os.WriteFile(filepath.Join(dir, "pipeline.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}
