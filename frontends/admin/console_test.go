package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/frontends/admin"
	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

// meanColor is the average colour of img.
func meanColor(img image.Image) color.RGBA {
	b := img.Bounds()
	var r, g, bl, n uint64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			r, g, bl, n = r+uint64(cr>>8), g+uint64(cg>>8), bl+uint64(cb>>8), n+1
		}
	}
	return color.RGBA{uint8(r / n), uint8(g / n), uint8(bl / n), 255}
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

// thumb fetches a thumbnail with the token; ok is false for a 409 (no frame yet).
func (f *fixture) thumb(id string, track int) (image.Image, bool) {
	f.t.Helper()
	r := f.get(fmt.Sprintf("/api/v1/sessions/%s/thumbnail?track=%d&width=160", id, track))
	if r.status == http.StatusConflict {
		return nil, false
	}
	want(f.t, r, http.StatusOK, "thumbnail")
	if ct := r.header.Get("Content-Type"); ct != "image/jpeg" {
		f.t.Fatalf("thumbnail Content-Type %q", ct)
	}
	img, err := jpeg.Decode(bytes.NewReader(r.raw))
	if err != nil {
		f.t.Fatalf("thumbnail is no JPEG: %v", err)
	}
	return img, true
}

// waitThumb polls track's thumbnail until its mean colour is near c.
func (f *fixture) waitThumb(id string, track int, c color.RGBA, what string) image.Image {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last color.RGBA
	for time.Now().Before(deadline) {
		if img, ok := f.thumb(id, track); ok {
			if last = meanColor(img); near(last, c, 24) {
				return img
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.t.Fatalf("%s: thumbnail of track %d stayed %v, want about %v", what, track, last, c)
	return nil
}

// TestConsoleThumbnail: a running session's thumbnails show each monitor as it is on screen
// (drawn with xscene, compared after decoding the JPEG), follow the screen when it changes,
// and show the mask colour, never the screen, while the session is masked.
func TestConsoleThumbnail(t *testing.T) {
	f := newFixture(t)
	p, err := xscene.Connect(f.display)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	mons := xvfb.TwoMonitors
	red, blue, green := color.RGBA{220, 30, 30, 255}, color.RGBA{30, 40, 220, 255}, color.RGBA{30, 200, 60, 255}
	if err := p.Fill(mons[0].Bounds(), red); err != nil {
		t.Fatal(err)
	}
	if err := p.Fill(mons[1].Bounds(), blue); err != nil {
		t.Fatal(err)
	}
	s, err := f.eng.Start(context.Background(), engine.StartRequest{Owner: "alice", Frontend: "test",
		Source: engine.Source{Display: f.display, Layout: engine.LayoutTracks}})
	if err != nil {
		t.Fatal(err)
	}
	img := f.waitThumb(s.ID, 0, red, "monitor 0")
	if w := img.Bounds().Dx(); w != 160 {
		t.Errorf("thumbnail width %d, want 160 (asked for)", w)
	}
	f.waitThumb(s.ID, 1, blue, "monitor 1")
	if err := p.Fill(mons[0].Bounds(), green); err != nil {
		t.Fatal(err)
	}
	f.waitThumb(s.ID, 0, green, "monitor 0 after it turned green")

	// Masked: black (the default mask colour), whatever the screen shows.
	want(t, f.post(admin.PathMask, `{"owner":"alice","on":true}`), http.StatusOK, "mask")
	f.waitThumb(s.ID, 0, color.RGBA{0, 0, 0, 255}, "masked monitor 0")
	if err := p.Fill(mons[0].Bounds(), red); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if img, ok := f.thumb(s.ID, 0); ok && !near(meanColor(img), color.RGBA{0, 0, 0, 255}, 24) {
			t.Fatalf("masked thumbnail shows %v, not the mask", meanColor(img))
		}
		time.Sleep(100 * time.Millisecond)
	}
	want(t, f.post(admin.PathMask, `{"owner":"alice","on":false}`), http.StatusOK, "unmask")
	f.waitThumb(s.ID, 0, red, "unmasked monitor 0")

	// No such track, bad width, no such session.
	want(t, f.get("/api/v1/sessions/"+s.ID+"/thumbnail?track=7"), http.StatusNotFound, "track 7")
	want(t, f.call(offContract, "GET", "/api/v1/sessions/"+s.ID+"/thumbnail?width=5", testToken, ""), http.StatusBadRequest, "width 5")
	want(t, f.get("/api/v1/sessions/nosuch/thumbnail"), http.StatusNotFound, "no session")
}

// TestConsoleSegmentRange: a finished recording's segment is served as video/mp4 with Range
// requests: a range gives 206 with exactly those bytes of the file, a range past the end 416.
func TestConsoleSegmentRange(t *testing.T) {
	f := newFixture(t)
	s := f.start("bob")
	time.Sleep(time.Second) // some frames
	want(t, f.post("/api/v1/sessions/"+s.ID+"/stop", ""), http.StatusOK, "stop")
	got, err := f.eng.Get(context.Background(), s.ID)
	if err != nil || len(got.Segments) == 0 {
		t.Fatalf("get: %v, %d segments", err, len(got.Segments))
	}
	file, err := os.ReadFile(got.Segments[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/recordings/" + s.ID + "/segments/1"
	get := func(rng string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", f.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("")
	if resp.StatusCode != 200 || !bytes.Equal(body, file) || resp.Header.Get("Content-Type") != "video/mp4" ||
		resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("whole file: %d %q, %d bytes of %d, Accept-Ranges %q", resp.StatusCode,
			resp.Header.Get("Content-Type"), len(body), len(file), resp.Header.Get("Accept-Ranges"))
	}
	mid := len(file) / 2
	resp, body = get(fmt.Sprintf("bytes=%d-%d", mid, mid+99))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, file[mid:mid+100]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", mid, mid+99, len(file)) {
		t.Fatalf("range: %d, Content-Range %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
	}
	resp, _ = get(fmt.Sprintf("bytes=%d-", len(file)+10))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d, want 416", resp.StatusCode)
	}
	want(t, f.get("/api/v1/recordings/"+s.ID+"/segments/9"), http.StatusNotFound, "segment 9")
}

// failingUploader fails every upload for good until fixed, then succeeds.
type failingUploader struct{ fixed atomic.Bool }

func (u *failingUploader) Upload(_ context.Context, req api.UploadRequest, _ func(api.Progress)) (api.UploadResult, error) {
	if !u.fixed.Load() {
		return api.UploadResult{}, fmt.Errorf("bucket full: %w", api.ErrPermanent)
	}
	return api.UploadResult{Location: "test://" + req.SegmentPath}, nil
}

// TestConsoleRetryUpload: a job that failed for good is queued again by POST …/retry and
// then uploaded; a job that has not failed is 409, an unknown one 404.
func TestConsoleRetryUpload(t *testing.T) {
	f := newFixture(t)
	up := &failingUploader{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.eng.RunUploads(ctx, up, engine.UploadConfig{BaseDelay: 10 * time.Millisecond}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("uploads: %v", err)
		}
	}()
	s := f.start("carol")
	time.Sleep(500 * time.Millisecond)
	want(t, f.post("/api/v1/sessions/"+s.ID+"/stop", ""), http.StatusOK, "stop")
	job := waitUpload(t, f, s.ID, "failed")
	want(t, f.post("/api/v1/uploads/999999/retry", ""), http.StatusNotFound, "unknown job")
	up.fixed.Store(true)
	r := f.post(fmt.Sprintf("/api/v1/uploads/%d/retry", job.ID), "")
	want(t, r, http.StatusOK, "retry")
	var got admin.Upload
	r.decode(t, &got)
	if got.State != "queued" && got.State != "running" && got.State != "uploaded" {
		t.Errorf("after retry: %s", got.State)
	}
	waitUpload(t, f, s.ID, "uploaded")
	r = f.post(fmt.Sprintf("/api/v1/uploads/%d/retry", job.ID), "")
	want(t, r, http.StatusConflict, "retry of an uploaded job")
}

func waitUpload(t *testing.T, f *fixture, rec, state string) admin.Upload {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last admin.Uploads
	for time.Now().Before(deadline) {
		r := f.get("/api/v1/uploads?recording_id=" + rec)
		want(t, r, http.StatusOK, "uploads")
		last = admin.Uploads{}
		r.decode(t, &last)
		if len(last.Uploads) > 0 && last.Uploads[0].State == state {
			return last.Uploads[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("upload of %s never became %s: %+v", rec, state, last)
	return admin.Upload{}
}

// TestConsoleAuth: without the token or a console login every console and API path is 401;
// the page itself is public (a login form) under a strict Content-Security-Policy; a login
// with the token gives an HttpOnly, SameSite=Strict cookie that then stands for the token,
// but not for a request that changes something from another origin.
func TestConsoleAuth(t *testing.T) {
	f := newFixture(t)
	s := f.start("dave")
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/sessions"}, {"GET", "/api/v1/sessions/" + s.ID + "/thumbnail"},
		{"GET", "/api/v1/recordings"}, {"GET", "/api/v1/recordings/" + s.ID},
		{"GET", "/api/v1/recordings/" + s.ID + "/segments/1"}, {"GET", "/api/v1/uploads"},
		{"POST", "/api/v1/uploads/1/retry"}, {"GET", "/api/v1/stats"},
		{"POST", "/api/v1/sessions/" + s.ID + "/stop"}, {"POST", "/api/v1/mask"},
	} {
		r := f.call(offContract, p.method, p.path, "", "")
		want(t, r, http.StatusUnauthorized, p.method+" "+p.path+" without token")
	}
	page := f.call(unrouted, "GET", "/console/", "", "")
	want(t, page, http.StatusOK, "console page")
	csp := page.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if !bytes.Contains(page.raw, []byte(`id="login-form"`)) || bytes.Contains(page.raw, []byte("<script>")) {
		t.Errorf("page: no login form, or an inline script:\n%s", page.raw)
	}

	login := func(tok string) *http.Response {
		req, _ := http.NewRequest("POST", f.base+admin.PathLogin, strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("wrong-token-0123456789"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp := login(testToken)
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Value == testToken {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not the token", c)
	}
	with := func(method, path, origin string) int {
		req, _ := http.NewRequest(method, f.base+path, nil)
		req.AddCookie(c)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req) // the contract knows the bearer token only
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := with("GET", "/api/v1/stats", ""); got != http.StatusOK {
		t.Fatalf("stats with the cookie: %d", got)
	}
	if got := with("POST", "/api/v1/sessions/"+s.ID+"/stop", "http://evil.example"); got != http.StatusUnauthorized {
		t.Fatalf("stop with the cookie from another origin: %d, want 401", got)
	}
	if got := with("POST", "/api/v1/sessions/"+s.ID+"/stop", f.base); got != http.StatusOK {
		t.Fatalf("stop with the cookie from the console: %d", got)
	}
	if got := with("POST", admin.PathLogout, f.base); got != http.StatusNoContent {
		t.Fatalf("logout: %d", got)
	}
	if got := with("GET", "/api/v1/stats", ""); got != http.StatusUnauthorized {
		t.Fatalf("stats after logout: %d, want 401", got)
	}
}
