package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/screenrec/recorder/frontends/httpkit"
)

// The web console (static/): plain HTML, CSS and JavaScript, embedded, no build step. The
// page itself is public and shows only a login form; everything it shows comes from the
// token-protected API. Logging in POSTs the token to PathLogin, which answers with an
// HttpOnly, SameSite=Strict cookie naming a console session kept in memory: the token is
// never stored in the browser, and the page's <img> and <video> elements (which cannot send
// an Authorization header) load thumbnails and segments with the cookie.
const (
	PathConsole    = "/console/"
	PathLogin      = "/console/login"
	PathLogout     = "/console/logout"
	PathThumbnail  = "/api/v1/sessions/:id/thumbnail"
	PathSegment    = "/api/v1/recordings/:id/segments/:index"
	PathRetry      = "/api/v1/uploads/:id/retry"
	PathStats      = "/api/v1/stats"
	CookieName     = "recorder_console"
	ConsoleSession = 12 * time.Hour // how long a console login lasts

	// DefaultThumbnailWidth is a thumbnail's width when the request names none, and
	// MaxThumbnailWidth the largest accepted.
	DefaultThumbnailWidth = 320
	MaxThumbnailWidth     = 1920
)

// ContentSecurityPolicy is sent with every answer: the console loads nothing but its own
// files and the API's answers; no inline script or style, no frames.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed static
var staticFiles embed.FS

// consoleSessions are the console's logins: cookie value's hash → expiry.
type consoleSessions struct {
	mu   sync.Mutex
	live map[[32]byte]time.Time
}

func (cs *consoleSessions) add() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	v := hex.EncodeToString(b[:])
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.live == nil {
		cs.live = map[[32]byte]time.Time{}
	}
	now := time.Now()
	for k, exp := range cs.live {
		if now.After(exp) {
			delete(cs.live, k)
		}
	}
	cs.live[sha256.Sum256([]byte(v))] = now.Add(ConsoleSession)
	return v, nil
}

func (cs *consoleSessions) valid(v string) bool {
	if v == "" {
		return false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	exp, ok := cs.live[sha256.Sum256([]byte(v))]
	return ok && time.Now().Before(exp)
}

func (cs *consoleSessions) remove(v string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.live, sha256.Sum256([]byte(v)))
}

// consoleRoutes adds the console's page, its login and the API operations it needs.
func (s *Server) consoleRoutes(e *echo.Echo) {
	static, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/console", http.FileServer(http.FS(static)))
	page := func(ec echo.Context) error {
		files.ServeHTTP(ec.Response(), ec.Request())
		return nil
	}
	e.GET("/", func(ec echo.Context) error { return ec.Redirect(http.StatusSeeOther, PathConsole) })
	e.GET("/console", func(ec echo.Context) error { return ec.Redirect(http.StatusSeeOther, PathConsole) })
	e.GET(PathConsole+"*", page)
	e.POST(PathLogin, s.login)
	e.POST(PathLogout, s.logout)

	auth := s.requireToken
	e.GET(PathThumbnail, s.thumbnail, auth)
	e.GET(PathSegment, s.segment, auth)
	e.HEAD(PathSegment, s.segment, auth)
	e.POST(PathRetry, s.retryUpload, auth)
	e.GET(PathStats, s.stats, auth)
}

