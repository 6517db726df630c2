package idlebench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/screenrec/recorder/internal/xvfb"
)

// StillGoal is the most CPU `recorder run` may use recording a fully still screen, in % of a
// core.
const StillGoal = 0.5

// StillResult is `recorder run` recording one session of a still 1080p screen.
type StillResult struct {
	Pointer bool `json:"pointer_drawn"`
	// Gap is the max_frame_gap set (0: the engine's default).
	Gap  time.Duration `json:"max_frame_gap,omitempty"`
	Run  window        `json:"recorder_run"`
	Goal float64       `json:"goal_core_percent"`
	Pass bool          `json:"pass"`
}

func runStill(ctx context.Context, c Config) ([]StillResult, error) {
	srv, err := display1080p(ctx)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	var out []StillResult
	gaps := c.StillGaps
	if len(gaps) == 0 {
		gaps = []time.Duration{0}
	}
	for _, gap := range gaps {
		for _, pointer := range []bool{true, false} {
			r, err := runStillOnce(ctx, c, srv, gap, pointer)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// runStillOnce measures `recorder run` recording srv with the pointer drawn or not, with
// max_frame_gap gap (0: the default).
func runStillOnce(ctx context.Context, c Config, srv *xvfb.Server, gap time.Duration, pointer bool) (StillResult, error) {
	dir, err := os.MkdirTemp("", "idlebench-still-")
	if err != nil {
		return StillResult{}, err
	}
	defer os.RemoveAll(dir)
	gapLine := ""
	if gap > 0 {
		gapLine = fmt.Sprintf("\n  max_frame_gap: %s", gap)
	}
	cfg := filepath.Join(dir, "recorder.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `spool_dir: %s
display: %q
log: {level: error}
engine:
  fps: %d
  encoders: [libx264]
  draw_mouse: %t%s
  min_free_disk: 0
frontends:
  - name: probe
    config: {listen: "127.0.0.1:0"}
uploaders:
  - name: noop
`, filepath.Join(dir, "spool"), srv.Display, c.FPS, pointer, gapLine), 0o600); err != nil {
		return StillResult{}, err
	}
	pr, pw := io.Pipe()
	begin := func(p *proc) error {
		base, err := probeURL(ctx, pr, p)
		if err != nil {
			return err
		}
		_, err = startSession(base, "agent", srv.Display)
		return err
	}
	argv := []string{c.Recorder, "run", "--config", cfg}
	w, err := measureRunOut(ctx, c, argv, srv.Env(), pw, begin)
	pw.Close()
	if err != nil {
		return StillResult{}, err
	}
	return StillResult{Pointer: pointer, Gap: gap, Run: w, Goal: StillGoal, Pass: w.Core <= StillGoal}, nil
}

var probeLine = regexp.MustCompile(`front end probe: api listening on (http://\S+)`)

// probeURL reads the recorder's output until the probe front end says where it listens.
func probeURL(ctx context.Context, r io.Reader, p *proc) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := probeLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, r) // keeps the recorder's stdout flowing
	}()
	select {
	case u := <-found:
		return u, nil
	case <-p.ended:
		return "", fmt.Errorf("recorder run ended before its front end listened: %s", tail(p.stderr.String()))
	case <-time.After(60 * time.Second):
		return "", fmt.Errorf("recorder run: no front end within 60 s: %s", tail(p.stderr.String()))
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// startSession starts a recording of display through the probe front end at base.
func startSession(base, owner, display string) (string, error) {
	body, _ := json.Marshal(map[string]any{"owner": owner, "frontend": "probe", "source": map[string]string{"display": display}})
	resp, err := http.Post(base+"/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var s struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &s) != nil {
		return "", fmt.Errorf("start session: %s: %s", resp.Status, b)
	}
	return s.ID, nil
}
