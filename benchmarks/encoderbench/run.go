package encoderbench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/engine/encode"
)

// Stage is one scene at one resolution on its own Xvfb: its live cells run there, and its
// encode-only clip is captured there.
type Stage struct {
	Scene      string     `json:"scene"`
	Resolution Resolution `json:"resolution"`
	// Width and Height are the screen (the canvas recorded).
	Width  int `json:"width"`
	Height int `json:"height"`
	// Live and Encode say which modes run.
	Live   bool `json:"live"`
	Encode bool `json:"encode_only"`
	// ClipFrames is the encode-only clip's length.
	ClipFrames int `json:"clip_frames,omitempty"`
	// EncodeFrames is how many frames each encode-only run encodes: Config.EncodeFrames,
	// or the clip's length when clip-bytes shortened the clip (a wide or 4K canvas), so that
	// the runs do not loop over a scene cut no real screen has.
	EncodeFrames int `json:"encode_frames,omitempty"`
}

// Plan is the resolved matrix of a run.
type Plan struct {
	Stages   []Stage   `json:"stages"`
	Variants []Variant `json:"variants"`
	Skipped  []Skip    `json:"skipped,omitempty"`
}

// Cells counts the live and encode-only cells.
func (p Plan) Cells() (live, enc int) {
	for _, s := range p.Stages {
		if s.Live {
			live += len(p.Variants)
		}
		if s.Encode {
			enc += len(p.Variants)
		}
	}
	return live, enc
}

// Cost model of Estimate: rough figures from --quick runs on a shared 2-core machine (child
// start and stop, Xvfb start and scene warm-up, per-pixel costs of an x264 ultrafast encode and
// of a quality comparison). The estimate is there to decide whether to start, not to assert.
const (
	estRunOverhead   = 1.2  // s per live run beyond its duration (start, finish, ffprobe)
	estStageOverhead = 2.5  // s per stage (Xvfb, warm-up)
	estEncodeNsPx    = 3.0  // ns per pixel encoded (encode-only, both tools similar)
	estQualityNsPx   = 10.0 // ns per pixel compared (decode, conversions, ssim, psnr)
	estClipNsPx      = 4.0  // ns per pixel written to the stored clip, on top of real time
	estProcess       = 0.15 // s to start and stop an encode-only child
)

// encoderCost scales the encode cost model for slower encoders and presets (x264 ultrafast = 1).
func encoderCost(v Variant) float64 {
	f := map[string]float64{"libx264": 1, "libx265": 5, "libvpx-vp9": 3}[v.Encoder]
	if f == 0 {
		f = 1 // hardware: the CPU only uploads frames
	}
	p := map[string]float64{"ultrafast": 1, "superfast": 1.6, "veryfast": 2.5, "faster": 3.5, "fast": 4.5,
		"medium": 5.5, "slow": 9, "slower": 20, "veryslow": 40, "placebo": 100}[v.Preset]
	if p == 0 {
		p = 1
	}
	return f * p
}

// Estimate is how long the plan should take on a 2-core machine.
func (p Plan) Estimate(c Config) time.Duration {
	var s float64
	for _, st := range p.Stages {
		s += estStageOverhead
		if st.Live {
			s += float64(len(p.Variants)*c.Rounds*2) * (c.Duration.Seconds() + estRunOverhead)
		}
		if st.Encode {
			px := float64(st.Width * st.Height)
			s += float64(st.ClipFrames)/float64(c.FPS) + float64(st.ClipFrames)*px*estClipNsPx/1e9
			for _, v := range p.Variants {
				s += float64(c.Rounds*2) * (estProcess + float64(st.EncodeFrames)*px*estEncodeNsPx*encoderCost(v)/1e9)
				s += 2 * float64(min(st.EncodeFrames, st.ClipFrames)) * px * estQualityNsPx / 1e9
			}
		}
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second)
}

