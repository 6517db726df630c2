package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/xvfb"
)

// telemetryReport is the telemetry suite's result: `recorder record` with telemetry off and
// on, alternated, on the same screen and settings.
type telemetryReport struct {
	Date      time.Time          `json:"date"`
	Config    config             `json:"config"`
	Runs      []benchmarks.Usage `json:"runs"`
	Scrapes   []int              `json:"scrapes_per_on_run"`
	Off       summary            `json:"off"`
	On        summary            `json:"on"`
	RoundPct  []float64          `json:"overhead_pct_per_round"`
	MedianPct float64            `json:"overhead_pct_of_medians"`
}

// runTelemetry measures the CPU that telemetry costs a recording: `recorder record` of the
// 1080p screen with telemetry off (RECORDER_TELEMETRY_ENABLED=false) and on (Prometheus
// metrics served with --metrics-listen and scraped every second, traces recorded, nothing
// exported: no OTLP variables), alternating which goes first each round. The overhead is
// on/off − 1 in CPU (user+sys of the recorder process), per round and of the medians.
func runTelemetry(ctx context.Context, c config, srv *xvfb.Server) error {
	work, err := os.MkdirTemp("", "recorder-bench-telemetry-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rep := telemetryReport{Date: time.Now().UTC(), Config: c}
	for round := 0; round < c.Rounds; round++ {
		order := []string{"off", "on"}
		if round%2 == 1 {
			order = []string{"on", "off"}
		}
		cpu := map[string]float64{}
		for _, mode := range order {
			path := filepath.Join(work, fmt.Sprintf("telemetry-%s-%d.mp4", mode, round))
			argv := []string{c.Recorder, "record", "--out", path, "--duration", c.Duration.String(),
				"--fps", strconv.Itoa(c.FPS), "--encoder", "libx264"}
			if *tune != "" {
				argv = append(argv, "--encoder-opt", "tune="+*tune)
			}
			env := withoutOTEL(srv.Env())
			var url string
			if mode == "on" {
				port, err := freeLoopbackPort()
				if err != nil {
					return err
				}
				url = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
				argv = append(argv, "--telemetry", "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", port))
			} else {
				env = append(env, "RECORDER_TELEMETRY_ENABLED=false")
			}
			sctx, stopScraping := context.WithCancel(ctx)
			scraped := make(chan int, 1)
			go func() { scraped <- scrapeEverySecond(sctx, url) }()
			u, err := benchmarks.Run(ctx, "recorder-telemetry-"+mode, env, argv...)
			stopScraping()
			n := <-scraped
			if err != nil {
				return err
			}
			if mode == "on" {
				if n < int(c.Duration.Seconds())/2 {
					return fmt.Errorf("telemetry on: only %d scrapes of %s succeeded", n, url)
				}
				rep.Scrapes = append(rep.Scrapes, n)
			}
			u.Bytes = benchmarks.FileSize(path)
			if p, err := mediatest.ProbeFile(ctx, path); err == nil && len(p.VideoStreams()) > 0 {
				u.Frames = p.VideoStreams()[0].NbReadFrames
			}
			fmt.Fprintf(os.Stderr, "telemetry round %d %-3s cpu %.2fs (user %.2f sys %.2f) rss %.0f MiB frames %d scrapes %d\n",
				round+1, mode, u.CPU, u.User, u.Sys, u.MaxRSS, u.Frames, n)
			rep.Runs = append(rep.Runs, u)
			cpu[mode] = u.CPU
			os.Remove(path)
		}
		rep.RoundPct = append(rep.RoundPct, 100*(cpu["on"]/cpu["off"]-1))
	}
	rep.Off = summarize(rep.Runs, "recorder-telemetry-off", c)
	rep.On = summarize(rep.Runs, "recorder-telemetry-on", c)
	rep.MedianPct = 100 * (rep.On.CPU/rep.Off.CPU - 1)

	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Out, "telemetry.json"), js, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Telemetry overhead — %s\n\n", rep.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "`recorder record`, %dx%d, %d fps, %s per run, libx264 with the engine's defaults, changing content, %d rounds, off and on alternated. "+
		"On: traces recorded, Prometheus metrics served on loopback and scraped every second (%v scrapes per run), nothing exported. Medians.\n\n",
		c.Width, c.Height, c.FPS, c.Duration, c.Rounds, rep.Scrapes)
	fmt.Fprintln(&b, "| telemetry | CPU user+sys (s) | % of a core | max RSS (MiB) | frames |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	fmt.Fprintf(&b, "| off | %.2f | %.1f | %.1f | %.0f |\n", rep.Off.CPU, rep.Off.CPUPct, rep.Off.MaxRSS, rep.Off.Frames)
	fmt.Fprintf(&b, "| on | %.2f | %.1f | %.1f | %.0f |\n", rep.On.CPU, rep.On.CPUPct, rep.On.MaxRSS, rep.On.Frames)
	var rounds []string
	for _, p := range rep.RoundPct {
		rounds = append(rounds, fmt.Sprintf("%+.1f %%", p))
	}
	fmt.Fprintf(&b, "\n**CPU overhead of telemetry: %+.1f %%** (of the medians; per round: %s). Goal ≤ 2 %%.\n",
		rep.MedianPct, strings.Join(rounds, ", "))
	if err := os.WriteFile(filepath.Join(c.Out, "telemetry.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

// summary is the medians of one kind of run.
type summary struct {
	CPU    float64 `json:"median_cpu_s"`
	CPUPct float64 `json:"median_cpu_pct_of_core"`
	MaxRSS float64 `json:"median_max_rss_mib"`
	Frames float64 `json:"median_frames"`
	Kbps   float64 `json:"median_kbps"`
}

// summarize takes the medians of the runs of tool.
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

// withoutOTEL drops the OpenTelemetry variables from env, so that neither run exports
// anywhere whatever the caller's environment says.
func withoutOTEL(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "RECORDER_TELEMETRY_") {
			out = append(out, kv)
		}
	}
	return out
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// scrapeEverySecond GETs url every second until ctx ends, as a Prometheus server would, and
// returns how many scrapes succeeded; with no url it waits and returns 0.
func scrapeEverySecond(ctx context.Context, url string) int {
	if url == "" {
		<-ctx.Done()
		return 0
	}
	client := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n
		case <-t.C:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			continue // not listening yet, or already gone
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			n++
		}
	}
}
