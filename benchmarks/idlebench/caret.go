package idlebench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// CaretGoal is the most CPU the recorder may use on the caret form, as a share of the CLI's.
const CaretGoal = 0.05

// CaretResult compares `recorder record` with the ffmpeg CLI on a 1080p form whose caret
// blinks, over the same window, one after the other on the same display.
type CaretResult struct {
	Recorder      window   `json:"recorder"`
	CLI           window   `json:"cli"`
	RecorderBytes int64    `json:"recorder_bytes"`
	CLIBytes      int64    `json:"cli_bytes"`
	Ratio         float64  `json:"cpu_ratio"`
	Goal          float64  `json:"goal"`
	Pass          bool     `json:"pass"`
	RecorderArgv  []string `json:"recorder_argv"`
	CLIArgv       []string `json:"cli_argv"`
}

func runCaret(ctx context.Context, c Config) (*CaretResult, error) {
	srv, err := display1080p(ctx)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	stopScene, err := playIdle(srv.Display, c.FPS)
	if err != nil {
		return nil, err
	}
	defer stopScene()
	dir, err := os.MkdirTemp("", "idlebench-caret-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fps := strconv.Itoa(c.FPS)
	res := &CaretResult{Goal: CaretGoal}
	recOut, cliOut := filepath.Join(dir, "recorder.mp4"), filepath.Join(dir, "cli.mp4")
	// The engine's own defaults (capture method, encoder settings, pointer drawn).
	res.RecorderArgv = []string{c.Recorder, "record", "--log-level", "error", "--out", recOut, "--fps", fps,
		"--display", srv.Display, "--encoder", "libx264"}
	// The CLI as a user would write it.
	res.CLIArgv = []string{"ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "x11grab",
		"-framerate", fps, "-i", srv.Display, "-c:v", "libx264", "-preset", "superfast", "-crf", "23", cliOut}
	for _, run := range []struct {
		argv []string
		w    *window
	}{{res.RecorderArgv, &res.Recorder}, {res.CLIArgv, &res.CLI}} {
		if *run.w, err = measureRun(ctx, c, run.argv, srv.Env(), nil); err != nil {
			return nil, err
		}
	}
	res.RecorderBytes, res.CLIBytes = size(recOut), size(cliOut)
	if res.CLI.CPU > 0 {
		res.Ratio = res.Recorder.CPU / res.CLI.CPU
		res.Pass = res.Ratio <= res.Goal
	}
	return res, nil
}

// measureRun starts argv, lets it warm up, measures it over window and stops it.
// Before the window, begin (if set) is called once the process runs, to start what it
// should be measured doing.
func measureRun(ctx context.Context, c Config, argv, env []string, begin func(*proc) error) (window, error) {
	return measureRunOut(ctx, c, argv, env, nil, begin)
}

// measureRunOut is measureRun with the process's stdout going to stdout.
func measureRunOut(ctx context.Context, c Config, argv, env []string, stdout io.Writer, begin func(*proc) error) (window, error) {
	p, err := start(argv, env, stdout)
	if err != nil {
		return window{}, err
	}
	w, err := func() (window, error) {
		if begin != nil {
			if err := begin(p); err != nil {
				return window{}, err
			}
		}
		if err := p.sleep(ctx, c.Warmup); err != nil {
			return window{}, err
		}
		return measure(p.cmd.Process.Pid, c.Window, p.ended)
	}()
	if serr := p.stop(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return window{}, fmt.Errorf("%s: %w", argv[0], err)
	}
	return w, nil
}

func size(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