// NewPlan resolves the encoders (probing which this machine can use) and lays out the stages.
func NewPlan(ctx context.Context, c Config) (Plan, error) {
	if err := c.Validate(); err != nil {
		return Plan{}, err
	}
	var p Plan
	names, skipped, err := resolveEncoders(ctx, c.Encoders)
	if err != nil {
		return Plan{}, err
	}
	p.Skipped = append(p.Skipped, skipped...)
	if p.Variants, err = variants(names, c.Presets, c.Baseline); err != nil {
		return Plan{}, err
	}
	maxCanvas := c.MaxCanvasPixels
	if maxCanvas == 0 {
		maxCanvas = DefaultMaxCanvasPixels
	}
	for _, scene := range c.Scenes {
		for _, rn := range c.Resolutions {
			r, _ := LookupResolution(rn) // validated
			mons := monitorsFor(scene, r)
			st := Stage{Scene: scene, Resolution: r, Width: len(mons) * r.Width, Height: r.Height}
			if c.EncodeOnly != EncodeOnlyOnly {
				st.Live = true
				if px := st.Width * st.Height; px > maxCanvas {
					st.Live = false
					p.Skipped = append(p.Skipped, Skip{Mode: ModeLive, Scene: scene, Resolution: r.Name,
						Reason: fmt.Sprintf("canvas %dx%d (%.1f Mpx) is larger than max-canvas-pixels %.1f Mpx", st.Width, st.Height, float64(px)/1e6, float64(maxCanvas)/1e6)})
				}
			}
			if c.EncodeOnly != EncodeOnlyOff {
				// mixed-3 too: its whole canvas is stored once and both tools encode it.
				st.ClipFrames, st.EncodeFrames, st.Encode = clipFrames(c, st.Width, st.Height)
				if !st.Encode {
					p.Skipped = append(p.Skipped, Skip{Mode: ModeEncodeOnly, Scene: scene, Resolution: r.Name,
						Reason: fmt.Sprintf("clip-bytes %d holds fewer than 2 frames of %dx%d", c.ClipBytes, st.Width, st.Height)})
				}
			}
			if st.Live || st.Encode {
				p.Stages = append(p.Stages, st)
			}
		}
	}
	return p, nil
}

// clipFrames is how many frames the stored clip holds (ClipDuration at FPS, bounded by
// ClipBytes) and how many each encode-only run encodes: EncodeFrames, looping a clip the
// user asked to be short, but no more than a clip ClipBytes shortened.
func clipFrames(c Config, w, h int) (clip, encode int, ok bool) {
	clip, encode = int(c.ClipDuration.Seconds()*float64(c.FPS)), c.EncodeFrames
	if c.ClipBytes > 0 {
		if fit := int(c.ClipBytes / int64(w*h*4)); fit < clip {
			clip, encode = fit, min(encode, fit)
		}
	}
	return clip, encode, clip >= 2
}

// resolveEncoders turns auto, all or names into encoders both the engine and the ffmpeg CLI
// can use here. Named encoders that cannot be used are an error; with all, they are skipped.
func resolveEncoders(ctx context.Context, sel []string) ([]string, []Skip, error) {
	cli, err := cliEncoders(ctx)
	if err != nil {
		return nil, nil, err
	}
	usable := func(name string) string { // "" when usable, else why not
		if !cli[name] {
			return "the ffmpeg CLI was built without it"
		}
		st := encode.Probe(ctx, name)
		if len(st) == 0 {
			return "probe cancelled"
		}
		if !st[0].Usable {
			return "the engine cannot open it: " + st[0].Reason
		}
		return ""
	}
	switch sel[0] {
	case EncodersAuto:
		var why []string
		for _, n := range encode.DefaultOrder {
			r := usable(n)
			if r == "" {
				return []string{n}, nil, nil
			}
			why = append(why, n+": "+r)
		}
		return nil, nil, fmt.Errorf("%w: auto: none of %s: %s", ErrEncoderUnusable, strings.Join(encode.DefaultOrder, ", "), strings.Join(why, "; "))
	case EncodersAll:
		var names []string
		var skipped []Skip
		for _, cand := range encode.Candidates {
			if r := usable(cand.Name); r != "" {
				skipped = append(skipped, Skip{Mode: "encoder", Variant: cand.Name, Reason: r})
				continue
			}
			names = append(names, cand.Name)
		}
		if len(names) == 0 {
			return nil, skipped, fmt.Errorf("%w: all: no registry encoder is usable here", ErrEncoderUnusable)
		}
		return names, skipped, nil
	}
	for _, n := range sel {
		if r := usable(n); r != "" {
			return nil, nil, fmt.Errorf("%w: %s: %s", ErrEncoderUnusable, n, r)
		}
	}
	return sel, nil, nil
}

