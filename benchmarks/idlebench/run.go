package idlebench

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

// Config is what to run.
type Config struct {
	// Recorder is the recorder binary (recorder-builtin next to it for `recorder run`).
	Recorder string `json:"-"`
	// Out is the results folder.
	Out string `json:"-"`
	// Suites to run: caret, still, density.
	Suites []string `json:"suites"`
	// FPS is the caret and still runs' frame rate.
	FPS int `json:"fps"`
	// Warmup is how long a process runs before its window: start-up is not counted.
	Warmup time.Duration `json:"warmup"`
	// Window is how long the caret and still runs are measured.
	Window time.Duration `json:"window"`
	// StillGaps are the engine.max_frame_gap values the still suite runs with, each with the
	// pointer drawn and hidden (none: the engine's default only).
	StillGaps []time.Duration `json:"still_gaps,omitempty"`
	// DensityFPS, DensityWindow and Sessions are the density curve's rate, window and levels.
	DensityFPS    int           `json:"density_fps"`
	DensityWindow time.Duration `json:"density_window"`
	Sessions      []int         `json:"sessions"`
}

// Suites lists the suites in the order they run.
var Suites = []string{"caret", "still", "density"}

// Result is everything one run measured.
type Result struct {
	Date    time.Time     `json:"date"`
	Config  Config        `json:"config"`
	Cores   int           `json:"cores"`
	Load    [2]string     `json:"load_avg_before_after"`
	Caret   *CaretResult  `json:"caret,omitempty"`
	Still   []StillResult `json:"still,omitempty"`
	Density []DensityRow  `json:"density,omitempty"`
}

// Run runs the suites c names and writes idle.json and idle.md under c.Out.
func Run(ctx context.Context, c Config) (*Result, error) {
	res := &Result{Date: time.Now().UTC(), Config: c, Cores: cores()}
	res.Load[0] = loadAvg()
	var errs []error
	for _, s := range c.Suites {
		var err error
		switch s {
		case "caret":
			res.Caret, err = runCaret(ctx, c)
		case "still":
			res.Still, err = runStill(ctx, c)
		case "density":
			res.Density, err = runDensity(ctx, c)
		default:
			err = fmt.Errorf("unknown suite %q (want %s)", s, strings.Join(Suites, ", "))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	res.Load[1] = loadAvg()
	if err := write(c.Out, res); err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// display1080p starts a private 1920x1080 Xvfb.
func display1080p(ctx context.Context) (*xvfb.Server, error) {
	return xvfb.Start(ctx, xvfb.Options{Monitors: []xvfb.Monitor{{Name: "M0", Width: 1920, Height: 1080}}})
}

// playIdle plays xscene's idle scene (a form whose caret blinks every 530 ms) on display
// until the returned stop is called.
func playIdle(display string, fps int) (stop func(), err error) {
	p, err := xscene.Connect(display)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Play(ctx, xscene.SceneIdle, image.Rectangle{}, fps)
	}()
	return func() { cancel(); <-done; p.Close() }, nil
}

// proc is a measured child process.
type proc struct {
	cmd    *exec.Cmd
	ended  chan struct{}
	stderr *strings.Builder
}

func start(argv []string, env []string, stdout io.Writer) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = stdout
	p := &proc{cmd: cmd, ended: make(chan struct{}), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(p.ended) }()
	return p, nil
}

// stop asks the process to finish (SIGINT: both tools finalise their file) and kills it after
// 30 s.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.ended:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.ended
		return fmt.Errorf("%s did not stop within 30 s of SIGINT", p.cmd.Args[0])
	}
	if st := p.cmd.ProcessState; st != nil && !st.Success() && !strings.Contains(st.String(), "interrupt") {
		if code := st.ExitCode(); code != 0 && code != 255 { // ffmpeg exits 255 on SIGINT
			return fmt.Errorf("%s: %s: %s", p.cmd.Args[0], st, tail(p.stderr.String()))
		}
	}
	return nil
}

// sleep waits d unless ctx ends or the process does.
func (p *proc) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ended:
		return fmt.Errorf("%s ended early: %s", p.cmd.Args[0], tail(p.stderr.String()))
	}
}

func tail(s string) string {
	if len(s) > 600 {
		return "…" + s[len(s)-600:]
	}
	return s
}

func cores() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\nprocessor") + 1
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
