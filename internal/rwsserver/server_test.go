package rwsserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testUser = "agent"
	testPass = "s3cret"
)

func start(t *testing.T, dir string) *Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Start(context.Background(), Config{Dir: dir, Users: map[string]string{testUser: testPass}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// call sends a request with the test user's credentials (unless auth is false) and returns
// the response with its body read.
func call(t *testing.T, method, url string, h map[string]string, body []byte, auth bool) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(testUser, testPass)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func checksum(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256 " + base64.StdEncoding.EncodeToString(s[:])
}

func create(t *testing.T, s *Server, size int, sum string) string {
	t.Helper()
	h := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(size),
		"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("seg.mp4")) +
			",sha256 " + base64.StdEncoding.EncodeToString([]byte(sum))}
	resp, body := call(t, http.MethodPost, s.URL()+BasePath, h, nil, true)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST = %d %s, want 201", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, s.URL()+BasePath) {
		t.Fatalf("Location %q is not under %s", loc, s.URL()+BasePath)
	}
	return loc
}

func patch(t *testing.T, loc string, off int, chunk []byte, sum string) (*http.Response, string) {
	t.Helper()
	h := map[string]string{"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream",
		"Upload-Offset": strconv.Itoa(off)}
	if sum != "" {
		h["Upload-Checksum"] = sum
	}
	return call(t, http.MethodPatch, loc, h, chunk, true)
}

func offset(t *testing.T, loc string) int {
	t.Helper()
	resp, _ := call(t, http.MethodHead, loc, map[string]string{"Tus-Resumable": "1.0.0"}, nil, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD = %d, want 200", resp.StatusCode)
	}
	n, err := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	if err != nil {
		t.Fatalf("HEAD Upload-Offset %q", resp.Header.Get("Upload-Offset"))
	}
	return n
}

func data(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestHappyUpload(t *testing.T) {
	s := start(t, "")
	file := data(300_000)
	loc := create(t, s, len(file), hexSum(file))
	if got := offset(t, loc); got != 0 {
		t.Fatalf("offset of a new upload = %d", got)
	}
	for off := 0; off < len(file); off += 128 << 10 {
		chunk := file[off:min(off+128<<10, len(file))]
		resp, body := patch(t, loc, off, chunk, checksum(chunk))
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH at %d = %d %s", off, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Upload-Offset"); got != strconv.Itoa(off+len(chunk)) {
			t.Fatalf("PATCH at %d: Upload-Offset %s", off, got)
		}
	}
	if got := offset(t, loc); got != len(file) {
		t.Fatalf("offset = %d, want %d", got, len(file))
	}
	ups := s.Uploads()
	if len(ups) != 1 {
		t.Fatalf("Uploads = %+v, want one", ups)
	}
	u := ups[0]
	if !u.Complete || u.Rejected || u.SHA256 != hexSum(file) || u.Size != int64(len(file)) || u.Metadata["filename"] != "seg.mp4" ||
		!strings.HasSuffix(loc, "/"+u.ID) {
		t.Errorf("upload = %+v", u)
	}
	// GET /_test/uploads says the same.
	_, body := call(t, http.MethodGet, s.URL()+"/_test/uploads", nil, nil, true)
	var listed []Upload
	if err := json.Unmarshal([]byte(body), &listed); err != nil || len(listed) != 1 || listed[0].SHA256 != u.SHA256 {
		t.Errorf("GET /_test/uploads = %s (%v)", body, err)
	}
	st := s.Stats()
	if st.ChunkBytes != int64(len(file)) || st.ChunkRequests != 3 || st.ChecksumMismatches != 0 {
		t.Errorf("stats = %+v", st)
	}
	// Termination.
	resp, _ := call(t, http.MethodDelete, loc, map[string]string{"Tus-Resumable": "1.0.0"}, nil, true)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE = %d", resp.StatusCode)
	}
	resp, _ = call(t, http.MethodHead, loc, map[string]string{"Tus-Resumable": "1.0.0"}, nil, true)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD after DELETE = %d, want 404", resp.StatusCode)
	}
}

