package e2e

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/frontends/admin"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

// consoleService runs `recorder run` on a display with monitors, the probe front end, the
// noop uploader configured to fail every upload, and the admin API with its console.
func consoleService(t *testing.T, monitors []xvfb.Monitor) (*service, *xvfb.Server, string, *agent) {
	t.Helper()
	srv := xvfb.StartForTest(t, monitors)
	probePort, adminAddr := freePort(t), freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "recorder.yaml")
	body := fmt.Sprintf(`spool_dir: %s
display: %q
engine: {segment_duration: 0}
frontends:
  - name: probe
    config: {listen: "127.0.0.1:%d"}
uploaders:
  - name: noop
    config: {fail: true}
upload: {keep_uploaded: true}
admin: {enabled: true, listen: %q, token: {env: E2E_ADMIN_TOKEN}}
`, t.TempDir(), srv.Display, probePort, adminAddr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := runService(t, cfg, srv.Display, "admin API listening on http://"+adminAddr, "E2E_ADMIN_TOKEN="+adminToken)
	probe := &agent{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", probePort), c: http.DefaultClient}
	return svc, srv, adminAddr, probe
}

// browser is a headless Chromium tab (started as e2e/browser_test.go's openPage does).
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T, url string) *browser {
	t.Helper()
	// Chromium's helper processes may still write to its profile for a moment after the
	// browser has gone: remove it (registered first, so it runs last) with a few tries.
	profile, err := os.MkdirTemp("", "console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("chromium profile %s could not be removed", profile)
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) { t.Logf(format, args...) }))
	t.Cleanup(bcancel)
	if err := chromedp.Run(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("chromium on %s: %v", url, err)
	}
	return &browser{t: t, ctx: bctx}
}

