// Command idlebench measures what an idle screen costs the recorder (benchmarks/idlebench): a
// blinking caret against the ffmpeg CLI, a still screen in `recorder run`, and the density
// curve of mostly idle 1080p sessions in one engine. It writes idle.json and idle.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/benchmarks/idlebench"
)

func main() {
	var c idlebench.Config
	flag.StringVar(&c.Recorder, "recorder", "bin/recorder", "recorder binary (recorder-builtin next to it)")
	flag.StringVar(&c.Out, "out", "benchmarks/results", "results folder")
	suites := flag.String("suites", strings.Join(idlebench.Suites, ","), "suites to run: caret (CPU vs the ffmpeg CLI on a blinking caret), still (recorder run on a still screen), density (sessions per engine)")
	flag.IntVar(&c.FPS, "fps", 15, "frame rate of the caret and still runs")
	flag.DurationVar(&c.Warmup, "warmup", 5*time.Second, "start-up left out of each measurement")
	flag.DurationVar(&c.Window, "window", 60*time.Second, "measuring window of the caret and still runs")
	flag.IntVar(&c.DensityFPS, "density-fps", 5, "frame rate of the density sessions")
	flag.DurationVar(&c.DensityWindow, "density-window", 30*time.Second, "measuring window of each density level")
	gaps := flag.String("still-gaps", "", "engine.max_frame_gap values the still suite runs with, comma-separated (default: the engine's default)")
	levels := flag.String("sessions", "1,10,25,50", "density levels: concurrent sessions, one display each")
	child := flag.String("child", "", "internal: run as the density child")
	displays := flag.String("displays", "", "internal: the density child's displays")
	flag.Parse()
	if *child == "density" {
		if err := idlebench.RunDensityChild(strings.Split(*displays, ","), c.DensityFPS); err != nil {
			fmt.Fprintf(os.Stderr, "idlebench child: %v\n", err)
			os.Exit(1)
		}
		return
	}
	c.Suites = strings.Split(*suites, ",")
	for _, l := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "idlebench: -sessions: %q is not a positive number\n", l)
			os.Exit(2)
		}
		c.Sessions = append(c.Sessions, n)
	}
	for _, g := range strings.FieldsFunc(*gaps, func(r rune) bool { return r == ',' }) {
		d, err := time.ParseDuration(g)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "idlebench: -still-gaps: %q is not a positive duration (e.g. 1s)\n", g)
			os.Exit(2)
		}
		c.StillGaps = append(c.StillGaps, d)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := idlebench.Run(ctx, c)
	if res != nil {
		fmt.Print(idlebench.Markdown(res))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlebench: %v\n", err)
		os.Exit(1)
	}
}
