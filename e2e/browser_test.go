package e2e

import (
	"context"
	"html/template"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/screenrec/recorder/engine"
)

// agentPage is an agent desktop page. Its steps, called one by one by the test: log in asking
// for CSRF protection (a pre-flighted cross-origin request) and read the exposed token, ping
// with the session cookie, log out with the token. A step whose answer does not reach the page
// in time (a browser's own sign-in dialog holds it back) reports so.
var agentPage = template.Must(template.New("page").Parse(`<!doctype html>
<title>agent desktop</title>
<script>
const srs = {{.SRS}};
const auth = "Basic " + btoa({{.User}} + ":" + {{.Pass}});
let token = "";
function answered(p) {
  return Promise.race([p, new Promise(resolve => setTimeout(() => resolve({error: "no answer reached the page"}), 15000))])
    .catch(e => ({error: String(e)}));
}
async function body(r) { try { return await r.json(); } catch (e) { return {}; } }
function login() {
  return answered((async () => {
    const r = await fetch(srs + "/api/v2/me", {credentials: "include",
      headers: {"Authorization": auth, "X-Support-CSRFP": "true"}});
    token = r.headers.get("X-CSRF-Token") || "";
    const me = await body(r);
    return {status: r.status, token: token, agent: me.agent || "",
            recording: me.recording ? me.recording.recordingId : ""};
  })());
}
function ping() {
  return answered((async () => {
    const r = await fetch(srs + "/ping", {credentials: "include"});
    return {status: r.status, statusCode: (await body(r)).statusCode};
  })());
}
function logout() {
  return answered((async () => {
    const r = await fetch(srs + "/api/v2/me", {method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({operationName: "EndContactCenterSession"})});
    return {status: r.status, statusCode: (await body(r)).statusCode};
  })());
}
</script>`))

// pageResult is what a step of the agent page reports.
type pageResult struct {
	Status     int    `json:"status"`
	StatusCode int    `json:"statusCode"`
	Token      string `json:"token"`
	Agent      string `json:"agent"`
	Recording  string `json:"recording"`
	Error      string `json:"error"`
}

// pageListener listens for the agent page on host (a loopback address) and returns the
// listener and the page's origin.
func pageListener(t *testing.T, host string) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// servePage serves the agent page, which talks to the SRS at srs, on ln.
func servePage(t *testing.T, ln net.Listener, srs string) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = agentPage.Execute(w, map[string]string{"SRS": srs, "User": "jdoe", "Pass": "s3cret"})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// openPage loads url in headless Chromium and returns a function that runs one step of the
// page's script (an expression such as "login()") and returns what it reported.
func openPage(t *testing.T, url string) func(step string) pageResult {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.UserDataDir(t.TempDir()),
		// The machine has no network beyond loopback: keep Chromium from trying.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	// This chromedp's protocol tables predate some of Chromium 156's event fields; what it
	// cannot decode goes to the test's log (shown on failure), not to stderr.
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) { t.Logf(format, args...) }))
	t.Cleanup(bcancel)
	if err := chromedp.Run(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("chromium on %s: %v", url, err)
	}
	return func(step string) pageResult {
		t.Helper()
		var res pageResult
		err := chromedp.Run(bctx, chromedp.Evaluate(step, &res,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if err != nil {
			t.Fatalf("chromium on %s, %s: %v", url, step, err)
		}
		return res
	}
}

// requireChromium skips the test in the short tier (go test -short runs without a browser)
// and when Chromium is missing.
func requireChromium(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping in -short mode: needs Chromium")
	}
	if _, err := exec.LookPath("/usr/bin/chromium"); err != nil {
		t.Skip("chromium is not installed (make test installs it)")
	}
}

func TestSRSInARealBrowser(t *testing.T) {
	requireChromium(t)
	t.Parallel()
	// The allowed page and the refused one are on different loopback addresses, so each is
	// its own origin, and neither is the SRS's.
	allowedLn, allowed := pageListener(t, "127.0.0.1")
	refusedLn, refused := pageListener(t, "127.0.0.2")
	s := newStack(t, map[string]any{"origins": []string{allowed}, "ping_timeout": "5s"})
	servePage(t, allowedLn, s.srs)
	servePage(t, refusedLn, s.srs)
	page := openPage(t, allowed+"/")
	ended := func(id string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for {
			sess, err := s.eng.Get(ctx, id)
			if err == nil && sess.State == engine.StateCompleted {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the page's recording %s: %+v %v, want completed", id, sess, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}

	res := page("login()")
	if res.Error != "" || res.Status != 200 || len(res.Token) < 22 || res.Agent != "jdoe" || res.Recording == "" {
		t.Fatalf("login: %+v", res)
	}
	rec := res.Recording
	if res = page("ping()"); res.Error != "" || res.Status != 200 || res.StatusCode != 0 {
		t.Fatalf("ping: %+v", res)
	}
	if res = page("logout()"); res.Error != "" || res.Status != 200 || res.StatusCode != 0 {
		t.Fatalf("logout: %+v", res)
	}
	ended(rec)
	// The 401s reach the page (no sign-in dialog of the browser's holds them back), so that
	// it can log in again.
	if res = page("ping()"); res.Error != "" || res.Status != 401 || res.StatusCode != 401 {
		t.Fatalf("ping after logout: %+v, want 401 in the page", res)
	}
	res = page("login()")
	if res.Error != "" || res.Status != 200 || res.Recording == "" {
		t.Fatalf("login again: %+v", res)
	}
	ended(res.Recording) // no ping: the session times out
	if res = page("ping()"); res.Error != "" || res.Status != 401 || res.StatusCode != 401 {
		t.Fatalf("ping after the ping timeout: %+v, want 401 in the page", res)
	}
	if res = page("logout()"); res.Error != "" || res.Status != 401 {
		t.Fatalf("logout after the ping timeout: %+v, want 401 in the page", res)
	}

	list, _ := s.eng.List(context.Background(), engine.ListFilter{Owner: "jdoe"})
	res = openPage(t, refused+"/")("login()")
	if !strings.Contains(res.Error, "Failed to fetch") {
		t.Fatalf("refused origin %s: %+v, want the browser to block it", refused, res)
	}
	if after, _ := s.eng.List(context.Background(), engine.ListFilter{Owner: "jdoe"}); len(after) != len(list) {
		t.Errorf("the refused page's login reached the engine: %d sessions, want %d", len(after), len(list))
	}
}
