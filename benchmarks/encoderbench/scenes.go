package encoderbench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

// sceneRates are the scenes' update rates, chosen to look like a person at a desk rather than
// tied to the capture rate: typing at 10 keystrokes/s (a fast typist; xscene types one key per
// update), scrolling and video at 30 updates/s; idle's rate only quantises its caret blink.
var sceneRates = map[string]int{
	xscene.SceneIdle:      30,
	xscene.SceneTyping:    10,
	xscene.SceneScrolling: 30,
	xscene.SceneVideo:     30,
	xscene.SceneSheet:     8,  // digits typed per second, an Enter every seventh
	xscene.SceneTerminal:  10, // lines of output per second
}

// sceneRate is the update rate of a scene (30 for one sceneRates does not list).
func sceneRate(name string) int {
	if r, ok := sceneRates[name]; ok {
		return r
	}
	return 30
}

// sceneWarmUp lets the players draw their first frame (a whole 4K window) before measuring.
var sceneWarmUp = 1500 * time.Millisecond

// monitorsFor lays out the monitors of a scene at a resolution: one, or for mixed-3 three side
// by side.
func monitorsFor(scene string, r Resolution) []xvfb.Monitor {
	n := 1
	if scene == SceneMixed3 {
		n = len(xscene.Mixed3())
	}
	mons := make([]xvfb.Monitor, n)
	for i := range mons {
		mons[i] = xvfb.Monitor{Name: fmt.Sprintf("M%d", i), X: i * r.Width, Width: r.Width, Height: r.Height}
	}
	return mons
}

// playersFor names the scene each monitor plays.
func playersFor(scene string) []string {
	if scene == SceneMixed3 {
		return xscene.Mixed3()
	}
	return []string{scene}
}

// stage is a private Xvfb showing one scene at one resolution.
type stage struct {
	srv    *xvfb.Server
	width  int // the whole screen (the mixed-3 canvas)
	height int
	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error // the first player error
}

// startStage starts Xvfb sized for scene at r and the scene's players, and waits for their
// first frame.
func startStage(ctx context.Context, scene string, r Resolution) (*stage, error) {
	mons := monitorsFor(scene, r)
	srv, err := xvfb.Start(ctx, xvfb.Options{Monitors: mons})
	if err != nil {
		return nil, err
	}
	pctx, stop := context.WithCancel(ctx)
	st := &stage{srv: srv, width: srv.Width, height: srv.Height, stop: stop}
	for i, name := range playersFor(scene) {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			if err := xscene.Play(pctx, srv.Display, name, mons[i].Bounds(), sceneRate(name)); err != nil {
				st.mu.Lock()
				if st.err == nil {
					st.err = fmt.Errorf("%w: %s on %s: %w", ErrScene, name, mons[i].Name, err)
				}
				st.mu.Unlock()
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-time.After(sceneWarmUp):
	}
	if err := errors.Join(ctx.Err(), st.failed()); err != nil {
		return nil, errors.Join(err, st.close())
	}
	return st, nil
}

// failed reports a player that stopped with an error: the screen no longer shows the scene,
// so what was measured since is not the scene's cost.
func (st *stage) failed() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// close stops the players and the server.
func (st *stage) close() error {
	st.stop()
	st.wg.Wait()
	return st.srv.Close()
}