// consoleCookie reports whether the request carries a live console session and, for a
// request that changes something, comes from the console's own origin.
func (s *Server) consoleCookie(r *http.Request) bool {
	c, err := r.Cookie(CookieName)
	if err != nil || !s.console.valid(c.Value) {
		return false
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	// SameSite=Strict already keeps the cookie off other sites' requests; the origin check
	// is a second lock on the doors that change things.
	origin := r.Header.Get("Origin")
	if origin == "" {
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// login takes the token (form field or JSON-less body "token=…") and sets the session cookie.
func (s *Server) login(ec echo.Context) error {
	r := ec.Request()
	if err := r.ParseForm(); err != nil {
		return badRequest("want a form with the admin token in field \"token\": %v", err)
	}
	tok := r.PostForm.Get("token")
	want := sha256.Sum256([]byte(s.cfg.Token))
	got := sha256.Sum256([]byte(tok))
	if tok == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		s.log.Warn("admin console: wrong token", "remote", r.RemoteAddr)
		return unauthorized("invalid_token", "wrong admin token")
	}
	v, err := s.console.add()
	if err != nil {
		return internal("console session: %v", err)
	}
	http.SetCookie(ec.Response(), &http.Cookie{Name: CookieName, Value: v, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(ConsoleSession.Seconds())})
	s.log.Info("admin console: login", "remote", r.RemoteAddr)
	return ec.NoContent(http.StatusNoContent)
}

func (s *Server) logout(ec echo.Context) error {
	if c, err := ec.Request().Cookie(CookieName); err == nil {
		s.console.remove(c.Value)
	}
	http.SetCookie(ec.Response(), &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	return ec.NoContent(http.StatusNoContent)
}

// intParam parses a query parameter in [lo, hi], def when absent.
func intParam(ec echo.Context, name string, def, lo, hi int) (int, *httpkit.Error) {
	v := ec.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s %q: want a whole number from %d to %d", name, httpkit.Clip(v), lo, hi)
	}
	return n, nil
}

// thumbnail answers a JPEG of a running session's track (?track=, from 0; ?width=).
func (s *Server) thumbnail(ec echo.Context) error {
	id, herr := sessionID(ec)
	if herr != nil {
		return herr
	}
	track, herr := intParam(ec, "track", 0, 0, 63)
	if herr != nil {
		return herr
	}
	width, herr := intParam(ec, "width", DefaultThumbnailWidth, 16, MaxThumbnailWidth)
	if herr != nil {
		return herr
	}
	img, err := s.deps.Engine.Thumbnail(ec.Request().Context(), id, track, width)
	if err != nil {
		return engineError("thumbnail", err)
	}
	return ec.Blob(http.StatusOK, "image/jpeg", img)
}

// segment serves a recording's segment file, with Range requests (http.ServeContent): the
// browser plays and seeks the fragmented MP4 directly. Only files the catalog lists for the
// recording are served.
func (s *Server) segment(ec echo.Context) error {
	id, herr := sessionID(ec)
	if herr != nil {
		return herr
	}
	idx, err := strconv.Atoi(ec.Param("index"))
	if err != nil || idx < 1 {
		return notFound("no segment %q: segments are numbered from 1", httpkit.Clip(ec.Param("index")))
	}
	sess, err := s.deps.Engine.Get(ec.Request().Context(), id)
	if err != nil {
		return engineError("get", err)
	}
	var path string
	for _, sg := range sess.Segments {
		if sg.Index == idx {
			path = sg.Path
		}
	}
	if path == "" {
		return notFound("recording %s has no segment %d", id, idx)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return notFound("segment %d of %s is no longer on disk (uploaded and removed?)", idx, id)
	}
	if err != nil {
		return internal("segment %d of %s: %v", idx, id, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return internal("segment %d of %s: %v", idx, id, err)
	}
	w := ec.Response()
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Content-Disposition", "inline; filename="+strconv.Quote(filepath.Base(path)))
	// A segment still being written grows: let the browser ask again rather than cache.
	http.ServeContent(w, ec.Request(), filepath.Base(path), fi.ModTime(), f)
	return nil
}

// retryUpload requeues a failed upload job.
func (s *Server) retryUpload(ec echo.Context) error {
	id, err := strconv.ParseInt(ec.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return notFound("no upload job %q: job ids are whole numbers from 1", httpkit.Clip(ec.Param("id")))
	}
	job, err := s.deps.Engine.RetryUpload(ec.Request().Context(), id)
	if err != nil {
		return engineError("retry upload", err)
	}
	s.log.Info("admin API: upload requeued", "job", id, "remote", ec.Request().RemoteAddr)
	return httpkit.WriteJSON(ec, http.StatusOK, toUpload(job))
}

// stats answers the engine's counters and the process's CPU time, for the console's chart.
func (s *Server) stats(ec echo.Context) error {
	c, err := s.deps.Engine.Counters(ec.Request().Context())
	if err != nil {
		return engineError("counters", err)
	}
	return httpkit.WriteJSON(ec, http.StatusOK, Stats{At: c.At, Frames: c.Frames, Unchanged: c.Unchanged,
		Dropped: c.Dropped, Bytes: c.Bytes, Sessions: c.Sessions, CPUSeconds: cpuSeconds()})
}

// cpuSeconds is the CPU time (user and system) the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// Stats is the answer of GET /api/v1/stats: running totals, so two reads give rates.
type Stats struct {
	At         time.Time `json:"at"`
	Frames     int64     `json:"frames"`
	Unchanged  int64     `json:"unchanged"`
	Dropped    int64     `json:"dropped"`
	Bytes      int64     `json:"bytes"`
	Sessions   int       `json:"sessions"`
	CPUSeconds float64   `json:"cpu_seconds"`
}
