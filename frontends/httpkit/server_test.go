package httpkit_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/screenrec/recorder/frontends/httpkit"
	"github.com/screenrec/recorder/internal/testcert"
)

// shape is the error body of the test API.
type shape struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

func testOptions() httpkit.Options {
	return httpkit.Options{Name: "test", Listen: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler),
		ErrorBody: func(e *httpkit.Error) any { return shape{Code: e.Status, Msg: e.Message} }}
}

// start starts s and returns its HTTP base URL; the server is stopped at the end of the test.
func start(t *testing.T, s *httpkit.Server) string {
	t.Helper()
	eps, err := s.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return eps[0].URL
}

type answer struct {
	status int
	hdr    http.Header
	body   []byte
	close  bool // the answer said Connection: close
}

func (a answer) shape(t *testing.T) shape {
	t.Helper()
	var s shape
	if err := json.Unmarshal(a.body, &s); err != nil || s.Code != a.status {
		t.Fatalf("error body %q (%v): not in the API's shape with code %d", a.body, err, a.status)
	}
	if ct := a.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	return s
}

func do(t *testing.T, method, url string, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b, res.Close}
}

// While Stop drains, new requests are answered 503 in the API's shape with Connection:
// close, the request in flight finishes normally, and then the listener closes.
func TestStopDrains(t *testing.T) {
	s := httpkit.New(testOptions())
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	releaseOnce := func() { once.Do(func() { close(release) }) }
	s.Echo().GET("/slow", func(c echo.Context) error {
		close(entered)
		<-release
		return c.String(http.StatusOK, "done")
	})
	s.Echo().GET("/fast", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	base := start(t, s)
	t.Cleanup(releaseOnce) // first: a failing test must not leave Stop waiting

	slow := make(chan answer, 1)
	go func() { slow <- do(t, "GET", base+"/slow", nil) }()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()

	var a answer
	for deadline := time.Now().Add(5 * time.Second); ; {
		if a = do(t, "GET", base+"/fast", nil); a.status == http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("during Stop: %d %s, want 503", a.status, a.body)
	}
	if got := a.shape(t); !strings.Contains(got.Msg, "shutting down") {
		t.Errorf("503 message %q", got.Msg)
	}
	if !a.close {
		t.Error("503 without Connection: close")
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with a request in flight", err)
	default:
	}
	releaseOnce()
	if a := <-slow; a.status != http.StatusOK || string(a.body) != "done" {
		t.Errorf("request in flight: %d %q, want 200 done", a.status, a.body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop = %v", err)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("still listening after Stop")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	if _, err := s.Start(context.Background()); !errors.Is(err, httpkit.ErrStarted) {
		t.Errorf("Start after Stop = %v, want ErrStarted", err)
	}
}

// Stop gives up on a request that outlives its context: it returns the context's error and
// closes the connection.
func TestStopDeadline(t *testing.T) {
	s := httpkit.New(testOptions())
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s.Echo().GET("/stuck", func(c echo.Context) error {
		close(entered)
		<-release
		return nil
	})
	base := start(t, s)
	go func() {
		res, err := http.Get(base + "/stuck")
		if err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with a stuck request = %v, want DeadlineExceeded", err)
	}
}

// Serve serves until its context ends, then stops.
func TestServeStopsWithContext(t *testing.T) {
	s := httpkit.New(testOptions())
	s.Echo().GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if as := s.Addrs(); len(as) > 0 {
			addr = as[0].String()
		}
	}
	if a := do(t, "GET", "http://"+addr+"/x", nil); a.status != http.StatusNoContent {
		t.Fatalf("GET /x: %d", a.status)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still listening after Serve returned")
	}
}

// A body over the limit is answered 413 in the API's shape, whether its length is declared
// or it comes chunked; one at the limit is read.
func TestBodyLimit(t *testing.T) {
	o := testOptions()
	o.MaxBody = 1 << 10
	s := httpkit.New(o)
	s.Echo().POST("/echo", func(c echo.Context) error {
		b, err := httpkit.ReadBody(c.Request())
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "application/octet-stream", b)
	})
	base := start(t, s)
	big := strings.Repeat("x", 1<<10+1)
	for name, body := range map[string]io.Reader{
		"declared": strings.NewReader(big),
		"chunked":  struct{ io.Reader }{strings.NewReader(big)},
	} {
		a := do(t, "POST", base+"/echo", body)
		if a.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s body of %d bytes: %d %s, want 413", name, len(big), a.status, a.body)
			continue
		}
		if got := a.shape(t); !strings.Contains(got.Msg, "over the limit of 1 KiB") {
			t.Errorf("%s: 413 message %q", name, got.Msg)
		}
		if !a.close {
			t.Errorf("%s: 413 without Connection: close", name)
		}
	}
	if a := do(t, "POST", base+"/echo", strings.NewReader(big[1:])); a.status != http.StatusOK || len(a.body) != 1<<10 {
		t.Errorf("body at the limit: %d, %d bytes back", a.status, len(a.body))
	}
}

