// Package e2e tests the recorder end to end: the real engine on a private Xvfb, the plugin
// host running front ends as plugin processes of the real recorder binary, real HTTP on
// loopback, and a real headless browser.
package e2e

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/nettest"
	"github.com/screenrec/recorder/internal/testbin"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
	"github.com/screenrec/recorder/plugins/builtin"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

// recorderBin is the recorder binary, re-executed by the host for built-in plugins.
var recorderBin string

func TestMain(m *testing.M) {
	// tusd (the RWS test server) logs every request to the log package; RWS_REQUEST_LOG=1
	// keeps it.
	if os.Getenv("RWS_REQUEST_LOG") == "" {
		log.SetOutput(io.Discard)
	}
	testbin.Main(m, func(dir string) { recorderBin = filepath.Join(dir, "recorder") },
		skipShort(testbin.Recorder(".."))...)
}

func freePort(t testing.TB) int { return nettest.FreePort(t) }

// usersFile writes a static verifier's users file with one user.
func usersFile(t testing.TB, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte("# test users\n"+user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// stack is a recorder: engine, host and an SRS front end as a plugin process.
type stack struct {
	srv   *xvfb.Server
	spool string
	eng   *engine.Engine
	host  *host.Host
	srs   string // base URL
}

// newStack starts the engine on a private display and the SRS front end (out of process)
// with cfg merged over test defaults.
func newStack(t testing.TB, cfg map[string]any) *stack { return newStackWith(t, cfg, stackOptions{}) }

// stackOptions add to a stack's engine and host (telemetry, say).
type stackOptions struct {
	engine []engine.Option
	host   func(*host.Options)
	// maxFrameGap is the engine's Config.MaxFrameGap (0: its default).
	maxFrameGap time.Duration
}

// newStackWith is newStack with options.
func newStackWith(t testing.TB, cfg map[string]any, so stackOptions) *stack {
	t.Helper()
	mediatest.SkipIfUnavailable(t)
	srv := xvfb.StartForTest(t, xvfb.TwoMonitors)
	paint(t, srv)
	spool := t.TempDir()
	eng, err := engine.New(context.Background(), engine.Config{SpoolDir: spool, MinFreeDisk: -1, SegmentDuration: 0,
		MaxFrameGap: so.maxFrameGap}, so.engine...)
	if err != nil {
		t.Fatal(err)
	}
	hopts := host.Options{BuiltinExecutable: filepath.Join(filepath.Dir(recorderBin), builtin.Executable), Env: testEnv,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if so.host != nil {
		so.host(&hopts)
	}
	h := host.New(host.EngineAPI(eng), hopts)
	port := freePort(t)
	conf := map[string]any{"listen": fmt.Sprintf("127.0.0.1:%d", port), "display": srv.Display,
		"users_file": usersFile(t, "jdoe", "s3cret"), "server": "http://127.0.0.1:9/rws"}
	for k, v := range cfg {
		conf[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Load(ctx, []host.Spec{{Name: "srs", Kind: sdk.KindFrontend, Config: conf, Where: "frontends[0]"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.StopFrontends(ctx)
		_ = eng.Close(ctx)
		_ = h.Close(ctx)
	})
	return &stack{srv: srv, spool: spool, eng: eng, host: h, srs: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// screenColour is painted on every monitor, so that a masked (black) frame is told apart.
var screenColour = color.RGBA{200, 40, 40, 255}

func paint(t testing.TB, srv *xvfb.Server) {
	t.Helper()
	p, err := xscene.Connect(srv.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, h := p.Size()
	if err := p.Fill(image.Rect(0, 0, w, h), screenColour); err != nil {
		t.Fatal(err)
	}
}

// testSigningKey is the cloud front end's JWT signing key in these tests, given by reference
// as {env: E2E_CLOUD_SIGNING_KEY} like a deployment would.
const testSigningKey = "0123456789abcdef0123456789abcdef-signing"

// testEnv resolves secret references for the host: the test's own variables, then the process's.
func testEnv(name string) (string, bool) {
	if name == "E2E_CLOUD_SIGNING_KEY" {
		return testSigningKey, true
	}
	return os.LookupEnv(name)
}

// skipShort marks bins as not built in the short tier, where every e2e test skips.
func skipShort(bins []testbin.Binary) []testbin.Binary {
	for i := range bins {
		bins[i].SkipShort = true
	}
	return bins
}
