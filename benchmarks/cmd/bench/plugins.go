package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/xvfb"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

type pluginsReport struct {
	Date            time.Time `json:"date"`
	GetInProcessUS  float64   `json:"get_in_process_median_us"`
	GetOutProcessUS float64   `json:"get_out_of_process_median_us"`
	GetCalls        int       `json:"get_calls"`
	RestartMS       []float64 `json:"restart_ms"`
	RestartMedianMS float64   `json:"restart_median_ms"`
	ServingMS       []float64 `json:"serving_again_ms"`
	ServingMedianMS float64   `json:"serving_again_median_ms"`
}

// getCalls is how many Get calls the probe times per mode.
const getCalls = 2000

// runPlugins measures the plugin boundary: the latency of an engine call made by a front end
// in-process and out-of-process, and how fast a killed plugin process is back.
func runPlugins(ctx context.Context, c config, srv *xvfb.Server) error {
	spool, err := os.MkdirTemp("", "bench-plugins-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(spool)
	eng, err := engine.New(ctx, engine.Config{SpoolDir: spool, MinFreeDisk: -1, FPS: c.FPS})
	if err != nil {
		return err
	}
	defer eng.Close(context.Background())
	s, err := eng.Start(ctx, engine.StartRequest{Owner: "bench", Frontend: "bench", Source: engine.Source{Display: srv.Display}})
	if err != nil {
		return err
	}
	rep := pluginsReport{Date: time.Now().UTC(), GetCalls: getCalls}
	for _, inProcess := range []bool{true, false} {
		h := host.New(host.EngineAPI(eng), host.Options{BuiltinExecutable: c.builtinExecutable()})
		if err := h.Load(ctx, []host.Spec{{Name: "probe", Kind: sdk.KindFrontend, InProcess: inProcess}}); err != nil {
			return err
		}
		if err := h.Serve(ctx); err != nil {
			return err
		}
		var lat struct {
			MedianUS float64 `json:"median_us"`
		}
		if err := getJSON(h.Endpoints()["probe"][0].URL+fmt.Sprintf("/latency/get/%s?n=%d", s.ID, getCalls), &lat); err != nil {
			return err
		}
		if inProcess {
			rep.GetInProcessUS = lat.MedianUS
		} else {
			rep.GetOutProcessUS = lat.MedianUS
			if err := measureRestarts(h, &rep); err != nil {
				return err
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		h.Close(cctx)
		cancel()
	}
	if _, err := eng.Stop(ctx, s.ID); err != nil {
		return err
	}
	rep.RestartMedianMS, rep.ServingMedianMS = benchmarks.Median(rep.RestartMS), benchmarks.Median(rep.ServingMS)
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(c.Out, "plugins.json"), js, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Plugin boundary — %s\n\n", rep.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "| engine `Get` from the probe front end, median of %d | µs |\n|---|---|\n", getCalls)
	fmt.Fprintf(&b, "| in-process | %.2f |\n| out-of-process (gRPC over the go-plugin broker) | %.1f |\n\n", rep.GetInProcessUS, rep.GetOutProcessUS)
	fmt.Fprintf(&b, "Plugin process killed with SIGKILL, %d separate times: restarted after **%.0f ms** (median; detection + back-off + handshake + configure + serve), API answering again after %.0f ms.\n",
		len(rep.RestartMS), rep.RestartMedianMS, rep.ServingMedianMS)
	if err := os.WriteFile(filepath.Join(c.Out, "plugins.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

func measureRestarts(h *host.Host, rep *pluginsReport) error {
	for i := 0; i < 10; i++ {
		pid := h.Pid(sdk.KindFrontend, "probe")
		t0 := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return err
		}
		for ev := range h.Events() {
			if ev.Type == host.EventRestarted {
				break
			}
		}
		rep.RestartMS = append(rep.RestartMS, float64(time.Since(t0).Microseconds())/1000)
		for {
			var p struct{ Pid int }
			if err := getJSON(h.Endpoints()["probe"][0].URL+"/pid", &p); err == nil && p.Pid != pid {
				break
			}
			time.Sleep(time.Millisecond)
		}
		rep.ServingMS = append(rep.ServingMS, float64(time.Since(t0).Microseconds())/1000)
		// Each kill is a single crash, not a crash loop (which backs off): let the plugin count
		// as healthy again first.
		time.Sleep(host.HealthyAfter + 500*time.Millisecond)
	}
	return nil
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
