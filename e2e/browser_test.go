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

// agentPage is an agent desktop page: it logs in asking for CSRF protection (a pre-flighted
// cross-origin request), reads the exposed token, pings, and logs out with the token.
var agentPage = template.Must(template.New("page").Parse(`<!doctype html>
<title>agent desktop</title>
<script>
const srs = {{.SRS}};
const auth = "Basic " + btoa({{.User}} + ":" + {{.Pass}});
async function run() {
  const login = await fetch(srs + "/api/v2/me", {credentials: "include",
    headers: {"Authorization": auth, "X-Support-CSRFP": "true"}});
  const token = login.headers.get("X-CSRF-Token");
  const me = await login.json();
  const ping = await fetch(srs + "/ping", {credentials: "include"});
  const logout = await fetch(srs + "/api/v2/me", {method: "POST", credentials: "include",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
    body: JSON.stringify({operationName: "EndContactCenterSession"})});
  return {login: login.status, token: token || "", agent: me.agent, recording: me.recording.recordingId,
          ping: ping.status, logout: logout.status, logoutStatusCode: (await logout.json()).statusCode};
}
window.result = run().catch(e => ({error: String(e)}));
</script>`))

type pageResult struct {
	Login            int    `json:"login"`
	Token            string `json:"token"`
	Agent            string `json:"agent"`
	Recording        string `json:"recording"`
	Ping             int    `json:"ping"`
	Logout           int    `json:"logout"`
	LogoutStatusCode int    `json:"logoutStatusCode"`
	Error            string `json:"error"`
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

// runPage loads url in headless Chromium and returns what the page's script reported.
func runPage(t *testing.T, url string) pageResult {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.UserDataDir(t.TempDir()),
		// The machine has no network beyond loopback: keep Chromium from trying.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	// This chromedp's protocol tables predate some of Chromium 156's event fields; what it
	// cannot decode goes to the test's log (shown on failure), not to stderr.
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) { t.Logf(format, args...) }))
	defer bcancel()
	var res pageResult
	err := chromedp.Run(bctx, chromedp.Navigate(url),
		chromedp.Evaluate(`window.result`, &res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if err != nil {
		t.Fatalf("chromium on %s: %v", url, err)
	}
	return res
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
	s := newStack(t, map[string]any{"origins": []string{allowed}})
	servePage(t, allowedLn, s.srs)
	servePage(t, refusedLn, s.srs)
	res := runPage(t, allowed+"/")
	if res.Error != "" || res.Login != 200 || len(res.Token) < 22 || res.Agent != "jdoe" || res.Ping != 200 ||
		res.Logout != 200 || res.LogoutStatusCode != 0 {
		t.Fatalf("allowed origin: %+v", res)
	}
	sess, err := s.eng.Get(context.Background(), res.Recording)
	if err != nil || sess.State != engine.StateCompleted {
		t.Errorf("the page's recording after logout: %+v %v", sess, err)
	}

	res = runPage(t, refused+"/")
	if !strings.Contains(res.Error, "Failed to fetch") {
		t.Fatalf("refused origin %s: %+v, want the browser to block it", refused, res)
	}
	list, _ := s.eng.List(context.Background(), engine.ListFilter{Owner: "jdoe"})
	if len(list) != 1 {
		t.Errorf("the refused page's login reached the engine: %d sessions", len(list))
	}
}
