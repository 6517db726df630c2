package encoderbench

import (
	"fmt"

	"github.com/screenrec/recorder/internal/xscene"
)

// Goal is a target for one ratio (recorder vs ffmpeg CLI, same scene, same run).
type Goal struct {
	// Name says what is checked, e.g. "idle 1080p CPU".
	Name string `json:"name"`
	// Mode is ModeLive or ModeEncodeOnly: which cells it applies to.
	Mode string `json:"mode"`
	// Scene and Resolution restrict it to matching cells ("" for every one).
	Scene      string `json:"scene,omitempty"`
	Resolution string `json:"resolution,omitempty"`
	// Metric is what is compared: see the Metric constants.
	Metric string `json:"metric"`
	// AtMost says the value must be ≤ Limit (else ≥ Limit).
	AtMost bool    `json:"at_most"`
	Limit  float64 `json:"limit"`
}

// Metrics a goal can check.
const (
	MetricCPURatio  = "cpu_ratio"
	MetricRSSRatio  = "max_rss_ratio"
	MetricKbpsRatio = "kbps_ratio"
	MetricSSIMDelta = "ssim_delta"
	MetricFPSRatio  = "fps_ratio"
)

// Goals are issue 8's and issue 17's targets. Issue 17's apply to every scene: fewer bytes
// than the CLI's defaults at an SSIM at most 0.002 lower, on the same frames and live, for
// less CPU.
var Goals = []Goal{
	{Name: "idle 1080p CPU", Mode: ModeLive, Scene: xscene.SceneIdle, Resolution: "1080p", Metric: MetricCPURatio, AtMost: true, Limit: 0.1},
	{Name: "CPU", Mode: ModeLive, Metric: MetricCPURatio, AtMost: true, Limit: 0.6},
	{Name: "bytes, live", Mode: ModeLive, Metric: MetricKbpsRatio, AtMost: true, Limit: 0.9},
	{Name: "bytes, same frames", Mode: ModeEncodeOnly, Metric: MetricKbpsRatio, AtMost: true, Limit: 0.75},
	{Name: "SSIM − CLI's, same frames", Mode: ModeEncodeOnly, Metric: MetricSSIMDelta, Limit: -0.002},
	{Name: "max RSS", Mode: ModeLive, Metric: MetricRSSRatio, AtMost: true, Limit: 0.8},
	{Name: "encode-only fps", Mode: ModeEncodeOnly, Metric: MetricFPSRatio, Limit: 0.97},
}

// Outcomes of a goal on one cell.
const (
	StatusPass   = "pass"
	StatusMiss   = "miss"
	StatusNotRun = "not run"
	StatusNA     = "n/a"
)

// GoalResult is one goal checked on one cell.
type GoalResult struct {
	Goal
	// Cell names the cell checked ("typing 1080p libx264/ultrafast"); empty when none ran.
	Cell string `json:"cell,omitempty"`
	// Value is the measured ratio or difference (absent when it could not be computed).
	Value *float64 `json:"value,omitempty"`
	// Status is pass, miss, "not run" (no matching cell) or n/a (no value).
	Status string `json:"status"`
}

// Want formats the limit: "≤ 0.70×", "≥ −0.005".
func (g Goal) Want() string {
	op := "≥"
	if g.AtMost {
		op = "≤"
	}
	if g.Metric == MetricSSIMDelta {
		return fmt.Sprintf("%s %+.3f", op, g.Limit)
	}
	return fmt.Sprintf("%s %.2f×", op, g.Limit)
}

// Format formats a value of the goal's metric.
func (g Goal) Format(v float64) string {
	if g.Metric == MetricSSIMDelta {
		return fmt.Sprintf("%+.4f", v)
	}
	return fmt.Sprintf("%.3f×", v)
}

func (g Goal) matches(scene, res string) bool {
	return (g.Scene == "" || g.Scene == scene) && (g.Resolution == "" || g.Resolution == res)
}

func (g Goal) check(cell string, v *float64) GoalResult {
	r := GoalResult{Goal: g, Cell: cell, Value: v, Status: StatusNA}
	if v != nil {
		ok := *v >= g.Limit
		if g.AtMost {
			ok = *v <= g.Limit
		}
		r.Status = StatusMiss
		if ok {
			r.Status = StatusPass
		}
	}
	return r
}

func cellName(scene, res string, v Variant) string {
	return fmt.Sprintf("%s %s %s", scene, res, v.Label())
}

// evaluateGoals checks every goal on every matching cell; a goal no cell matches gets one
// "not run" row, so a smaller matrix shows what it left out.
func evaluateGoals(live []*LiveCell, enc []*EncodeCell) []GoalResult {
	var out []GoalResult
	for _, g := range Goals {
		n := len(out)
		if g.Mode == ModeLive {
			for _, c := range live {
				if !g.matches(c.Scene, c.Resolution) {
					continue
				}
				var v *float64
				switch g.Metric {
				case MetricCPURatio:
					v = c.Ratios.CPU
				case MetricRSSRatio:
					v = c.Ratios.RSS
				case MetricKbpsRatio:
					v = c.Ratios.Kbps
				}
				out = append(out, g.check(cellName(c.Scene, c.Resolution, c.Variant), v))
			}
		} else {
			for _, c := range enc {
				if !g.matches(c.Scene, c.Resolution) {
					continue
				}
				var v *float64
				switch g.Metric {
				case MetricSSIMDelta:
					v = c.Ratios.SSIMDelta
				case MetricFPSRatio:
					v = c.Ratios.FPS
				case MetricKbpsRatio:
					v = c.Ratios.Kbps
				}
				out = append(out, g.check(cellName(c.Scene, c.Resolution, c.Variant), v))
			}
		}
		if len(out) == n {
			out = append(out, GoalResult{Goal: g, Status: StatusNotRun})
		}
	}
	return out
}
