package encoderbench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Output file names under the results folder.
const (
	FileJSON        = "bench.json"
	FileMarkdown    = "bench.md"
	FileChart       = "bench.svg"
	FileEncodeChart = "bench-encode.svg"
)

// Write writes the report's JSON, Markdown and charts into dir. The encode-only chart is
// written only when there are encode-only cells.
func Write(dir string, rep *Report) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReport, err)
	}
	files := map[string][]byte{FileJSON: append(js, '\n'), FileMarkdown: []byte(Markdown(rep))}
	svg, err := cpuChart(rep)
	if err != nil {
		return err
	}
	files[FileChart] = svg
	if len(rep.EncodeOnly) > 0 {
		if files[FileEncodeChart], err = encodeChart(rep); err != nil {
			return err
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("%w: %w", ErrReport, err)
		}
	}
	return nil
}

// Markdown renders the report as the tables of bench.md.
func Markdown(rep *Report) string {
	var b strings.Builder
	c, m := rep.Config, rep.Machine
	fmt.Fprintf(&b, "# Encoder benchmark — %s\n\n", rep.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "recorder %s vs the ffmpeg CLI (%s) on %d × %s, %d MiB, %s %s, %s.\n",
		orDash(c.Version), orDash(m.FFmpeg), m.Cores, orDash(m.CPUModel), m.MemoryMiB, m.OS, m.Kernel, m.GoVersion)
	fmt.Fprintf(&b, "Capture %d fps; live runs %s each; %d round(s), who goes first alternates; medians over rounds. "+
		"Encode-only: %d frames per run from a stored clip. Took %s (estimated %s).\n\n",
		c.FPS, c.Duration, c.Rounds, c.EncodeFrames, time.Duration(rep.ElapsedSeconds*float64(time.Second)).Round(time.Second),
		time.Duration(rep.EstimateSeconds*float64(time.Second)))
	b.WriteString("Ratios are recorder / ffmpeg CLI measured in this run; absolute figures depend on the machine and are only reported.")
	fmt.Fprintf(&b, " Load average (1 min) %.2f before, %.2f after: on a busy machine wall-clock figures (encode-only fps) are noisy, CPU figures much less.\n\n",
		m.LoadBefore, m.LoadAfter)

	if c.Baseline == BaselineCLIDefaults {
		b.WriteString("Baseline: the CLI with its own defaults for libx264 (`-preset superfast -crf 23`: keyframes every 250 frames, " +
			"3 B-frames) against the recorder's registry defaults. Live CPU and bytes ratios show the spread of the per-round ratios in brackets.\n\n")
	} else {
		b.WriteString("Baseline: both tools get the registry's options and keyframe interval.\n\n")
	}
	b.WriteString("## Goals\n\n| goal | cell | value | target | result |\n|---|---|---|---|---|\n")
	for _, g := range rep.Goals {
		v := "—"
		if g.Value != nil {
			v = g.Format(*g.Value)
		}
		res := g.Status
		if g.Status == StatusPass || g.Status == StatusMiss {
			res = "**" + g.Status + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", g.Name, orDash(g.Cell), v, g.Want(), res)
	}

	if len(rep.Live) > 0 {
		b.WriteString("\n## Live runs: capture + encode + mux of the scene, same settings\n\n")
		b.WriteString("| scene | res | canvas | encoder | tool | CPU s | % core | max RSS MiB | frames | dropped | kb/s | bits/px | MB/h | SSIM† | PSNR dB† |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, lc := range rep.Live {
			head := fmt.Sprintf("| %s | %s | %dx%d | %s ", lc.Scene, lc.Resolution, lc.Width, lc.Height, lc.Variant.Label())
			var qr, qf *Quality
			if lc.Quality != nil {
				qr, qf = lc.Quality.Recorder, lc.Quality.FFmpeg
			}
			for _, t := range []struct {
				name string
				s    LiveSummary
				q    *Quality
			}{{"ffmpeg", lc.FFmpeg, qf}, {"recorder", lc.Recorder, qr}} {
				fmt.Fprintf(&b, "%s| %s | %.2f | %.1f | %.1f | %.0f | %.0f | %.0f | %.4f | %.1f | %s | %s |\n", head, t.name,
					t.s.CPU, t.s.CPUPct, t.s.MaxRSS, t.s.Frames, t.s.Dropped, t.s.Kbps, bitsPerPixel(t.s.Kbps, lc.Width, lc.Height, c.FPS),
					mbPerHour(t.s.Kbps), ssimText(t.q), psnrText(t.q))
			}
			var sd, pd *float64
			if qr != nil && qf != nil {
				sd, pd = delta(qr.SSIM, qf.SSIM), delta(float64(qr.PSNR), float64(qf.PSNR))
			}
			fmt.Fprintf(&b, "%s| **ratio** | **%s** %s | | **%s** | | | **%s** %s | | | %s | %s |\n", head,
				ratioText(lc.Ratios.CPU), spreadText(lc.Ratios.CPURounds), ratioText(lc.Ratios.RSS), ratioText(lc.Ratios.Kbps),
				spreadText(lc.Ratios.KbpsRounds), deltaText(sd, 4), deltaText(pd, 2))
		}
		b.WriteString("\n† from the encode-only runs of the same scene, resolution and encoder: a live capture has no exact " +
			"reference frame for each encoded one. Frames are those in the file; dropped is each tool's own count " +
			"(recorder: capture gaps over 1.5 frame intervals; ffmpeg: frames its constant-rate output dropped).\n")
	}

	if len(rep.EncodeOnly) > 0 {
		b.WriteString("\n## Encode-only: the same stored frames through each tool's conversion, encoder and muxer\n\n")
		b.WriteString("| scene | res | encoder | tool | fps | ms CPU/frame | max RSS MiB | kb/s | bits/px | MB/h | SSIM | PSNR dB |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, ec := range rep.EncodeOnly {
			head := fmt.Sprintf("| %s | %s | %s ", ec.Scene, ec.Resolution, ec.Variant.Label())
			for _, t := range []struct {
				name string
				s    EncodeSummary
			}{{"ffmpeg", ec.FFmpeg}, {"recorder", ec.Recorder}} {
				fmt.Fprintf(&b, "%s| %s | %.1f | %.2f | %.1f | %.0f | %.4f | %.1f | %s | %s |\n", head, t.name,
					t.s.FPS, t.s.CPUMsPerFrame, t.s.MaxRSS, t.s.Kbps, bitsPerPixel(t.s.Kbps, ec.Width, ec.Height, c.FPS),
					mbPerHour(t.s.Kbps), ssimText(t.s.Quality), psnrText(t.s.Quality))
			}
			fmt.Fprintf(&b, "%s| **ratio** | **%s** | **%s** | **%s** | **%s** | | | %s | %s |\n", head,
				ratioText(ec.Ratios.FPS), ratioText(ec.Ratios.CPUPerFrame), ratioText(ec.Ratios.RSS), ratioText(ec.Ratios.Kbps),
				deltaText(ec.Ratios.SSIMDelta, 4), deltaText(ec.Ratios.PSNRDelta, 2))
		}
		fmt.Fprintf(&b, "\nfps is frames over each process's wall time (start-up included for both). SSIM and PSNR: the first "+
			"%d frames of each tool's first output against the stored bgr0 frames, both converted to %s, FFmpeg's ssim "+
			"(All) and psnr (average) filters. The quality row shows recorder − ffmpeg.\n", firstClip(rep), qualityPixFmt)
		for _, ec := range rep.EncodeOnly {
			if ec.Frames < c.EncodeFrames {
				fmt.Fprintf(&b, "\n%s %s (%dx%d): the 4 GiB bound on a stored clip shortened it to %d frames (%.1f s); "+
					"each run encoded those once, quality over all of them.\n", ec.Scene, ec.Resolution, ec.Width, ec.Height,
					ec.Frames, float64(ec.Frames)/float64(c.FPS))
			}
		}
	}

	if len(rep.Skipped)+len(rep.Failed) > 0 {
		b.WriteString("\n## Not measured\n\n")
		for _, s := range rep.Skipped {
			fmt.Fprintf(&b, "- skipped %s: %s\n", skipWhat(s), s.Reason)
		}
		for _, s := range rep.Failed {
			fmt.Fprintf(&b, "- **failed** %s: %s\n", skipWhat(s), s.Reason)
		}
	}
	return b.String()
}

func firstClip(rep *Report) int {
	if len(rep.EncodeOnly) == 0 {
		return 0
	}
	return min(rep.EncodeOnly[0].ClipFrames, rep.EncodeOnly[0].Frames)
}

// String is "mode scene resolution variant: reason", leaving out what is empty.
func (s Skip) String() string { return skipWhat(s) + ": " + s.Reason }

func skipWhat(s Skip) string {
	parts := []string{s.Mode}
	for _, p := range []string{s.Scene, s.Resolution, s.Variant} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func ratioText(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.3f×", *r)
}

func deltaText(d *float64, prec int) string {
	if d == nil {
		return "—"
	}
	return fmt.Sprintf("%+.*f", prec, *d)
}

func ssimText(q *Quality) string {
	if q == nil {
		return "—"
	}
	return fmt.Sprintf("%.4f", q.SSIM)
}

func psnrText(q *Quality) string {
	if q == nil {
		return "—"
	}
	return q.PSNR.String()
}

// bitsPerPixel is bits per pixel per frame at the nominal rate.
func bitsPerPixel(kbps float64, w, h, fps int) float64 {
	if w*h*fps == 0 {
		return 0
	}
	return kbps * 1000 / float64(w*h*fps)
}

// mbPerHour is how many megabytes (10^6) an hour at kbps takes.
func mbPerHour(kbps float64) float64 { return kbps * 1000 / 8 * 3600 / 1e6 }

// spreadText is "[min–max]" of per-round ratios, empty with fewer than two.
func spreadText(rs []float64) string {
	if len(rs) < 2 {
		return ""
	}
	lo, hi := rs[0], rs[0]
	for _, r := range rs {
		lo, hi = min(lo, r), max(hi, r)
	}
	return fmt.Sprintf("[%.2f–%.2f]", lo, hi)
}