// Run runs the plan and writes bench.json, bench.md and the charts into c.Out. Cells whose
// runs fail are reported (Report.Failed) and the run goes on; the error then wraps ErrRun.
// Cancelling ctx stops the child being measured, the scene and Xvfb, and removes the
// temporary files; nothing is written then.
func Run(ctx context.Context, c Config, p Plan) (*Report, error) {
	start := time.Now()
	if err := checkTools(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReport, err)
	}
	work, err := os.MkdirTemp("", "recorder-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	rep := &Report{Date: start.UTC(), Config: c, Machine: machineFacts(ctx), Variants: p.Variants,
		Skipped: p.Skipped, EstimateSeconds: p.Estimate(c).Seconds()}
	r := &runner{c: c, plan: p, rep: rep, work: work, log: c.Log}
	if r.log == nil {
		r.log = io.Discard
	}
	for i, st := range p.Stages {
		if err := r.stage(ctx, i, st); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
	}
	rep.Goals = evaluateGoals(rep.Live, rep.EncodeOnly)
	rep.ElapsedSeconds = time.Since(start).Seconds()
	rep.Machine.LoadAfter = loadAverage()
	if err := Write(c.Out, rep); err != nil {
		return rep, err
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%w: %d cell(s) failed; see %s", ErrRun, len(rep.Failed), filepath.Join(c.Out, "bench.md"))
	}
	return rep, nil
}

// runner carries one Run's state.
type runner struct {
	c    Config
	plan Plan
	rep  *Report
	work string
	log  io.Writer
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, format+"\n", args...)
}

func (r *runner) fail(mode string, st Stage, v Variant, err error) {
	label := ""
	if v.Encoder != "" {
		label = v.Label()
	}
	r.rep.Failed = append(r.rep.Failed, Skip{Mode: mode, Scene: st.Scene, Resolution: st.Resolution.Name, Variant: label, Reason: err.Error()})
	r.logf("  FAILED: %v", err)
}

// stage runs one stage: start its display and scene, the live cells, capture the clip, stop
// the display, then the encode-only cells on a quiet machine. Only cancellation is returned;
// other failures are recorded and the run goes on.
func (r *runner) stage(ctx context.Context, i int, st Stage) error {
	r.logf("[%d/%d] %s %s (%dx%d)", i+1, len(r.plan.Stages), st.Scene, st.Resolution.Name, st.Width, st.Height)
	stg, err := startStage(ctx, st.Scene, st.Resolution)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A display this machine's Xvfb cannot make (4K and up) is a skip, not a failure.
		for _, mode := range []struct {
			on   bool
			name string
		}{{st.Live, ModeLive}, {st.Encode, ModeEncodeOnly}} {
			if mode.on {
				r.rep.Skipped = append(r.rep.Skipped, Skip{Mode: mode.name, Scene: st.Scene, Resolution: st.Resolution.Name,
					Reason: "display not available: " + err.Error()})
			}
		}
		r.logf("  skipped: %v", err)
		return nil
	}
	defer stg.close()
	if st.Live {
		for _, v := range r.plan.Variants {
			cell, err := r.live(ctx, stg, st, v)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				r.fail(ModeLive, st, v, err)
				continue
			}
			r.rep.Live = append(r.rep.Live, cell)
		}
	}
	if !st.Encode {
		return nil
	}
	raw := filepath.Join(r.work, fmt.Sprintf("%s-%s.%s", st.Scene, st.Resolution.Name, rawPixFmt))
	defer os.Remove(raw)
	err = r.captureClip(ctx, stg, st, raw)
	// The encode-only runs measure encoders alone: the scene and Xvfb stop first.
	if cerr := stg.close(); cerr != nil && err == nil && ctx.Err() == nil {
		err = cerr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		r.fail(ModeEncodeOnly, st, Variant{}, err)
		return nil
	}
	for _, v := range r.plan.Variants {
		cell, err := r.encodeOnly(ctx, st, raw, v)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			r.fail(ModeEncodeOnly, st, v, err)
			continue
		}
		r.rep.EncodeOnly = append(r.rep.EncodeOnly, cell)
		for _, lc := range r.rep.Live {
			if lc.Scene == cell.Scene && lc.Resolution == cell.Resolution && lc.Variant.Label() == v.Label() {
				lc.Quality = &QualityPair{Recorder: cell.Recorder.Quality, FFmpeg: cell.FFmpeg.Quality}
			}
		}
	}
	return nil
}