// A panicking handler is answered 500 in the API's shape; the server goes on serving.
func TestPanicIs500(t *testing.T) {
	s := httpkit.New(testOptions())
	s.Echo().GET("/panic", func(echo.Context) error { panic("boom") })
	s.Echo().GET("/ok", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	base := start(t, s)
	a := do(t, "GET", base+"/panic", nil)
	if a.status != http.StatusInternalServerError {
		t.Fatalf("panicking handler: %d %s, want 500", a.status, a.body)
	}
	if got := a.shape(t); !strings.Contains(got.Msg, "internal error") {
		t.Errorf("500 message %q", got.Msg)
	}
	if a := do(t, "GET", base+"/ok", nil); a.status != http.StatusNoContent {
		t.Errorf("after the panic: %d", a.status)
	}
}

// Errors a handler returns, and the router's own, are answered in the API's shape.
func TestErrorShape(t *testing.T) {
	s := httpkit.New(testOptions())
	s.Echo().GET("/teapot", func(echo.Context) error {
		return httpkit.Errorf(http.StatusTeapot, "short and stout").WithHeader("Retry-After", "7")
	})
	s.Echo().GET("/plain", func(echo.Context) error { return errors.New("disk on fire") })
	base := start(t, s)
	a := do(t, "GET", base+"/teapot", nil)
	if got := a.shape(t); a.status != http.StatusTeapot || got.Msg != "short and stout" || a.hdr.Get("Retry-After") != "7" {
		t.Errorf("teapot: %d %+v Retry-After %q", a.status, got, a.hdr.Get("Retry-After"))
	}
	if a := do(t, "GET", base+"/plain", nil); a.status != 500 || !strings.Contains(a.shape(t).Msg, "disk on fire") {
		t.Errorf("plain error: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", base+"/nope", nil); a.status != 404 || a.shape(t).Msg != "no such endpoint: /nope" {
		t.Errorf("unknown path: %d %s", a.status, a.body)
	}
	if a := do(t, "PUT", base+"/teapot", nil); a.status != 405 || !strings.Contains(a.shape(t).Msg, "method PUT is not allowed on /teapot") {
		t.Errorf("wrong method: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", base+"/teapot", nil); a.hdr.Get("Cache-Control") != "no-store" || a.hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers of every answer: %v", a.hdr)
	}
}

// The HTTPS listener serves the certificate files in force: replaced files are served at the
// next handshake, without a restart.
func TestCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testcert.Write(t, dir)
	o := testOptions()
	o.Listen = ""
	o.HTTPSListen = "127.0.0.1:0"
	o.CertFiles = func() (string, string) { return certFile, keyFile }
	s := httpkit.New(o)
	s.Echo().GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	eps, err := s.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if len(eps) != 1 || eps[0].Name != "https" || !strings.HasPrefix(eps[0].URL, "https://") {
		t.Fatalf("endpoints %v", eps)
	}
	addr := strings.TrimPrefix(eps[0].URL, "https://")
	served := func() []byte {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	onDisk := func() []byte {
		b, err := os.ReadFile(certFile)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		return blk.Bytes
	}
	first := onDisk()
	if !bytes.Equal(served(), first) {
		t.Fatal("the first handshake does not serve the certificate file")
	}

	// Renew: a new pair written beside, then moved over the served files.
	newCert, newKey, _ := testcert.Write(t, t.TempDir())
	for _, mv := range [][2]string{{newKey, keyFile}, {newCert, certFile}} {
		b, err := os.ReadFile(mv[0])
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "new")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, mv[1]); err != nil {
			t.Fatal(err)
		}
	}
	second := onDisk()
	if bytes.Equal(first, second) {
		t.Fatal("testcert wrote the same certificate twice")
	}
	if got := served(); !bytes.Equal(got, second) {
		t.Error("after the files were replaced, a new handshake still sees the old certificate")
	}

	// A broken renewal keeps the certificate served so far.
	if err := os.WriteFile(keyFile, []byte("half a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := served(); !bytes.Equal(got, second) {
		t.Error("a broken key file replaced the certificate served")
	}
}
