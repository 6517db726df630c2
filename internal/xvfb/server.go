package xvfb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// defaultDepth is the colour depth used when Options.Depth is zero. 24
	// bits gives the TrueColor 0xRRGGBB visual that capture code expects.
	defaultDepth = 24

	// defaultStartTimeout bounds how long Start waits for Xvfb to accept
	// connections when Options.StartTimeout is zero. Xvfb is normally ready
	// in well under a second; the slack is for heavily loaded CI machines.
	defaultStartTimeout = 10 * time.Second

	// stopTimeout is how long Close waits after SIGTERM before resorting to
	// SIGKILL. SIGTERM lets Xvfb remove its socket file.
	stopTimeout = 5 * time.Second

	// Display numbers are drawn from [firstDisplay, firstDisplay+numDisplays).
	// Low numbers belong to real desktops and xvfb-run starts at 99, so
	// staying above them avoids fights with other tools.
	firstDisplay = 100
	numDisplays  = 900

	// maxAttempts is how many display numbers Start tries before giving up.
	// Each failed attempt means another server won a race for the number,
	// so a handful is plenty even with many parallel test processes.
	maxAttempts = 20

	// xvfbOutput is the name of the single RandR output Xvfb provides.
	// Binding the first monitor to it replaces the automatic monitor that
	// would otherwise cover the whole screen.
	xvfbOutput = "screen"

	// maxLogInError limits how much of Xvfb's output is quoted in errors.
	maxLogInError = 2048
)

// errDisplayInUse is the internal signal that another X server owns the
// display number Start tried, so it should retry with another one.
var errDisplayInUse = errors.New("display in use")

// Options configures Start.
type Options struct {
	// Monitors is the layout to create; at least one is required. The
	// screen is sized to the bounding box of all monitors (anchored at
	// 0,0), and the first monitor replaces Xvfb's automatic one.
	Monitors []Monitor

	// Depth is the screen's colour depth in bits; zero means 24.
	Depth int

	// StartTimeout bounds how long Start waits for Xvfb to become ready;
	// zero means 10 seconds. The context passed to Start can cut it short.
	StartTimeout time.Duration

	// Args are more Xvfb arguments, e.g. "-extension", "DAMAGE" for a
	// server without DAMAGE.
	Args []string
}

// Server is a running Xvfb instance. Its exported fields describe it and
// must not be modified.
type Server struct {
	// Display is the X display name, e.g. ":157", suitable for DISPLAY.
	Display string
	// Monitors is the monitor layout, in the order it was requested.
	Monitors []Monitor
	// Width and Height are the size of the screen (the root window).
	Width, Height int
	// Depth is the screen's colour depth in bits.
	Depth int

	args   []string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{} // closed once the process has been reaped
	// waitErr is cmd.Wait's result; it may only be read after exited is
	// closed.
	waitErr error

	closeOnce sync.Once
	closeErr  error
}

// Available reports whether the programs Start needs are installed: nil
// when Xvfb and xrandr are on PATH, otherwise an error wrapping
// ErrNotAvailable that names every missing program.
func Available() error {
	if !platformSupported {
		return ErrUnsupported
	}
	var missing []string
	for _, prog := range []string{"Xvfb", "xrandr"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (on Debian: apt-get install xvfb x11-xserver-utils)",
			ErrNotAvailable, strings.Join(missing, ", "))
	}
	return nil
}

// Start launches Xvfb on a free display and creates the requested
// monitors. The context bounds start-up only: once Start returns, the
// server runs until Close is called (or the calling process dies).
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	width, height, err := validateMonitors(opts.Monitors)
	if err != nil {
		return nil, err
	}
	depth := opts.Depth
	if depth == 0 {
		depth = defaultDepth
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrStartTimeout)
	defer cancel()

	for range maxAttempts {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("xvfb: start: %w", context.Cause(ctx))
		}
		num, ok := pickDisplay()
		if !ok {
			break
		}
		s := &Server{
			Display:  ":" + strconv.Itoa(num),
			Monitors: slices.Clone(opts.Monitors),
			Width:    width,
			Height:   height,
			Depth:    depth,
			args:     slices.Clone(opts.Args),
		}
		err := s.launch(ctx, num)
		if errors.Is(err, errDisplayInUse) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.setMonitors(ctx); err != nil {
			return nil, errors.Join(err, s.Close())
		}
		return s, nil
	}
	return nil, ErrNoFreeDisplay
}

// pickDisplay returns a display number that looks free: neither a lock
// file nor a socket exists for it. This is only a hint that saves futile
// launches; two processes can still pick the same number, and Xvfb's
// atomic socket bind decides who gets it.
func pickDisplay() (int, bool) {
	start := rand.IntN(numDisplays)
	for i := range numDisplays {
		n := firstDisplay + (start+i)%numDisplays
		if !exists(fmt.Sprintf("/tmp/.X%d-lock", n)) && !exists(fmt.Sprintf("/tmp/.X11-unix/X%d", n)) {
			return n, true
		}
	}
	return 0, false
}