// order is who runs first in a round: the CLI in even rounds, the recorder in odd ones, so
// that neither always meets a machine warmed (or loaded) by the other.
func order(round int) []string {
	if round%2 == 0 {
		return []string{ToolFFmpeg, ToolRecorder}
	}
	return []string{ToolRecorder, ToolFFmpeg}
}

// live runs one live cell: each tool records the screen for Duration, Rounds times.
func (r *runner) live(ctx context.Context, stg *stage, st Stage, v Variant) (*LiveCell, error) {
	c := r.c
	cell := &LiveCell{Scene: st.Scene, Resolution: st.Resolution.Name, Width: stg.width, Height: stg.height, Variant: v}
	for round := 0; round < c.Rounds; round++ {
		for i, tool := range order(round) {
			out := filepath.Join(r.work, fmt.Sprintf("live-%s-%d.mp4", tool, round))
			run, err := r.liveRun(ctx, stg, v, tool, out)
			os.Remove(out)
			if err != nil {
				return nil, err
			}
			if err := stg.failed(); err != nil {
				return nil, err
			}
			run.Round, run.First = round, i == 0
			cell.Runs = append(cell.Runs, run)
			r.logf("  live %-22s round %d %-8s cpu %6.2fs  rss %6.1f MiB  frames %4d  dropped %3d  %8.1f kb/s",
				v.Label(), round+1, tool, run.CPU, run.MaxRSS, run.Frames, run.Dropped, run.Kbps)
		}
	}
	cell.summarize(c.Duration)
	return cell, nil
}

func (r *runner) liveRun(ctx context.Context, stg *stage, v Variant, tool, out string) (LiveRun, error) {
	c := r.c
	var argv []string
	if tool == ToolFFmpeg {
		argv = liveFFmpegArgv(stg.srv.Display, stg.width, stg.height, c.FPS, c.Duration, v, out)
	} else {
		argv = liveRecorderArgv(c.Recorder, stg.srv.Display, c.FPS, c.Duration, v, out)
	}
	u, stdout, err := measure(tool, command(ctx, stg.srv.Env(), argv...))
	if err != nil {
		return LiveRun{}, err
	}
	run := LiveRun{Usage: u}
	if tool == ToolFFmpeg {
		p := parseProgress(stdout)
		run.ToolFrames, run.Dropped, run.Duplicated = p.Frames, p.Dropped, p.Dup
	} else {
		s, err := parseRecorderSummary(stdout)
		if err != nil {
			return run, err
		}
		if s.Encoder != v.Encoder {
			return run, fmt.Errorf("%w: recorder used encoder %q, not %q", ErrRun, s.Encoder, v.Encoder)
		}
		run.ToolFrames, run.Dropped = s.Frames, s.Dropped
	}
	if run.Frames, err = countFrames(ctx, out); err != nil {
		return run, err
	}
	run.Bytes = benchmarks.FileSize(out)
	run.Kbps = float64(run.Bytes) * 8 / 1000 / c.Duration.Seconds()
	return run, nil
}

