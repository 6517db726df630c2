package idlebench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// write stores res as idle.json and idle.md under dir.
func write(dir string, res *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "idle.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "idle.md"), []byte(Markdown(res)), 0o644)
}

func pass(ok bool) string {
	if ok {
		return "pass"
	}
	return "**miss**"
}

// Markdown renders res as the tables benchmarks/README.md quotes.
func Markdown(res *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Idle and density (%s, %d cores, load %s → %s)\n\n", res.Date.Format("2006-01-02 15:04 UTC"),
		res.Cores, res.Load[0], res.Load[1])
	c := res.Config
	if r := res.Caret; r != nil {
		fmt.Fprintf(&b, "## Caret form, 1080p, %d fps, %s window after %s warm-up\n\n", c.FPS, c.Window, c.Warmup)
		b.WriteString("| tool | CPU s | % core | RSS MiB | file bytes |\n|---|---|---|---|---|\n")
		fmt.Fprintf(&b, "| recorder record | %.2f | %.2f | %.0f | %d |\n", r.Recorder.CPU, r.Recorder.Core, r.Recorder.RSS, r.RecorderBytes)
		fmt.Fprintf(&b, "| ffmpeg CLI | %.2f | %.2f | %.0f | %d |\n", r.CLI.CPU, r.CLI.Core, r.CLI.RSS, r.CLIBytes)
		fmt.Fprintf(&b, "\nCPU ratio recorder/CLI **%.3f×** (goal ≤ %.2f×): %s\n\n", r.Ratio, r.Goal, pass(r.Pass))
	}
	if len(res.Still) > 0 {
		fmt.Fprintf(&b, "## Still 1080p screen, `recorder run`, one session, %d fps, %s window after %s warm-up\n\n", c.FPS, c.Window, c.Warmup)
		b.WriteString("| max_frame_gap | pointer | CPU s | % core | RSS MiB | goal |\n|---|---|---|---|---|---|\n")
		for _, s := range res.Still {
			gap := "default"
			if s.Gap > 0 {
				gap = s.Gap.String()
			}
			fmt.Fprintf(&b, "| %s | %s | %.2f | %.3f | %.0f | ≤ %.1f %%: %s |\n", gap, map[bool]string{true: "drawn", false: "hidden"}[s.Pointer],
				s.Run.CPU, s.Run.Core, s.Run.RSS, s.Goal, pass(s.Pass))
		}
		b.WriteString("\n")
	}
	if len(res.Density) > 0 {
		fmt.Fprintf(&b, "## Density: one engine, n 1080p displays with a blinking caret, %d fps, %s window after %s warm-up\n\n",
			c.DensityFPS, c.DensityWindow, c.Warmup)
		b.WriteString("| sessions | % core | RSS MiB | RSS/session MiB | start s | captured | encoded | skipped | dropped |\n|---|---|---|---|---|---|---|---|---|\n")
		ok := false
		for _, d := range res.Density {
			per := "—"
			if d.RSSPerSession > 0 {
				per = fmt.Sprintf("%.1f", d.RSSPerSession)
			}
			fmt.Fprintf(&b, "| %d | %.1f | %.0f | %s | %.1f | %d | %d | %d | %d |\n", d.Sessions, d.Engine.Core, d.Engine.RSS,
				per, d.StartSeconds, d.Captured, d.Encoded, d.Skipped, d.Dropped)
			ok = ok || (d.Sessions >= DensityGoal && d.Dropped == 0)
		}
		fmt.Fprintf(&b, "\n≥ %d sessions with no frame dropped: %s\n", DensityGoal, pass(ok))
	}
	return b.String()
}
