package idlebench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/xvfb"
)

// DensityRow is one point of the density curve: one engine recording n mostly idle 1080p
// displays (a form with a blinking caret on each), each its own session.
type DensityRow struct {
	Sessions int    `json:"sessions"`
	Engine   window `json:"engine"`
	// RSSPerSession is (RSS − RSS of the one-session run) / (n − 1), MiB.
	RSSPerSession float64 `json:"rss_per_session_mib,omitempty"`
	// StartSeconds is how long starting every session took.
	StartSeconds float64 `json:"start_s"`
	DensityCounts
}

// DensityCounts are the engine's frame counters (its metrics) over the whole child run.
type DensityCounts struct {
	Captured int64 `json:"frames_captured"`
	Encoded  int64 `json:"frames_encoded"`
	Skipped  int64 `json:"frames_skipped_unchanged"`
	Dropped  int64 `json:"frames_dropped"`
}

// DensityGoal: this many sessions with no frame dropped.
const DensityGoal = 50

func runDensity(ctx context.Context, c Config) ([]DensityRow, error) {
	most := slices.Max(c.Sessions)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	srvs, err := startDisplays(ctx, most)
	defer func() {
		for _, s := range srvs {
			s.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	var displays []string
	for _, s := range srvs {
		stop, err := playIdle(s.Display, c.DensityFPS)
		if err != nil {
			return nil, err
		}
		defer stop()
		displays = append(displays, s.Display)
	}
	var rows []DensityRow
	for _, n := range c.Sessions {
		row, err := densityLevel(ctx, c, self, displays[:n])
		if err != nil {
			return rows, fmt.Errorf("%d sessions: %w", n, err)
		}
		if len(rows) > 0 && rows[0].Sessions == 1 && n > 1 {
			row.RSSPerSession = (row.Engine.RSS - rows[0].Engine.RSS) / float64(n-1)
		}
		rows = append(rows, row)
		fmt.Fprintf(os.Stderr, "idlebench: density %d sessions: %.1f%% of a core, RSS %.0f MiB, dropped %d\n",
			n, row.Engine.Core, row.Engine.RSS, row.Dropped)
	}
	return rows, nil
}

// startDisplays starts n 1080p Xvfb servers, a few at a time.
func startDisplays(ctx context.Context, n int) ([]*xvfb.Server, error) {
	srvs := make([]*xvfb.Server, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			srvs[i], errs[i] = display1080p(ctx)
		}()
	}
	wg.Wait()
	var out []*xvfb.Server
	for _, s := range srvs {
		if s != nil {
			out = append(out, s)
		}
	}
	return out, errors.Join(errs...)
}

// densityLevel runs the engine child on displays and measures it.
func densityLevel(ctx context.Context, c Config, self string, displays []string) (DensityRow, error) {
	row := DensityRow{Sessions: len(displays)}
	cmd := exec.CommandContext(ctx, self, "-child", "density", "-displays", strings.Join(displays, ","),
		"-density-fps", strconv.Itoa(c.DensityFPS))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return row, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return row, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return row, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		return row, fmt.Errorf("child: no ready line: %s", tail(stderr.String()))
	}
	if row.StartSeconds, err = strconv.ParseFloat(strings.TrimPrefix(lines.Text(), "ready "), 64); err != nil {
		return row, fmt.Errorf("child said %q: %s", lines.Text(), tail(stderr.String()))
	}
	select {
	case <-time.After(c.Warmup):
	case <-ctx.Done():
		return row, ctx.Err()
	}
	if row.Engine, err = measure(cmd.Process.Pid, c.DensityWindow, ctx.Done()); err != nil {
		return row, err
	}
	stdin.Close() // the child stops its sessions and reports its counters
	if !lines.Scan() {
		return row, fmt.Errorf("child: no counters: %s", tail(stderr.String()))
	}
	if err := json.Unmarshal(lines.Bytes(), &row.DensityCounts); err != nil {
		return row, fmt.Errorf("child counters %q: %w", lines.Text(), err)
	}
	return row, nil
}

// RunDensityChild is the density child: one engine recording each display in a session of
// its own until stdin closes. It prints "ready <seconds to start them all>" once all run,
// and at the end the engine's frame counters as JSON.
func RunDensityChild(displays []string, fps int) error {
	signal.Ignore(syscall.SIGINT) // the parent ends it through stdin
	ctx := context.Background()
	spool, err := os.MkdirTemp("", "idlebench-density-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(spool)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	e, err := engine.New(ctx, engine.Config{SpoolDir: spool, FPS: fps, MinFreeDisk: -1,
		MaxSessions: len(displays), Encoders: []string{"libx264"}}, engine.WithMeterProvider(mp))
	if err != nil {
		return err
	}
	defer e.Close(ctx)
	t0 := time.Now()
	var ids []string
	for i, d := range displays {
		s, err := e.Start(ctx, engine.StartRequest{Owner: fmt.Sprintf("agent%d", i), Frontend: "bench",
			Source: engine.Source{Display: d}})
		if err != nil {
			return fmt.Errorf("start on %s: %w", d, err)
		}
		ids = append(ids, s.ID)
	}
	fmt.Printf("ready %.3f\n", time.Since(t0).Seconds())
	_, _ = io.Copy(io.Discard, os.Stdin)
	var counts DensityCounts
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			var v int64
			for _, dp := range sum.DataPoints {
				v += dp.Value
			}
			switch m.Name {
			case engine.MetricFramesCaptured:
				counts.Captured = v
			case engine.MetricFramesEncoded:
				counts.Encoded = v
			case engine.MetricFramesSkipped:
				counts.Skipped = v
			case engine.MetricFramesDropped:
				counts.Dropped = v
			}
		}
	}
	for _, id := range ids {
		if _, err := e.Stop(ctx, id); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(counts)
	fmt.Println(string(b))
	return nil
}
