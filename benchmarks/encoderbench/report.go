package encoderbench

import (
	"math"
	"time"

	"github.com/screenrec/recorder/benchmarks"
)

// Report is everything one benchmark run measured; it is written as bench.json.
type Report struct {
	// Date is when the run started (UTC).
	Date time.Time `json:"date"`
	// Config is what was asked for.
	Config Config `json:"config"`
	// Machine describes where it ran.
	Machine Machine `json:"machine"`
	// EstimateSeconds was the planned duration; ElapsedSeconds the real one.
	EstimateSeconds float64 `json:"estimate_s"`
	ElapsedSeconds  float64 `json:"elapsed_s"`
	// Variants are the encoders/presets run.
	Variants []Variant `json:"variants"`
	// Skipped lists what was not run, and why.
	Skipped []Skip `json:"skipped,omitempty"`
	// Failed lists cells whose runs failed, and why.
	Failed []Skip `json:"failed,omitempty"`
	// Live are the capture+encode runs, one cell per scene × resolution × variant.
	Live []*LiveCell `json:"live,omitempty"`
	// EncodeOnly are the encode-only runs, one cell per scene × resolution × variant.
	EncodeOnly []*EncodeCell `json:"encode_only,omitempty"`
	// Goals are the ratios the suite checks, each with its limit and outcome.
	Goals []GoalResult `json:"goals"`
}

// Machine describes the machine a run measured.
type Machine struct {
	Cores     int    `json:"cores"`
	CPUModel  string `json:"cpu_model"`
	MemoryMiB int    `json:"memory_mib"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel,omitempty"`
	GoVersion string `json:"go_version"`
	FFmpeg    string `json:"ffmpeg_version"`
	// LoadBefore and LoadAfter are /proc/loadavg's 1-minute figure when the run started and
	// ended: other work on the machine makes wall-clock figures (encode-only fps) noisy.
	LoadBefore float64 `json:"load_before,omitempty"`
	LoadAfter  float64 `json:"load_after,omitempty"`
}

// Skip is a cell that was not run (or failed), with the reason.
type Skip struct {
	Mode       string `json:"mode"` // "live" or "encode-only"
	Scene      string `json:"scene,omitempty"`
	Resolution string `json:"resolution,omitempty"`
	Variant    string `json:"variant,omitempty"`
	Reason     string `json:"reason"`
}

// Modes of a cell.
const (
	ModeLive       = "live"
	ModeEncodeOnly = "encode-only"
)

// LiveCell is one scene × resolution × variant of live runs.
type LiveCell struct {
	Scene      string `json:"scene"`
	Resolution string `json:"resolution"`
	// Width and Height are the captured canvas (three monitors wide for mixed-3).
	Width   int     `json:"width"`
	Height  int     `json:"height"`
	Variant Variant `json:"variant"`
	// Runs are every run, in the order they ran.
	Runs []LiveRun `json:"runs"`
	// Recorder and FFmpeg are each tool's medians over its runs.
	Recorder LiveSummary `json:"recorder"`
	FFmpeg   LiveSummary `json:"ffmpeg"`
	// Ratios are recorder / ffmpeg of the medians (absent when the CLI's figure is 0).
	Ratios LiveRatios `json:"ratios"`
	// Quality is the encode-only quality of the same scene, resolution and variant (live runs
	// have no exact reference; see the README), copied here for the tables.
	Quality *QualityPair `json:"quality_from_encode_only,omitempty"`
}

// LiveRun is one tool's run of a live cell.
type LiveRun struct {
	benchmarks.Usage
	// Round is the round (0-based); First whether this tool went first in it.
	Round int  `json:"round"`
	First bool `json:"first"`
	// Kbps is the file's size over the run's duration, in kbit/s.
	Kbps float64 `json:"kbps"`
	// ToolFrames is the tool's own frame count (recorder summary; ffmpeg -progress).
	ToolFrames int64 `json:"tool_frames"`
	// Dropped is the tool's own count: the recorder's capture gaps longer than 1.5 frame
	// intervals; the CLI's frames dropped by its constant-rate output. Not the same measure,
	// and neither is "expected minus frames in file" (an engine that skips unchanged frames
	// legitimately writes fewer).
	Dropped int64 `json:"dropped"`
	// Duplicated is how many frames the CLI repeated to keep its constant rate.
	Duplicated int64 `json:"duplicated,omitempty"`
}