func TestOptionsAdvertisesChecksum(t *testing.T) {
	s := start(t, "")
	for _, method := range []string{http.MethodOptions, http.MethodHead} {
		url := s.URL() + BasePath
		if method == http.MethodHead {
			url = create(t, s, 1, hexSum([]byte{1}))
		}
		resp, _ := call(t, method, url, nil, nil, true)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s = %d", method, resp.StatusCode)
		}
		ext := resp.Header.Get("Tus-Extension")
		for _, want := range []string{"creation", "termination", "checksum"} {
			if !strings.Contains(ext, want) {
				t.Errorf("%s Tus-Extension = %q, want %s", method, ext, want)
			}
		}
		if strings.Contains(ext, "concatenation") {
			t.Errorf("%s Tus-Extension = %q advertises concatenation", method, ext)
		}
		if got := resp.Header.Get("Tus-Checksum-Algorithm"); got != "sha256" {
			t.Errorf("%s Tus-Checksum-Algorithm = %q", method, got)
		}
	}
}

func TestAuth(t *testing.T) {
	s := start(t, "")
	resp, body := call(t, http.MethodGet, s.URL()+MePath, nil, nil, true)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != `{"user":"agent"}` {
		t.Errorf("GET /api/v2/me = %d %s", resp.StatusCode, body)
	}
	wrong := func(req *http.Request) { req.SetBasicAuth(testUser, "nope") }
	nobody := func(*http.Request) {}
	stranger := func(req *http.Request) { req.SetBasicAuth("stranger", testPass) }
	for _, tc := range []struct {
		method, path string
	}{
		{http.MethodGet, MePath},
		{http.MethodPost, BasePath},
		{http.MethodOptions, BasePath},
		{http.MethodHead, BasePath + "abc"},
		{http.MethodPatch, BasePath + "abc"},
		{http.MethodGet, "/_test/uploads"},
		{http.MethodPost, "/_test/faults"},
		{http.MethodGet, "/elsewhere"},
	} {
		for i, set := range []func(*http.Request){wrong, nobody, stranger} {
			req, _ := http.NewRequest(tc.method, s.URL()+tc.path, strings.NewReader(`{"status":503}`))
			req.Header.Set("Tus-Resumable", "1.0.0")
			set(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s %s (credentials %d) = %d, WWW-Authenticate %q; want 401 with a Basic challenge",
					tc.method, tc.path, i, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	if f := s.Faults(); f != (Faults{}) {
		t.Errorf("an unauthenticated request set faults: %+v", f)
	}
}

func TestChecksumMismatch(t *testing.T) {
	s := start(t, "")
	file := data(1000)
	loc := create(t, s, len(file), hexSum(file))
	resp, _ := patch(t, loc, 0, file[:500], checksum(file[:500]))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH = %d", resp.StatusCode)
	}
	resp, body := patch(t, loc, 500, file[500:], checksum(file[:500]))
	if resp.StatusCode != StatusChecksumMismatch || !strings.Contains(body, "CHECKSUM") {
		t.Fatalf("PATCH with a wrong checksum = %d %s, want 460", resp.StatusCode, body)
	}
	if got := offset(t, loc); got != 500 {
		t.Fatalf("offset after a 460 = %d, want 500 (unchanged)", got)
	}
	for _, bad := range []string{"md5 " + base64.StdEncoding.EncodeToString(make([]byte, 16)), "sha256 !!!", "sha256"} {
		if resp, body := patch(t, loc, 500, file[500:], bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PATCH with Upload-Checksum %q = %d %s, want 400", bad, resp.StatusCode, body)
		}
	}
	resp, _ = patch(t, loc, 500, file[500:], checksum(file[500:]))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH = %d", resp.StatusCode)
	}
	if st := s.Stats(); st.ChecksumMismatches != 1 {
		t.Errorf("stats = %+v, want 1 checksum mismatch", st)
	}
	if u := s.Uploads()[0]; !u.Complete || u.SHA256 != hexSum(file) {
		t.Errorf("upload = %+v", u)
	}
}

func TestChunkTooLarge(t *testing.T) {
	s := start(t, "")
	loc := create(t, s, 100<<20, hexSum(nil))
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := strings.TrimPrefix(loc, s.URL())
	auth := base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPass))
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nUpload-Checksum: %s\r\nContent-Length: %d\r\n\r\n",
		path, auth, checksum(nil), MaxChunkBytes+1)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("PATCH of %d bytes = %d, want 413", MaxChunkBytes+1, resp.StatusCode)
	}
}

