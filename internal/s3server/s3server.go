// Package s3server runs a real S3-compatible server for tests: versitygw (Apache-2.0) with its
// POSIX backend, built from the version pinned in internal/tools/go.mod (apart from the
// recorder's go.mod) into a shared cache, started on a kernel-chosen loopback port over a
// temporary root, behind a small proxy on a stable address that counts the bytes sent to it
// and can damage or cut requests. The server can be killed and restarted over the same root
// (multipart uploads in progress survive, as on a real server); everything is stopped and
// removed on the test's cleanup.
package s3server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Credentials and region of every server started here.
const (
	AccessKey = "recorder-test"
	SecretKey = "recorder-test-secret-0123456789"
	Region    = "us-east-1"
	Bucket    = "recordings"
)

// ErrBuild: versitygw could not be built.
var ErrBuild = errors.New("s3server: build versitygw")

// Action is what the proxy does with one request.
type Action struct {
	// Corrupt flips one byte of the request's body in the middle.
	Corrupt bool
	// KillAfter kills the server after that many bytes of the body went through (the
	// request is cut); <= 0: not.
	KillAfter int64
	// Cut closes the client's connection without forwarding the request.
	Cut bool
}

// Server is a running versitygw behind the proxy.
type Server struct {
	// URL is the proxy's address, stable across Kill and Restart: give it to clients.
	URL string
	// Root is the POSIX backend's folder: one directory per bucket.
	Root string

	bin     string
	proxy   *http.Server
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	backend *url.URL
	fault   func(*http.Request) Action

	bodyBytes atomic.Int64
	requests  atomic.Int64
}

// Start builds (once, cached) and starts a server with the bucket Bucket over a temporary
// root. It is stopped on t's cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// New builds (once, cached) and starts a server with the bucket Bucket over root, for
// programs without a testing.T (benchmarks); Close stops it.
func New(root string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	s := &Server{bin: bin, Root: root}
	if err := s.startBackend(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Kill()
		return nil, err
	}
	s.proxy = &http.Server{Handler: http.HandlerFunc(s.serveProxy), ReadHeaderTimeout: time.Minute}
	go s.proxy.Serve(ln)
	s.URL = "http://" + ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Client().MakeBucket(ctx, Bucket, minio.MakeBucketOptions{Region: Region}); err != nil {
		s.Close()
		return nil, fmt.Errorf("s3server: make bucket: %w", err)
	}
	return s, nil
}

// Close stops the server and the proxy.
func (s *Server) Close() {
	s.Kill()
	if s.proxy != nil {
		s.proxy.Close()
	}
}

// Client is a minio-go client of the server (through the proxy), for checking what it holds.
func (s *Server) Client() *minio.Client {
	u, _ := url.Parse(s.URL)
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: Region})
	if err != nil {
		panic(err) // only a malformed endpoint fails, and URL is the proxy's own
	}
	return c
}

// SetFault sets what the proxy does with each request from now on; nil: forward as is.
func (s *Server) SetFault(f func(*http.Request) Action) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// BodyBytes is how many request body bytes the proxy received (what clients sent).
func (s *Server) BodyBytes() int64 { return s.bodyBytes.Load() }

// Requests is how many requests the proxy received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// StoredBytes adds up the sizes of the files under Root, versitygw's bookkeeping and
// multipart staging included: what the server stores.
func (s *Server) StoredBytes() int64 {
	var n int64
	filepath.Walk(s.Root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// Kill kills the server (SIGKILL) and waits for it to exit; the proxy stays and answers
// by cutting connections.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the server again over the same root (after Kill).
func (s *Server) Restart() error { return s.startBackend() }

// startBackend starts versitygw on a free loopback port and waits until it answers.
func (s *Server) startBackend() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(s.bin, "--access", AccessKey, "--secret", SecretKey, "--region", Region,
		"--port", addr, "--quiet", "posix", s.Root)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("s3server: start: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("s3server: versitygw exited: %s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("s3server: versitygw not listening on %s after 30s: %s", addr, stderr.String())
		}
	}
	s.mu.Lock()
	s.cmd, s.exited, s.backend = cmd, exited, &url.URL{Scheme: "http", Host: addr}
	s.mu.Unlock()
	return nil
}

// serveProxy forwards a request to the server, applying the fault.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	fault, backend := s.fault, s.backend
	s.mu.Unlock()
	var act Action
	if fault != nil {
		act = fault(r)
	}
	if act.Cut {
		panic(http.ErrAbortHandler)
	}
	r.Body = &body{r: r.Body, s: s, act: act, size: r.ContentLength}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backend)
			pr.Out.Host = pr.In.Host // signed: the host the client signed for
		},
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) {
			panic(http.ErrAbortHandler) // the server is gone: cut, as it would have
		},
	}
	rp.ServeHTTP(w, r)
}

// body counts, damages or cuts a request body on its way to the server.
type body struct {
	r    io.ReadCloser
	s    *Server
	act  Action
	size int64
	read int64
}

func (b *body) Read(p []byte) (int, error) {
	if b.act.KillAfter > 0 && b.read >= b.act.KillAfter {
		b.s.Kill()
		return 0, errors.New("s3server: killed mid-request")
	}
	if b.act.KillAfter > 0 && int64(len(p)) > b.act.KillAfter-b.read {
		p = p[:b.act.KillAfter-b.read]
	}
	n, err := b.r.Read(p)
	if b.act.Corrupt && b.size > 0 {
		mid := b.size / 2
		if mid >= b.read && mid < b.read+int64(n) {
			p[mid-b.read] ^= 0xff
		}
	}
	b.read += int64(n)
	b.s.bodyBytes.Add(int64(n))
	return n, err
}

func (b *body) Close() error { return b.r.Close() }

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns versitygw's path, building it into the shared test-binary cache when no
// build of the pinned version is there (the first build takes minutes).
func Binary() (string, error) {
	buildOnce.Do(func() { buildPath, buildErr = build() })
	return buildPath, buildErr
}

// toolsDir is internal/tools, the module that pins versitygw.
func toolsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "tools")
}

func build() (string, error) {
	dir := toolsDir()
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBuild, err)
		}
		h.Write(data)
	}
	fmt.Fprintln(h, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	cache := filepath.Join(os.TempDir(), "recorder-testbin-cache")
	out := filepath.Join(cache, "versitygw-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(out); err == nil {
		now := time.Now()
		_ = os.Chtimes(out, now, now)
		return out, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/versity/versitygw/cmd/versitygw")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("%w: %v: %s", ErrBuild, err, stderr.String())
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return out, nil
}
