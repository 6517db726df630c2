package xvfb

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestThreeMonitors(t *testing.T) {
	t.Parallel()
	s := StartForTest(t, ThreeMonitors)

	if s.Width != 4224 || s.Height != 1080 {
		t.Errorf("screen size = %dx%d, want 4224x1080", s.Width, s.Height)
	}

	// Ask xrandr directly rather than through ListMonitors, so the test
	// does not depend on the parser it is also checking.
	cmd := exec.Command("xrandr", "--listmonitors")
	cmd.Env = s.Env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xrandr --listmonitors: %v", err)
	}
	t.Logf("xrandr --listmonitors on %s:\n%s", s.Display, out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if lines[0] != "Monitors: 3" || len(lines) != 4 {
		t.Fatalf("want exactly 3 monitors, got:\n%s", out)
	}
	for i, want := range []string{
		"M0 1920/508x1080/286+0+0",
		"M1 1280/339x1024/271+1920+0",
		"M2 1024/271x768/203+3200+0",
	} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("monitor line %d = %q, want it to contain %q", i, lines[i+1], want)
		}
	}

	got, err := s.ListMonitors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !sameLayout(got, ThreeMonitors) {
		t.Errorf("ListMonitors = %v, want %v", got, ThreeMonitors)
	}
}

func TestMonitorsSurviveLastClient(t *testing.T) {
	t.Parallel()
	// Every xrandr call is a client that connects and disconnects; without
	// -noreset the server would reset after each and forget the monitors.
	s := StartForTest(t, TwoMonitors)
	for range 3 {
		got, err := s.ListMonitors(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !sameLayout(got, TwoMonitors) {
			t.Fatalf("ListMonitors = %v, want %v", got, TwoMonitors)
		}
	}
}

func TestConcurrentServersGetDistinctDisplays(t *testing.T) {
	t.Parallel()
	SkipIfUnavailable(t)
	const n = 4
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			servers[i], errs[i] = Start(context.Background(), Options{Monitors: TwoMonitors})
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, s := range servers {
		if errs[i] != nil {
			t.Errorf("server %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		if seen[s.Display] {
			t.Errorf("display %s handed out twice", s.Display)
		}
		seen[s.Display] = true
	}
}

func TestCloseStopsProcessAndIsIdempotent(t *testing.T) {
	t.Parallel()
	SkipIfUnavailable(t)
	s, err := Start(context.Background(), Options{Monitors: TwoMonitors})
	if err != nil {
		t.Fatal(err)
	}
	pid := s.cmd.Process.Pid
	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	// The process has been reaped, so signal 0 must find nothing in its
	// group (Xvfb led the group, so helpers would share its pid as pgid).
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after Close (kill -0: %v)", pid, err)
	}
	if _, err := os.Lstat("/tmp/.X11-unix/X" + strings.TrimPrefix(s.Display, ":")); err == nil {
		t.Errorf("socket for %s left behind after graceful Close", s.Display)
	}
}

func TestCloseReportsUnexpectedExit(t *testing.T) {
	t.Parallel()
	SkipIfUnavailable(t)
	s, err := Start(context.Background(), Options{Monitors: TwoMonitors})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("Xvfb did not exit after SIGKILL")
	}
	// SIGKILL leaves the socket file behind; remove it as Xvfb would have.
	defer os.Remove("/tmp/.X11-unix/X" + strings.TrimPrefix(s.Display, ":"))
	if err := s.Close(); !errors.Is(err, ErrExited) {
		t.Errorf("Close after crash = %v, want ErrExited", err)
	}
}

func TestStartRejectsBadLayouts(t *testing.T) {
	t.Parallel()
	for name, monitors := range map[string][]Monitor{
		"empty":     nil,
		"no name":   {{Name: "", Width: 10, Height: 10}},
		"duplicate": {{Name: "A", Width: 10, Height: 10}, {Name: "A", X: 10, Width: 10, Height: 10}},
		"zero size": {{Name: "A", Width: 0, Height: 10}},
		"negative":  {{Name: "A", X: -1, Width: 10, Height: 10}},
		"too big":   {{Name: "A", Width: 40000, Height: 10}},
	} {
		_, _, err := validateMonitors(monitors)
		if !errors.Is(err, ErrNoMonitors) && !errors.Is(err, ErrInvalidMonitor) {
			t.Errorf("%s: validateMonitors = %v, want a layout error", name, err)
		}
	}
}

func TestParseListMonitors(t *testing.T) {
	t.Parallel()
	out := `Monitors: 3
 0: +*M0 1920/508x1080/286+0+0  screen
 1: M1 1280/338x1024/270+1920+0 
 2: +screen 1024/270x768/203+3200+0  screen
`
	got, err := ParseListMonitors(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Monitor{
		{"M0", 0, 0, 1920, 1080},
		{"M1", 1920, 0, 1280, 1024},
		{"screen", 3200, 0, 1024, 768},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("monitor %d = %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := ParseListMonitors("Monitors: 2\n 0: M0 1/1x1/1+0+0\n"); err == nil {
		t.Error("count mismatch was not reported")
	}
	if _, err := ParseListMonitors("garbage"); err == nil {
		t.Error("missing header was not reported")
	}
}

func TestLaunchDetectsDisplayInUse(t *testing.T) {
	t.Parallel()
	taken := StartForTest(t, TwoMonitors)
	num, err := strconv.Atoi(strings.TrimPrefix(taken.Display, ":"))
	if err != nil {
		t.Fatal(err)
	}
	// A second server on the same number must lose the socket race and be
	// classified as "in use", which is what makes Start retry.
	s := &Server{Display: taken.Display, Width: 64, Height: 64, Depth: 24}
	err = s.launch(context.Background(), num)
	if !errors.Is(err, errDisplayInUse) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("launch on taken display = %v, want errDisplayInUse", err)
	}
	// The loser must not have disturbed the winner.
	if _, err := taken.ListMonitors(context.Background()); err != nil {
		t.Errorf("original server broken after a colliding launch: %v", err)
	}
}

func TestStartHonoursCancelledContext(t *testing.T) {
	t.Parallel()
	SkipIfUnavailable(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := Start(ctx, Options{Monitors: TwoMonitors})
	if err == nil {
		s.Close()
		t.Fatal("Start succeeded with a cancelled context")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Start error = %v, want it to wrap context.Canceled", err)
	}
}