func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into out.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	b.run(expr, chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// waitFor evaluates expr (a boolean) until it is true, failing with what it last saw (show).
func (b *browser) waitFor(what, expr, show string) {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		b.eval(expr, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var seen any
			b.eval(show, &seen)
			b.t.Fatalf("%s: not within 60 s; saw %v", what, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// thumbMean is a JS expression: the mean colour [r,g,b] of the page's thumbnail of track i
// of the first session, drawn on a canvas (the image is the page's own origin's).
func thumbMean(i int) string {
	return fmt.Sprintf(`(() => {
  const img = document.querySelector('#sessions img[data-track="%d"]');
  if (!img || !img.complete || !img.naturalWidth) return [-1, -1, -1];
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let r = 0, gr = 0, b = 0;
  for (let k = 0; k < d.length; k += 4) { r += d[k]; gr += d[k+1]; b += d[k+2]; }
  const n = d.length / 4;
  return [Math.round(r/n), Math.round(gr/n), Math.round(b/n)];
})()`, i)
}

func nearJS(expr string, c color.RGBA) string {
	return fmt.Sprintf(`(() => { const m = %s; return Math.abs(m[0]-%d) < 30 && Math.abs(m[1]-%d) < 30 && Math.abs(m[2]-%d) < 30; })()`,
		expr, c.R, c.G, c.B)
}

// The web console in a real Chromium against `recorder run`: the page without a login shows
// only the login form (and every API path is 401 without the token); after logging in with
// the token it shows the live session with one thumbnail per monitor that follows the screen;
// the session is stopped through the confirmation dialog; the finished recording plays in
// the page's <video> and seeks; its failed upload (the noop uploader fails every upload) is
// retried from the queue.
func TestConsoleInARealBrowser(t *testing.T) {
	requireChromium(t)
	mediatestSkip(t)
	t.Parallel()
	svc, srv, adminAddr, probe := consoleService(t, xvfb.TwoMonitors)
	base := "http://" + adminAddr
	p, err := xscene.Connect(srv.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	red, green := color.RGBA{220, 30, 30, 255}, color.RGBA{30, 200, 60, 255}
	fill := func(r image.Rectangle, c color.RGBA) {
		t.Helper()
		if err := p.Fill(r, c); err != nil {
			t.Fatal(err)
		}
	}
	fill(xvfb.TwoMonitors[0].Bounds(), red)
	fill(xvfb.TwoMonitors[1].Bounds(), color.RGBA{30, 40, 220, 255})

	var s engine.Session
	if code := probe.do("POST", "/sessions", engine.StartRequest{Owner: "agent-9", Frontend: "probe",
		Source: engine.Source{Display: srv.Display, Layout: engine.LayoutTracks}}, false, &s); code != 201 {
		t.Fatalf("start through the probe: %d", code)
	}

	// Without the token: nothing.
	for _, path := range []string{"/api/v1/sessions", "/api/v1/recordings", "/api/v1/uploads", "/api/v1/stats",
		"/api/v1/sessions/" + s.ID + "/thumbnail", "/api/v1/recordings/" + s.ID + "/segments/1"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", path, resp.StatusCode)
		}
	}

	b := newBrowser(t, base+"/console/")
	b.run("login form", chromedp.WaitVisible("#token", chromedp.ByID))
	var appHidden bool
	b.eval(`document.getElementById('app').hidden && document.querySelectorAll('#sessions li').length === 0`, &appHidden)
	if !appHidden {
		t.Fatal("before login the page shows more than the login form")
	}
	var stored string
	b.run("log in", chromedp.SendKeys("#token", adminToken, chromedp.ByID), chromedp.Click(`#login-form button`, chromedp.ByQuery))
	b.waitFor("session card after login", `document.querySelectorAll('#sessions img').length === 2`,
		`document.body.innerText.slice(0, 300)`)
	b.eval(`JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie`, &stored)
	if strings.Contains(stored, adminToken) {
		t.Errorf("the token is kept by the page: %q", stored)
	}

	// Thumbnails: monitor 0 is red, then turns green on screen and in the page.
	b.waitFor("thumbnail of monitor 0 red", nearJS(thumbMean(0), red), thumbMean(0))
	b.waitFor("thumbnail of monitor 1 blue", nearJS(thumbMean(1), color.RGBA{30, 40, 220, 255}), thumbMean(1))
	fill(xvfb.TwoMonitors[0].Bounds(), green)
	b.waitFor("thumbnail of monitor 0 green", nearJS(thumbMean(0), green), thumbMean(0))

	// Mask, then unmask, each through the confirmation: the thumbnail shows the mask (black),
	// and the interval is on the recording's timeline below.
	b.run("mask", chromedp.Click(`#sessions li button.mask`, chromedp.ByQuery),
		chromedp.WaitVisible("#confirm", chromedp.ByID), chromedp.Click("#confirm-ok", chromedp.ByID))
	b.waitFor("session masked", `document.querySelector('#sessions li').dataset.state === 'masked'`,
		`document.querySelector('#sessions li').dataset.state`)
	b.waitFor("thumbnail of monitor 0 masked", nearJS(thumbMean(0), color.RGBA{0, 0, 0, 255}), thumbMean(0))
	time.Sleep(time.Second)
	b.run("unmask", chromedp.Click(`#sessions li button.mask`, chromedp.ByQuery),
		chromedp.WaitVisible("#confirm", chromedp.ByID), chromedp.Click("#confirm-ok", chromedp.ByID))
	b.waitFor("session unmasked", `document.querySelector('#sessions li').dataset.state === 'recording'`,
		`document.querySelector('#sessions li').dataset.state`)
	b.waitFor("thumbnail of monitor 0 green again", nearJS(thumbMean(0), green), thumbMean(0))

	// Stop, through the confirmation.
	time.Sleep(time.Second) // a recording a few seconds long, to seek in
	b.run("stop", chromedp.Click(`#sessions li button.stop`, chromedp.ByQuery),
		chromedp.WaitVisible("#confirm", chromedp.ByID), chromedp.Click("#confirm-ok", chromedp.ByID))
	b.waitFor("session gone from the page", `document.querySelectorAll('#sessions li').length === 0`,
		`document.getElementById('status').textContent`)
	got, err := svcEngineGet(t, base, s.ID)
	if err != nil || got.State != "completed" {
		t.Fatalf("after the stop: %+v %v", got, err)
	}

	// Playback and seek.
	b.run("search", chromedp.Click(`#rec-search button`, chromedp.ByQuery))
	b.waitFor("recording listed", fmt.Sprintf(`!!document.querySelector('#recordings tr[data-id="%s"] button.details')`, s.ID),
		`document.getElementById('recordings').innerText`)
	// Clicked from the page's script: the table is redrawn by its polls, which can replace a
	// node between a protocol-level lookup and the click.
	var clicked bool
	b.eval(fmt.Sprintf(`(document.querySelector('#recordings tr[data-id="%s"] button.details').click(), true)`, s.ID), &clicked)
	b.waitFor("video metadata", `document.getElementById('player').readyState >= 1`,
		`[document.getElementById('player').readyState, String(document.getElementById('player').error && document.getElementById('player').error.message)]`)
	var masks int
	b.eval(`document.querySelectorAll('#timeline rect.mask').length`, &masks)
	if masks != 1 {
		t.Errorf("timeline: %d masked intervals, want 1", masks)
	}
	var dur float64
	b.eval(`document.getElementById('player').duration`, &dur)
	if dur < 1.5 {
		t.Fatalf("video duration %.2f s, want the recording's (> 1.5 s)", dur)
	}
	var seek struct {
		Time  float64 `json:"time"`
		Ready int     `json:"ready"`
	}
	b.eval(`new Promise((resolve) => {
  const v = document.getElementById('player');
  v.addEventListener('seeked', () => {
    const check = () => v.readyState >= 2 ? resolve({time: v.currentTime, ready: v.readyState}) : setTimeout(check, 50);
    check();
  }, {once: true});
  v.currentTime = 1.0;
})`, &seek)
	if seek.Time < 0.9 || seek.Time > 1.1 || seek.Ready < 2 {
		t.Fatalf("after seeking to 1.0 s: currentTime %.3f, readyState %d", seek.Time, seek.Ready)
	}
	var played bool
	b.eval(`document.getElementById('player').play().then(() => new Promise((r) => setTimeout(() => r(document.getElementById('player').currentTime > 1.0), 500)))`, &played)
	if !played {
		t.Error("the video does not play on from the seek")
	}

	// The failed upload, retried.
	b.waitFor("failed upload with a retry button", `!!document.querySelector('#uploads button.retry')`,
		`document.getElementById('uploads').innerText`)
	before := uploadOf(t, base, s.ID)
	b.eval(`(document.querySelector('#uploads button.retry').click(), true)`, &clicked)
	b.run("retry", chromedp.WaitVisible("#confirm", chromedp.ByID), chromedp.Click("#confirm-ok", chromedp.ByID))
	b.waitFor("retry confirmed", `document.getElementById('status').textContent.includes('queued again')`,
		`document.getElementById('status').textContent`)
	// The noop uploader fails again: the job was tried anew (its attempts counted from zero).
	deadline := time.Now().Add(30 * time.Second)
	for {
		after := uploadOf(t, base, s.ID)
		if after.UpdatedAt.After(before.UpdatedAt) && after.Attempts == 1 && after.State == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload after retry: %+v (before: %+v)", after, before)
		}
		time.Sleep(100 * time.Millisecond)
	}
	svc.stop(t)
}

func svcEngineGet(t *testing.T, base, id string) (admin.Session, error) {
	t.Helper()
	var s admin.Session
	code, body := newAdminClient(t, strings.TrimPrefix(base, "http://")).call("GET", "/api/v1/recordings/"+id, adminToken, &s)
	if code != 200 {
		return s, fmt.Errorf("%d %s", code, body)
	}
	return s, nil
}

func uploadOf(t *testing.T, base, id string) admin.Upload {
	t.Helper()
	var ups admin.Uploads
	code, body := newAdminClient(t, strings.TrimPrefix(base, "http://")).call("GET", "/api/v1/uploads?recording_id="+id, adminToken, &ups)
	if code != 200 || len(ups.Uploads) != 1 {
		t.Fatalf("uploads of %s: %d %s", id, code, body)
	}
	return ups.Uploads[0]
}

// procCPU is the CPU time (user and system) process pid has used.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which ends at the last ')': utime and stime are the
	// 12th and 13th of them, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// TestConsoleMeasure measures the console (it asserts nothing; set E2E_CONSOLE_MEASURE=1
// to run it (not a RECORDER_ variable: recorder run refuses unknown ones), e.g. go test -run TestConsoleMeasure -v ./e2e): time to first paint and the
// page's weight, and the CPU of the recorder process (which serves the admin API) recording
// three monitors with the console closed, open (three thumbnails every 3 s, the chart and
// the queue polled), and closed again.
func TestConsoleMeasure(t *testing.T) {
	if os.Getenv("E2E_CONSOLE_MEASURE") == "" {
		t.Skip("a measurement: set E2E_CONSOLE_MEASURE=1")
	}
	requireChromium(t)
	mediatestSkip(t)
	window := 30 * time.Second
	if v, err := time.ParseDuration(os.Getenv("E2E_CONSOLE_WINDOW")); err == nil {
		window = v
	}
	svc, srv, adminAddr, probe := consoleService(t, xvfb.ThreeMonitors)
	paint(t, srv)
	var s engine.Session
	if code := probe.do("POST", "/sessions", engine.StartRequest{Owner: "agent-m", Frontend: "probe",
		Source: engine.Source{Display: srv.Display, Layout: engine.LayoutTracks}}, false, &s); code != 201 {
		t.Fatalf("start: %d", code)
	}
	pid := svc.cmd.Process.Pid
	measure := func() float64 {
		c0, t0 := procCPU(t, pid), time.Now()
		time.Sleep(window)
		return 100 * float64(procCPU(t, pid)-c0) / float64(time.Since(t0))
	}
	time.Sleep(3 * time.Second) // past the start
	closed1 := measure()

	b := newBrowser(t, "http://"+adminAddr+"/console/")
	var load struct {
		FP     float64 `json:"fp"`
		FCP    float64 `json:"fcp"`
		Bytes  int64   `json:"bytes"`
		Files  int     `json:"files"`
		Decode int64   `json:"decoded"`
	}
	b.waitFor("paint entries", `performance.getEntriesByType('paint').length >= 2`, `performance.getEntriesByType('paint').length`)
	b.eval(`(() => {
  const p = Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]));
  const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  return {fp: p['first-paint'], fcp: p['first-contentful-paint'], files: all.length,
    bytes: all.reduce((n, e) => n + e.transferSize, 0), decoded: all.reduce((n, e) => n + e.decodedBodySize, 0)};
})()`, &load)
	b.run("log in", chromedp.SendKeys("#token", adminToken, chromedp.ByID), chromedp.Click(`#login-form button`, chromedp.ByQuery))
	b.waitFor("three thumbnails", `[...document.querySelectorAll('#sessions img')].filter((i) => i.naturalWidth > 0).length === 3`,
		`document.querySelectorAll('#sessions img').length`)
	var thumbBytes int64
	b.eval(`performance.getEntriesByType('resource').filter((e) => e.name.includes('/thumbnail')).slice(-3).reduce((n, e) => n + e.transferSize, 0)`, &thumbBytes)
	open := measure()
	b.run("close", chromedp.Navigate("about:blank"))
	closed2 := measure()
	t.Logf("page: first paint %.0f ms, first contentful paint %.0f ms; %d files, %d bytes transferred (%d decoded); three thumbnails %d bytes",
		load.FP, load.FCP, load.Files, load.Bytes, load.Decode, thumbBytes)
	t.Logf("recorder process CPU, three monitors recording (%s windows): console closed %.2f %%, open %.2f %%, closed again %.2f %%; extra %.2f %% of a core",
		window, closed1, open, closed2, open-(closed1+closed2)/2)
}