// LiveSummary holds one tool's medians over a live cell's runs.
type LiveSummary struct {
	CPU     float64 `json:"cpu_s"`
	CPUPct  float64 `json:"cpu_pct_of_core"`
	MaxRSS  float64 `json:"max_rss_mib"`
	Frames  float64 `json:"frames"`
	Dropped float64 `json:"dropped"`
	Kbps    float64 `json:"kbps"`
}

// LiveRatios are recorder / ffmpeg CLI.
type LiveRatios struct {
	CPU  *float64 `json:"cpu,omitempty"`
	RSS  *float64 `json:"max_rss,omitempty"`
	Kbps *float64 `json:"kbps,omitempty"`
	// CPURounds and KbpsRounds are the ratios of each round (recorder / CLI of the same
	// round): their spread shows how noisy the medians are.
	CPURounds  []float64 `json:"cpu_rounds,omitempty"`
	KbpsRounds []float64 `json:"kbps_rounds,omitempty"`
}

// QualityPair is both tools' quality for one cell.
type QualityPair struct {
	Recorder *Quality `json:"recorder,omitempty"`
	FFmpeg   *Quality `json:"ffmpeg,omitempty"`
}

// EncodeCell is one scene × resolution × variant of encode-only runs.
type EncodeCell struct {
	Scene      string  `json:"scene"`
	Resolution string  `json:"resolution"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	Variant    Variant `json:"variant"`
	// ClipFrames is the stored clip's length; Frames how many each run encoded (looping it).
	ClipFrames int `json:"clip_frames"`
	Frames     int `json:"frames"`
	// Runs are every run, in the order they ran.
	Runs []EncodeRun `json:"runs"`
	// Recorder and FFmpeg are each tool's medians, with the quality of its first run.
	Recorder EncodeSummary `json:"recorder"`
	FFmpeg   EncodeSummary `json:"ffmpeg"`
	// Ratios are recorder / ffmpeg (and differences for quality).
	Ratios EncodeRatios `json:"ratios"`
}

// EncodeRun is one tool's run of an encode-only cell.
type EncodeRun struct {
	benchmarks.Usage
	Round int  `json:"round"`
	First bool `json:"first"`
	// FPS is frames over the process's wall time (start-up included, for both tools).
	FPS float64 `json:"fps"`
	// CPUMsPerFrame is user+sys CPU per frame, in milliseconds.
	CPUMsPerFrame float64 `json:"cpu_ms_per_frame"`
	// Kbps is the file's size over the frames' duration at the nominal rate.
	Kbps float64 `json:"kbps"`
	// LoopSeconds is the recorder child's own loop time (reported only).
	LoopSeconds float64 `json:"loop_s,omitempty"`
	// Quality is measured on each tool's first run.
	Quality *Quality `json:"quality,omitempty"`
}

// EncodeSummary holds one tool's medians over an encode-only cell's runs.
type EncodeSummary struct {
	FPS           float64  `json:"fps"`
	CPUMsPerFrame float64  `json:"cpu_ms_per_frame"`
	MaxRSS        float64  `json:"max_rss_mib"`
	Kbps          float64  `json:"kbps"`
	Quality       *Quality `json:"quality,omitempty"`
}

// EncodeRatios compare the recorder with the CLI on the same frames.
type EncodeRatios struct {
	FPS         *float64 `json:"fps,omitempty"`
	CPUPerFrame *float64 `json:"cpu_per_frame,omitempty"`
	RSS         *float64 `json:"max_rss,omitempty"`
	Kbps        *float64 `json:"kbps,omitempty"`
	// SSIMDelta and PSNRDelta are recorder minus CLI.
	SSIMDelta *float64 `json:"ssim_delta,omitempty"`
	PSNRDelta *float64 `json:"psnr_delta_db,omitempty"`
}

// ratio is a/b, or nil when b is 0 (nothing to compare with).
func ratio(a, b float64) *float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return nil
	}
	r := a / b
	return &r
}

// delta is a-b, or nil when either is infinite.
func delta(a, b float64) *float64 {
	d := a - b
	if math.IsInf(d, 0) || math.IsNaN(d) {
		return nil
	}
	return &d
}

// summarizeLive computes the medians of each tool and the ratios.
func (c *LiveCell) summarize(d time.Duration) {
	for _, tool := range []string{ToolRecorder, ToolFFmpeg} {
		var cpu, pct, rss, frames, dropped, kbps []float64
		for _, r := range c.Runs {
			if r.Tool != tool {
				continue
			}
			cpu = append(cpu, r.CPU)
			pct = append(pct, 100*r.CPU/d.Seconds())
			rss = append(rss, r.MaxRSS)
			frames = append(frames, float64(r.Frames))
			dropped = append(dropped, float64(r.Dropped))
			kbps = append(kbps, r.Kbps)
		}
		s := LiveSummary{CPU: benchmarks.Median(cpu), CPUPct: benchmarks.Median(pct), MaxRSS: benchmarks.Median(rss),
			Frames: benchmarks.Median(frames), Dropped: benchmarks.Median(dropped), Kbps: benchmarks.Median(kbps)}
		if tool == ToolRecorder {
			c.Recorder = s
		} else {
			c.FFmpeg = s
		}
	}
	c.Ratios = LiveRatios{CPU: ratio(c.Recorder.CPU, c.FFmpeg.CPU), RSS: ratio(c.Recorder.MaxRSS, c.FFmpeg.MaxRSS),
		Kbps: ratio(c.Recorder.Kbps, c.FFmpeg.Kbps)}
	byRound := map[int]map[string]LiveRun{}
	for _, r := range c.Runs {
		if byRound[r.Round] == nil {
			byRound[r.Round] = map[string]LiveRun{}
		}
		byRound[r.Round][r.Tool] = r
	}
	for round := 0; round < len(byRound); round++ {
		rec, ok1 := byRound[round][ToolRecorder]
		cli, ok2 := byRound[round][ToolFFmpeg]
		if !ok1 || !ok2 {
			continue
		}
		if r := ratio(rec.CPU, cli.CPU); r != nil {
			c.Ratios.CPURounds = append(c.Ratios.CPURounds, *r)
		}
		if r := ratio(rec.Kbps, cli.Kbps); r != nil {
			c.Ratios.KbpsRounds = append(c.Ratios.KbpsRounds, *r)
		}
	}
}

// summarize computes the medians of each tool and the ratios.
func (c *EncodeCell) summarize() {
	for _, tool := range []string{ToolRecorder, ToolFFmpeg} {
		var fps, cpf, rss, kbps []float64
		var q *Quality
		for _, r := range c.Runs {
			if r.Tool != tool {
				continue
			}
			fps = append(fps, r.FPS)
			cpf = append(cpf, r.CPUMsPerFrame)
			rss = append(rss, r.MaxRSS)
			kbps = append(kbps, r.Kbps)
			if q == nil && r.Quality != nil {
				q = r.Quality
			}
		}
		s := EncodeSummary{FPS: benchmarks.Median(fps), CPUMsPerFrame: benchmarks.Median(cpf), MaxRSS: benchmarks.Median(rss),
			Kbps: benchmarks.Median(kbps), Quality: q}
		if tool == ToolRecorder {
			c.Recorder = s
		} else {
			c.FFmpeg = s
		}
	}
	c.Ratios = EncodeRatios{FPS: ratio(c.Recorder.FPS, c.FFmpeg.FPS), CPUPerFrame: ratio(c.Recorder.CPUMsPerFrame, c.FFmpeg.CPUMsPerFrame),
		RSS: ratio(c.Recorder.MaxRSS, c.FFmpeg.MaxRSS), Kbps: ratio(c.Recorder.Kbps, c.FFmpeg.Kbps)}
	if c.Recorder.Quality != nil && c.FFmpeg.Quality != nil {
		c.Ratios.SSIMDelta = delta(c.Recorder.Quality.SSIM, c.FFmpeg.Quality.SSIM)
		c.Ratios.PSNRDelta = delta(float64(c.Recorder.Quality.PSNR), float64(c.FFmpeg.Quality.PSNR))
	}
}