// captureClip stores the scene's frames once, as x11grab delivers them.
func (r *runner) captureClip(ctx context.Context, stg *stage, st Stage, raw string) error {
	need := int64(st.ClipFrames) * int64(st.Width*st.Height*4)
	if free, err := freeBytes(r.work); err == nil && free < need+need/10 {
		return fmt.Errorf("%w: the clip needs %d MiB in %s, %d MiB free", ErrRun, need>>20, r.work, free>>20)
	}
	argv := captureClipArgv(stg.srv.Display, st.Width, st.Height, r.c.FPS, st.ClipFrames, raw)
	cmd := command(ctx, stg.srv.Env(), argv...)
	if _, _, err := measure(ToolFFmpeg, cmd); err != nil {
		return fmt.Errorf("capture clip: %w", err)
	}
	if got := benchmarks.FileSize(raw); got != need {
		return fmt.Errorf("%w: capture clip: %d bytes, want %d (%d frames of %dx%d %s)", ErrRun, got, need, st.ClipFrames, st.Width, st.Height, rawPixFmt)
	}
	return stg.failed()
}

// encodeOnly runs one encode-only cell: each tool encodes EncodeFrames frames of the stored
// clip, Rounds times; each tool's first output is compared with the clip.
func (r *runner) encodeOnly(ctx context.Context, st Stage, raw string, v Variant) (*EncodeCell, error) {
	c := r.c
	cell := &EncodeCell{Scene: st.Scene, Resolution: st.Resolution.Name, Width: st.Width, Height: st.Height, Variant: v,
		ClipFrames: st.ClipFrames, Frames: st.EncodeFrames}
	for round := 0; round < c.Rounds; round++ {
		for i, tool := range order(round) {
			out := filepath.Join(r.work, fmt.Sprintf("enc-%s-%d.mp4", tool, round))
			run, err := r.encodeRun(ctx, st, raw, v, tool, out)
			if err == nil && !hasQuality(cell.Runs, tool) { // each tool's first output
				var q Quality
				q, err = measureQuality(ctx, out, raw, st.Width, st.Height, c.FPS, min(st.EncodeFrames, st.ClipFrames))
				run.Quality = &q
			}
			os.Remove(out)
			if err != nil {
				return nil, err
			}
			run.Round, run.First = round, i == 0
			cell.Runs = append(cell.Runs, run)
			q := ""
			if run.Quality != nil {
				q = fmt.Sprintf("  SSIM %.4f  PSNR %s dB", run.Quality.SSIM, run.Quality.PSNR)
			}
			r.logf("  encode-only %-15s round %d %-8s %6.1f fps  %6.2f ms CPU/frame  rss %6.1f MiB  %8.1f kb/s%s",
				v.Label(), round+1, tool, run.FPS, run.CPUMsPerFrame, run.MaxRSS, run.Kbps, q)
		}
	}
	cell.summarize()
	return cell, nil
}

func hasQuality(runs []EncodeRun, tool string) bool {
	for _, r := range runs {
		if r.Tool == tool && r.Quality != nil {
			return true
		}
	}
	return false
}

func (r *runner) encodeRun(ctx context.Context, st Stage, raw string, v Variant, tool, out string) (EncodeRun, error) {
	c := r.c
	var argv []string
	if tool == ToolFFmpeg {
		argv = encodeFFmpegArgv(raw, st.Width, st.Height, c.FPS, st.EncodeFrames, v, out)
	} else {
		argv = encodeRecorderArgv(c.EncodeChild, raw, st.Width, st.Height, c.FPS, st.EncodeFrames, v, out)
	}
	u, stdout, err := measure(tool, command(ctx, os.Environ(), argv...))
	if err != nil {
		return EncodeRun{}, err
	}
	run := EncodeRun{Usage: u}
	if tool == ToolRecorder {
		res, err := parseChildResult(stdout)
		if err != nil {
			return run, err
		}
		run.LoopSeconds = res.LoopSeconds
	}
	if run.Frames, err = countFrames(ctx, out); err != nil {
		return run, err
	}
	if run.Frames != st.EncodeFrames {
		return run, fmt.Errorf("%w: %s wrote %d frames, want %d", ErrRun, tool, run.Frames, st.EncodeFrames)
	}
	run.Bytes = benchmarks.FileSize(out)
	run.FPS = float64(run.Frames) / u.Wall
	run.CPUMsPerFrame = 1000 * u.CPU / float64(run.Frames)
	run.Kbps = float64(run.Bytes) * 8 / 1000 / (float64(run.Frames) / float64(c.FPS))
	return run, nil
}