func TestWholeFileMismatch(t *testing.T) {
	s := start(t, "")
	file := data(1000)
	loc := create(t, s, len(file), hexSum([]byte("something else")))
	resp, _ := patch(t, loc, 0, file[:600], checksum(file[:600]))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH = %d", resp.StatusCode)
	}
	resp, body := patch(t, loc, 600, file[600:], checksum(file[600:]))
	if resp.StatusCode != StatusRejected || !strings.Contains(body, "sha256") {
		t.Fatalf("last PATCH of a file whose sha256 does not match = %d %s, want %d", resp.StatusCode, body, StatusRejected)
	}
	u := s.Uploads()[0]
	if u.Complete || !u.Rejected || u.Offset != int64(len(file)) {
		t.Errorf("upload = %+v, want rejected, not complete", u)
	}
	resp, _ = call(t, http.MethodHead, loc, map[string]string{"Tus-Resumable": "1.0.0"}, nil, true)
	if resp.StatusCode != http.StatusGone {
		t.Errorf("HEAD on a rejected upload = %d, want 410", resp.StatusCode)
	}
	if st := s.Stats(); st.Rejected != 1 {
		t.Errorf("stats = %+v", st)
	}
	// A malformed sha256 is refused at creation.
	h := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1",
		"Upload-Metadata": "sha256 " + base64.StdEncoding.EncodeToString([]byte("xyz"))}
	if resp, body := call(t, http.MethodPost, s.URL()+BasePath, h, nil, true); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST with a bad sha256 = %d %s, want 400", resp.StatusCode, body)
	}
}

func setFaults(t *testing.T, s *Server, body string) (int, string) {
	t.Helper()
	resp, out := call(t, http.MethodPost, s.URL()+"/_test/faults", map[string]string{"Content-Type": "application/json"}, []byte(body), true)
	return resp.StatusCode, out
}

