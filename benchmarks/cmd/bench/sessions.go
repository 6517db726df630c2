package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/internal/xvfb"
)

// childResult is what an engine child process reports on stdout.
type childResult struct {
	ColdStartMS []float64 `json:"cold_start_ms,omitempty"`
	WarmStartMS []float64 `json:"warm_start_ms,omitempty"`
}

type sessionsReport struct {
	Date        time.Time          `json:"date"`
	FPS         int                `json:"fps"`
	Duration    time.Duration      `json:"duration"`
	Runs        []benchmarks.Usage `json:"runs"`
	OneCPU      float64            `json:"one_session_median_cpu_s"`
	TwoCPU      float64            `json:"two_sessions_median_cpu_s"`
	Ratio       float64            `json:"two_over_one_cpu"`
	ColdStartMS []float64          `json:"cold_start_to_first_fragment_ms"`
	WarmStartMS []float64          `json:"warm_start_to_first_fragment_ms"`
	ColdMedian  float64            `json:"cold_median_ms"`
	WarmMedian  float64            `json:"warm_median_ms"`
}

// runChild is the engine side of the sessions suite, run in its own process so that its CPU
// is measured alone: mode "one" or "two" records for the duration with one session or two
// overlapping sessions of the same screen; mode "latency" measures Start → first fragment.
func runChild(mode, display string, fps int, d time.Duration) error {
	spool, err := os.MkdirTemp("", "bench-engine-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(spool)
	ctx := context.Background()
	var opts map[string]string
	if *tune != "" {
		opts = map[string]string{"tune": *tune}
	}
	e, err := engine.New(ctx, engine.Config{SpoolDir: spool, FPS: fps, MinFreeDisk: -1, Encoders: []string{"libx264"}, EncoderOptions: opts})
	if err != nil {
		return err
	}
	defer e.Close(ctx)
	src := engine.Source{Display: display}
	var res childResult
	switch mode {
	case "one", "two":
		a, err := e.Start(ctx, engine.StartRequest{Owner: "bench", Frontend: "a", Source: src})
		if err != nil {
			return err
		}
		if mode == "two" {
			b, err := e.Start(ctx, engine.StartRequest{Owner: "bench", Frontend: "b", Source: src})
			if err != nil {
				return err
			}
			defer e.Stop(ctx, b.ID)
		}
		time.Sleep(d)
		if _, err := e.Stop(ctx, a.ID); err != nil {
			return err
		}
	case "latency":
		for i := 0; i < 10; i++ {
			ms, id, err := startToFragment(ctx, e, src, "cold")
			if err != nil {
				return err
			}
			res.ColdStartMS = append(res.ColdStartMS, ms)
			time.Sleep(200 * time.Millisecond) // a session that has just begun, as in real use
			warm, wid, err := startToFragment(ctx, e, src, "warm")
			if err != nil {
				return err
			}
			res.WarmStartMS = append(res.WarmStartMS, warm)
			for _, s := range []string{wid, id} {
				if _, err := e.Stop(ctx, s); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("unknown child mode %q", mode)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// startToFragment starts a session and returns the milliseconds until its file holds a
// complete fragment.
func startToFragment(ctx context.Context, e *engine.Engine, src engine.Source, frontend string) (float64, string, error) {
	t0 := time.Now()
	s, err := e.Start(ctx, engine.StartRequest{Owner: "bench", Frontend: frontend, Source: src})
	if err != nil {
		return 0, "", err
	}
	for time.Since(t0) < 10*time.Second {
		got, err := e.Get(ctx, s.ID)
		if err == nil && len(got.Segments) > 0 {
			if r, err := mux.Inspect(got.Segments[0].Path); err == nil && r.Fragments > 0 {
				return float64(time.Since(t0).Microseconds()) / 1000, s.ID, nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, "", fmt.Errorf("no fragment within 10 s of start")
}

func runSessions(ctx context.Context, c config, srv *xvfb.Server) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rep := sessionsReport{Date: time.Now().UTC(), FPS: c.FPS, Duration: c.Duration}
	child := func(mode string) (benchmarks.Usage, childResult, error) {
		var res childResult
		out := filepath.Join(os.TempDir(), fmt.Sprintf("bench-child-%d.json", os.Getpid()))
		defer os.Remove(out)
		argv := []string{"sh", "-c", fmt.Sprintf("exec %q -child %s -display %s -fps %d -duration %s -tune %q > %q",
			self, mode, srv.Display, c.FPS, c.Duration, *tune, out)}
		u, err := benchmarks.Run(ctx, mode, srv.Env(), argv...)
		if err != nil {
			return u, res, err
		}
		b, _ := os.ReadFile(out)
		return u, res, json.Unmarshal(b, &res)
	}
	var one, two []float64
	for round := 0; round < c.Rounds; round++ {
		order := []string{"one", "two"}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, mode := range order {
			u, _, err := child(mode)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "round %d sessions=%s cpu %.2fs rss %.0f MiB\n", round+1, mode, u.CPU, u.MaxRSS)
			rep.Runs = append(rep.Runs, u)
			if mode == "one" {
				one = append(one, u.CPU)
			} else {
				two = append(two, u.CPU)
			}
		}
	}
	_, lat, err := child("latency")
	if err != nil {
		return err
	}
	rep.OneCPU, rep.TwoCPU = benchmarks.Median(one), benchmarks.Median(two)
	rep.Ratio = rep.TwoCPU / rep.OneCPU
	rep.ColdStartMS, rep.WarmStartMS = lat.ColdStartMS, lat.WarmStartMS
	rep.ColdMedian, rep.WarmMedian = benchmarks.Median(lat.ColdStartMS), benchmarks.Median(lat.WarmStartMS)

	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(c.Out, "sessions.json"), js, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Engine sessions — %s\n\n", rep.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "%dx%d, %d fps, %s per run, libx264, changing content, %d rounds alternated; the engine in its own process. Medians.\n\n",
		c.Width, c.Height, c.FPS, c.Duration, c.Rounds)
	fmt.Fprintln(&b, "| sessions of the same screen | CPU user+sys (s) |")
	fmt.Fprintln(&b, "|---|---|")
	fmt.Fprintf(&b, "| one | %.2f |\n| two, overlapping | %.2f |\n", rep.OneCPU, rep.TwoCPU)
	fmt.Fprintf(&b, "\n**two / one: CPU %.3f** (goal ≤ 1.2)\n\n", rep.Ratio)
	fmt.Fprintf(&b, "Start → first complete fragment on disk, median of %d: **cold %.0f ms** (opens the capture and encoder), **warm %.0f ms** (joins a running capture) (goal ≤ 300 ms).\n",
		len(rep.ColdStartMS), rep.ColdMedian, rep.WarmMedian)
	if err := os.WriteFile(filepath.Join(c.Out, "sessions.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

// childFlags are the flags of a child process.
var childMode = flag.String("child", "", "internal: run as an engine child in this mode (one, two, latency)")
var childDisplay = flag.String("display", "", "internal: the child's display")

// tune is passed to libx264 as its tune option in every suite ("" for none).
var tune = flag.String("tune", "zerolatency", "x264 tune of the engine's encoder (the recorder's default is zerolatency; empty: none)")
