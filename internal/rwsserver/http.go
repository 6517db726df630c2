package rwsserver

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// routes is the server's handler: tus requests go through faults, authentication, the
// rejected-upload check and the checksum check to tusd; everything else is authenticated
// and routed.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+MePath, s.handleMe)
	mux.HandleFunc("GET "+TestPath+"faults", s.handleGetFaults)
	mux.HandleFunc("POST "+TestPath+"faults", s.handleSetFaults)
	mux.HandleFunc("GET "+TestPath+"uploads", s.handleUploads)
	mux.HandleFunc("GET "+TestPath+"stats", s.handleStats)
	tus := http.StripPrefix(strings.TrimSuffix(BasePath, "/"), s.tus)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, BasePath) {
			s.serveTus(w, r, tus)
			return
		}
		if _, ok := s.authenticate(w, r); !ok {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authenticate checks the request's Basic credentials, answering 401 when they are missing
// or wrong.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if user, pw, ok := r.BasicAuth(); ok {
		if want, known := s.users[user]; known && subtle.ConstantTimeCompare([]byte(pw), []byte(want)) == 1 {
			return user, true
		}
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="rws", charset="UTF-8"`)
	plain(w, http.StatusUnauthorized, "invalid or missing credentials")
	return "", false
}

// plain answers with a status and a one-line text body.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	user, _, _ := r.BasicAuth()
	writeJSON(w, map[string]string{"user": user})
}

func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.faults.get())
}

func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	var f Faults
	if err := dec.Decode(&f); err != nil {
		plain(w, http.StatusBadRequest, "faults: "+err.Error())
		return
	}
	if err := s.SetFaults(f); err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, s.faults.get())
}

func (s *Server) handleUploads(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.Uploads())
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.Stats())
}

// serveTus handles a request under BasePath.
func (s *Server) serveTus(w http.ResponseWriter, r *http.Request, tus http.Handler) {
	s.stats.requests.Add(1)
	w.Header().Set("Tus-Resumable", "1.0.0")
	f := s.faults.get()
	if f.DelayMS > 0 {
		t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f.Status != 0 {
		s.log.Info("fault: answering with a status", "method", r.Method, "path", r.URL.Path, "status", f.Status)
		plain(w, f.Status, fmt.Sprintf("injected fault: %d %s", f.Status, http.StatusText(f.Status)))
		return
	}
	if _, ok := s.authenticate(w, r); !ok {
		return
	}
	id := strings.Trim(strings.TrimPrefix(r.URL.Path, BasePath), "/")
	if r.Method == http.MethodHead || r.Method == http.MethodPatch {
		s.checkPending(id)
	}
	if (r.Method == http.MethodHead || r.Method == http.MethodPatch) && s.isRejected(id) && !f.HideRejections {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusGone)
			return
		}
		plain(w, http.StatusGone, "ERR_UPLOAD_REJECTED: the upload was rejected by the whole-file check; start a new one")
		return
	}
	switch {
	case r.Method == http.MethodPatch,
		r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/offset+octet-stream":
		s.receiveChunk(w, r, tus)
	case r.Method == http.MethodOptions || r.Method == http.MethodHead:
		tus.ServeHTTP(&extWriter{ResponseWriter: w, ext: s.ext}, r)
	case r.Method == http.MethodDelete:
		sw := &statusWriter{ResponseWriter: w}
		tus.ServeHTTP(sw, r)
		if sw.code == http.StatusNoContent {
			s.stats.terminated.Add(1)
		}
		if _, err := os.Stat(filepath.Join(s.dir, id+".info")); errors.Is(err, os.ErrNotExist) {
			for _, mark := range []string{".rejected", ".verified"} {
				if p := s.markPath(id, mark); p != "" {
					_ = os.Remove(p)
				}
			}
		}
	default:
		tus.ServeHTTP(w, r)
	}
}

// receiveChunk handles a request carrying upload data: it applies the corrupt and drop
// faults and the checksum extension, then passes the chunk on to tusd.
func (s *Server) receiveChunk(w http.ResponseWriter, r *http.Request, tus http.Handler) {
	s.stats.chunkRequests.Add(1)
	want, hasSum, err := parseChecksum(r.Header.Get("Upload-Checksum"))
	if err != nil {
		plain(w, http.StatusBadRequest, "ERR_INVALID_CHECKSUM: "+err.Error())
		return
	}
	f := s.faults.get()
	if !hasSum && f.DropAfterBytes == 0 && f.CorruptNextChunks == 0 && f.LoseNextAnswers == 0 {
		// Nothing to check: stream it to tusd.
		r.Body = struct {
			io.Reader
			io.Closer
		}{&countingReader{r: r.Body, add: func(n int) { s.stats.chunkBytes.Add(int64(n)) }}, r.Body}
		tus.ServeHTTP(w, r)
		return
	}
	if r.ContentLength > MaxChunkBytes {
		plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("ERR_CHUNK_TOO_LARGE: a chunk with Upload-Checksum may be at most %d bytes", MaxChunkBytes))
		return
	}
	body := &dropReader{r: r.Body, counted: func(n int) { s.stats.chunkBytes.Add(int64(n)) }, faults: &s.faults}
	if f.DropAfterBytes == 0 {
		body.faults = &faultState{} // no drop armed at the start: none mid-request
	}
	buf, err := io.ReadAll(io.LimitReader(body, MaxChunkBytes+1))
	switch {
	case errors.Is(err, errLinkDropped):
		s.stats.drops.Add(1)
		s.log.Info("fault: dropping the connection", "method", r.Method, "path", r.URL.Path, "received", len(buf))
		if !hasSum && r.Method == http.MethodPatch && len(buf) > 0 {
			// Without a checksum the server keeps what arrived, as tusd does; the answer
			// is never sent.
			r.Body = io.NopCloser(bytes.NewReader(buf))
			r.ContentLength = int64(len(buf))
			tus.ServeHTTP(&discardWriter{ResponseWriter: w, h: http.Header{}}, r)
		}
		abort(w)
		return
	case err != nil:
		s.stats.cutChunks.Add(1)
		plain(w, http.StatusBadRequest, "ERR_READ_BODY: "+err.Error())
		return
	case len(buf) > MaxChunkBytes:
		plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("ERR_CHUNK_TOO_LARGE: a chunk with Upload-Checksum may be at most %d bytes", MaxChunkBytes))
		return
	}
	if len(buf) > 0 && s.faults.takeCorrupt() {
		buf[len(buf)/2] ^= 0xff
		s.log.Info("fault: corrupted a chunk", "method", r.Method, "path", r.URL.Path, "at", len(buf)/2)
	}
	if hasSum {
		if got := sha256.Sum256(buf); subtle.ConstantTimeCompare(got[:], want) != 1 {
			s.stats.checksumMismatches.Add(1)
			s.log.Info("checksum mismatch", "method", r.Method, "path", r.URL.Path, "bytes", len(buf))
			plain(w, StatusChecksumMismatch, "ERR_CHECKSUM_MISMATCH: the chunk's sha256 does not match Upload-Checksum")
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.ContentLength = int64(len(buf))
	r.Header.Set("Content-Length", strconv.Itoa(len(buf)))
	if r.Method == http.MethodPatch && s.faults.takeLoseAnswer() {
		// Stored, but the answer never reaches the client: it is held until the client
		// gives up (or the server stops), then the connection is cut.
		tus.ServeHTTP(&discardWriter{ResponseWriter: w, h: http.Header{}}, r)
		s.stats.lostAnswers.Add(1)
		s.log.Info("fault: losing the answer", "method", r.Method, "path", r.URL.Path)
		<-r.Context().Done()
		abort(w)
		return
	}
	tus.ServeHTTP(w, r)
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets tusd's http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// parseChecksum parses an Upload-Checksum header, "sha256 <base64 digest>"; ok is false when
// it is absent.
func parseChecksum(h string) (sum []byte, ok bool, err error) {
	if h == "" {
		return nil, false, nil
	}
	algo, enc, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found {
		return nil, false, fmt.Errorf("Upload-Checksum %q: want \"sha256 <base64 digest>\"", h)
	}
	if algo != "sha256" {
		return nil, false, fmt.Errorf("Upload-Checksum algorithm %q is not supported (Tus-Checksum-Algorithm: sha256)", algo)
	}
	sum, err = base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil || len(sum) != sha256.Size {
		return nil, false, fmt.Errorf("Upload-Checksum %q: not a base64 sha256 digest", h)
	}
	return sum, true, nil
}

// abort closes the request's connection without an answer.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r   io.Reader
	add func(int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.add(n)
	return n, err
}

// extWriter adds the checksum extension to tusd's Tus-Extension, and
// Tus-Checksum-Algorithm, on OPTIONS and HEAD answers.
type extWriter struct {
	http.ResponseWriter
	ext   string
	wrote bool
}

func (e *extWriter) WriteHeader(code int) {
	if !e.wrote {
		e.wrote = true
		h := e.Header()
		h.Set("Tus-Extension", e.ext)
		h.Set("Tus-Checksum-Algorithm", "sha256")
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *extWriter) Write(p []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	return e.ResponseWriter.Write(p)
}

// Unwrap lets tusd's http.ResponseController reach the connection.
func (e *extWriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// discardWriter swallows an answer that is never to be sent.
type discardWriter struct {
	http.ResponseWriter
	h http.Header
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap lets tusd's http.ResponseController reach the connection.
func (d *discardWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