func TestFaults(t *testing.T) {
	s := start(t, "")
	file := data(4000)
	loc := create(t, s, len(file), hexSum(file))

	// status
	if code, body := setFaults(t, s, `{"status":503}`); code != http.StatusOK || !strings.Contains(body, `"status":503`) {
		t.Fatalf("POST /_test/faults = %d %s", code, body)
	}
	if resp, body := patch(t, loc, 0, file[:1000], checksum(file[:1000])); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("PATCH under status 503 = %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, http.MethodGet, s.URL()+MePath, nil, nil, true); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v2/me under a tus fault = %d, want 200", resp.StatusCode)
	}
	_, body := call(t, http.MethodGet, s.URL()+"/_test/faults", nil, nil, true)
	if !strings.Contains(body, `"status":503`) {
		t.Errorf("GET /_test/faults = %s", body)
	}

	// delay
	if code, body := setFaults(t, s, `{"delay_ms":150}`); code != http.StatusOK {
		t.Fatalf("POST /_test/faults = %d %s", code, body)
	}
	t0 := time.Now()
	if got := offset(t, loc); got != 0 {
		t.Fatalf("offset = %d", got)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("HEAD under delay_ms 150 took %v", d)
	}

	// corrupt_next_chunks: one chunk refused, the next passes.
	setFaults(t, s, `{"corrupt_next_chunks":1}`)
	if resp, _ := patch(t, loc, 0, file[:1000], checksum(file[:1000])); resp.StatusCode != StatusChecksumMismatch {
		t.Errorf("corrupted PATCH = %d, want 460", resp.StatusCode)
	}
	if resp, _ := patch(t, loc, 0, file[:1000], checksum(file[:1000])); resp.StatusCode != http.StatusNoContent {
		t.Errorf("PATCH after the corrupted one = %d, want 204", resp.StatusCode)
	}
	if f := s.Faults(); f.CorruptNextChunks != 0 {
		t.Errorf("faults = %+v, want the corruption used up", f)
	}

	// drop_after_bytes: with a checksum, nothing of the interrupted chunk is kept.
	setFaults(t, s, `{"drop_after_bytes":1500}`)
	if resp, _ := patch(t, loc, 1000, file[1000:2000], checksum(file[1000:2000])); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH within the drop budget = %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPatch, loc, bytes.NewReader(file[2000:3000]))
	req.SetBasicAuth(testUser, testPass)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "2000")
	req.Header.Set("Upload-Checksum", checksum(file[2000:3000]))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("PATCH beyond drop_after_bytes = %d, want a dropped connection", resp.StatusCode)
	}
	if got := offset(t, loc); got != 2000 {
		t.Errorf("offset after a dropped checksummed chunk = %d, want 2000", got)
	}
	// Without a checksum, the bytes that arrived are kept.
	setFaults(t, s, `{"drop_after_bytes":300}`)
	req, _ = http.NewRequest(http.MethodPatch, loc, bytes.NewReader(file[2000:3000]))
	req.SetBasicAuth(testUser, testPass)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "2000")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("PATCH beyond drop_after_bytes = %d, want a dropped connection", resp.StatusCode)
	}
	if got := offset(t, loc); got != 2300 {
		t.Errorf("offset after a dropped unchecked chunk = %d, want 2300", got)
	}
	if f := s.Faults(); f != (Faults{}) {
		t.Errorf("faults = %+v, want all off", f)
	}
	if resp, _ := patch(t, loc, 2300, file[2300:], checksum(file[2300:])); resp.StatusCode != http.StatusNoContent {
		t.Errorf("PATCH = %d", resp.StatusCode)
	}
	if u := s.Uploads()[0]; !u.Complete || u.SHA256 != hexSum(file) {
		t.Errorf("upload = %+v", u)
	}

	// Bad fault settings.
	for _, bad := range []string{`{"status":42}`, `{"delay_ms":-1}`, `{"statuss":503}`, `[]`} {
		if code, body := setFaults(t, s, bad); code != http.StatusBadRequest {
			t.Errorf("POST /_test/faults %s = %d %s, want 400", bad, code, body)
		}
	}
}

func TestRestartKeepsUploads(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	file := data(2000)
	loc := create(t, s, len(file), hexSum(file))
	if resp, _ := patch(t, loc, 0, file[:1200], checksum(file[:1200])); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH = %d", resp.StatusCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := start(t, dir)
	loc2 := s2.URL() + strings.TrimPrefix(loc, s.URL())
	if got := offset(t, loc2); got != 1200 {
		t.Fatalf("offset after a restart = %d, want 1200", got)
	}
	if resp, _ := patch(t, loc2, 1200, file[1200:], checksum(file[1200:])); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH = %d", resp.StatusCode)
	}
	if u := s2.Uploads()[0]; !u.Complete || u.SHA256 != hexSum(file) {
		t.Errorf("upload = %+v", u)
	}
}

func TestStartBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Config{}); err == nil {
		t.Error("Start without Dir succeeded")
	}
	if _, err := Start(ctx, Config{Dir: t.TempDir(), Users: map[string]string{"a:b": "c"}}); err == nil {
		t.Error("Start with a user name holding ':' succeeded")
	}
	if _, err := Start(ctx, Config{Dir: t.TempDir(), Listen: "nonsense"}); err == nil {
		t.Error("Start with a bad listen address succeeded")
	}
}

func head(t *testing.T, loc string) (int, string) {
	t.Helper()
	resp, _ := call(t, http.MethodHead, loc, map[string]string{"Tus-Resumable": "1.0.0"}, nil, true)
	return resp.StatusCode, resp.Header.Get("Upload-Offset")
}

// An upload whose bytes are all stored but that was never checked (the process died between
// the two) is checked at the next HEAD: the whole length is reported only for an accepted
// file, 410 for one that does not match.
func TestPendingUploadCheckedAtHead(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	file := data(1000)
	good := create(t, s, len(file), hexSum(file))
	bad := create(t, s, len(file), hexSum(file))
	for _, loc := range []string{good, bad} {
		if resp, body := patch(t, loc, 0, file, checksum(file)); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH = %d %s", resp.StatusCode, body)
		}
	}
	// As if the check had not run: no marks; the bad one's stored copy damaged.
	badID := bad[strings.LastIndex(bad, "/")+1:]
	for _, loc := range []string{good, bad} {
		id := loc[strings.LastIndex(loc, "/")+1:]
		if err := os.Remove(filepath.Join(dir, id+".verified")); err != nil {
			t.Fatal(err)
		}
	}
	damaged := append([]byte(nil), file...)
	damaged[10] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, badID), damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, off := head(t, good); code != http.StatusOK || off != "1000" {
		t.Errorf("HEAD of the good unchecked upload = %d offset %s, want 200 with 1000", code, off)
	}
	if code, _ := head(t, bad); code != http.StatusGone {
		t.Errorf("HEAD of the damaged unchecked upload = %d, want 410", code)
	}
	for _, u := range s.Uploads() {
		if (u.ID == badID) != u.Rejected || (u.ID == badID) == u.Complete {
			t.Errorf("upload %+v", u)
		}
	}
}

// lose_next_answers stores the chunk and never answers; refuse_next_files refuses a good file
// (460); hide_rejections then answers HEAD as if it were whole.
func TestAnswerAndFileFaults(t *testing.T) {
	s := start(t, "")
	file := data(1000)
	loc := create(t, s, len(file), hexSum(file))
	if err := s.SetFaults(Faults{LoseNextAnswers: 1}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 300 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPatch, loc, bytes.NewReader(file[:400]))
	req.SetBasicAuth(testUser, testPass)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Upload-Checksum", checksum(file[:400]))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("PATCH with its answer lost was answered %d", resp.StatusCode)
	}
	if code, off := head(t, loc); code != http.StatusOK || off != "400" {
		t.Errorf("HEAD after the lost answer = %d offset %s, want the chunk stored (400)", code, off)
	}
	if err := s.SetFaults(Faults{RefuseNextFiles: 1, HideRejections: true}); err != nil {
		t.Fatal(err)
	}
	resp, body := patch(t, loc, 400, file[400:], checksum(file[400:]))
	if resp.StatusCode != StatusRejected || !strings.Contains(body, "ERR_SHA256_MISMATCH") {
		t.Errorf("last PATCH of a refused file = %d %s, want 460 ERR_SHA256_MISMATCH", resp.StatusCode, body)
	}
	if code, off := head(t, loc); code != http.StatusOK || off != "1000" {
		t.Errorf("HEAD with hide_rejections = %d offset %s, want 200 with the whole length", code, off)
	}
	if err := s.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	if code, _ := head(t, loc); code != http.StatusGone {
		t.Errorf("HEAD of a refused upload = %d, want 410", code)
	}
	if st := s.Stats(); st.LostAnswers != 1 || st.Rejected != 1 || st.Creates != 1 {
		t.Errorf("stats = %+v", st)
	}
}