// exists reports whether path names anything, even a dangling symlink.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// launch starts Xvfb on display num and waits until it accepts
// connections. It returns errDisplayInUse when another server owns num.
// On any error the process has been stopped and reaped.
func (s *Server) launch(ctx context.Context, num int) error {
	// Xvfb writes the display number to this pipe once it is ready to
	// accept connections, so no polling is needed. Passing an explicit
	// display number as well keeps Xvfb away from the low numbers it would
	// pick by itself.
	ready, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("xvfb: create readiness pipe: %w", err)
	}
	defer ready.Close()

	s.log = &syncBuffer{}
	s.exited = make(chan struct{})
	args := []string{s.Display,
		"-displayfd", "3", // ExtraFiles[0] becomes descriptor 3
		"-screen", "0", fmt.Sprintf("%dx%dx%d", s.Width, s.Height, s.Depth),
		"-nolisten", "tcp",
		"-noreset", // without it the monitors vanish when the last client disconnects
		"-br",      // black root window instead of the retro weave, for predictable pixels
	}
	s.cmd = exec.Command("Xvfb", append(args, s.args...)...)
	s.cmd.ExtraFiles = []*os.File{readyW}
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.SysProcAttr = sysProcAttr()
	err = s.cmd.Start()
	readyW.Close() // the child has its own copy; ours would hide EOF
	if err != nil {
		return fmt.Errorf("xvfb: start Xvfb: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	type result struct {
		line string
		err  error
	}
	readCh := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(ready).ReadString('\n')
		readCh <- result{line, err}
	}()

	var res result
	select {
	case res = <-readCh:
	case <-s.exited:
		// Xvfb died before becoming ready; fall through to classify why.
		res.err = ErrExited
	case <-ctx.Done():
		s.stop()
		return fmt.Errorf("xvfb: waiting for display %s: %w; Xvfb output: %s",
			s.Display, context.Cause(ctx), s.logTail())
	}

	if res.err == nil {
		got, convErr := strconv.Atoi(strings.TrimSpace(res.line))
		if convErr == nil && got == num {
			return nil
		}
		s.stop()
		return fmt.Errorf("xvfb: Xvfb reported display %q, want %d", strings.TrimSpace(res.line), num)
	}

	// No display number means Xvfb is exiting (EOF on the pipe) or gone.
	// Wait for it so that its output is complete before inspecting it.
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.stop()
	}
	if log := s.log.String(); strings.Contains(log, "server already running") ||
		strings.Contains(log, "already active") {
		return errDisplayInUse
	}
	return fmt.Errorf("%w on display %s: %v; Xvfb output: %s", ErrExited, s.Display, s.waitErr, s.logTail())
}

// setMonitors creates the requested RandR monitors and checks that the
// server reports exactly that layout.
func (s *Server) setMonitors(ctx context.Context) error {
	for i, m := range s.Monitors {
		output := "none"
		if i == 0 {
			output = xvfbOutput
		}
		if _, err := s.xrandr(ctx, "--setmonitor", m.Name, m.xrandrGeometry(), output); err != nil {
			return err
		}
	}
	got, err := s.ListMonitors(ctx)
	if err != nil {
		return err
	}
	if !sameLayout(got, s.Monitors) {
		return fmt.Errorf("%w: want %v, server lists %v", ErrMonitorMismatch, s.Monitors, got)
	}
	return nil
}

// sameLayout reports whether a and b hold the same monitors in any order.
func sameLayout(a, b []Monitor) bool {
	byName := func(x, y Monitor) int { return strings.Compare(x.Name, y.Name) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, byName)
	slices.SortFunc(b, byName)
	return slices.Equal(a, b)
}

// ListMonitors asks the server, via `xrandr --listmonitors`, which
// monitors it currently has.
func (s *Server) ListMonitors(ctx context.Context) ([]Monitor, error) {
	out, err := s.xrandr(ctx, "--listmonitors")
	if err != nil {
		return nil, err
	}
	return ParseListMonitors(string(out))
}

// xrandr runs xrandr against the server and returns its standard output.
func (s *Server) xrandr(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "xrandr", args...)
	cmd.Env = s.Env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("xvfb: xrandr %s on %s: %w: %s",
			strings.Join(args, " "), s.Display, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Pid is the Xvfb process's id (tests stop and continue it to check what a client does while
// the server does not answer).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Env returns the current process environment with DISPLAY pointing at
// the server, ready for exec.Cmd.Env. (exec uses the last value of a
// duplicated variable, so appending is enough.)
func (s *Server) Env() []string {
	return append(os.Environ(), "DISPLAY="+s.Display)
}

// Log returns everything Xvfb has written to its standard output and
// error so far, for diagnostics.
func (s *Server) Log() string {
	return s.log.String()
}

// Close stops the server: SIGTERM to its process group, then SIGKILL if it
// has not exited within a few seconds, and waits until it is reaped. It is
// safe to call more than once and from several goroutines; every call
// returns the first call's result. The error wraps ErrExited if the
// server had already died on its own.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.exited:
			s.closeErr = fmt.Errorf("%w before Close (display %s): %v; Xvfb output: %s",
				ErrExited, s.Display, s.waitErr, s.logTail())
		default:
			s.closeErr = s.stop()
		}
	})
	return s.closeErr
}

// stop terminates the process group and waits for Xvfb to be reaped.
func (s *Server) stop() error {
	pid := s.cmd.Process.Pid
	if err := signalGroup(pid, false); err != nil {
		return fmt.Errorf("xvfb: stop display %s: %w", s.Display, err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := signalGroup(pid, true); err != nil {
		return fmt.Errorf("xvfb: kill display %s: %w", s.Display, err)
	}
	<-s.exited
	return nil
}

// logTail returns the end of Xvfb's output, flattened to one line, for
// inclusion in error messages.
func (s *Server) logTail() string {
	log := strings.TrimSpace(s.log.String())
	if len(log) > maxLogInError {
		log = "..." + log[len(log)-maxLogInError:]
	}
	if log == "" {
		return "(none)"
	}
	return strings.Join(strings.Fields(log), " ")
}

// syncBuffer is a bytes.Buffer safe for one writer (exec's copying
// goroutine) and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns a copy of the buffer's contents.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
