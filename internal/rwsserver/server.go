// Package rwsserver is a real RWS upload server for tests and demos: tusd's own tus 1.0.0
// handler (github.com/tus/tusd/v2 pkg/handler with a pkg/filestore folder; core, creation,
// termination) at BasePath, behind what tusd does not do itself and the RWS protocol
// (docs/api/rws-upload.md) needs:
//
//   - Basic authentication of every request against the configured users (401 with
//     WWW-Authenticate otherwise), and GET /api/v2/me to check a login;
//   - the tus checksum extension (sha256): a PATCH carrying Upload-Checksum is buffered (at
//     most MaxChunkBytes, else 413), verified, and answered 460 Checksum Mismatch without
//     reaching tusd when it does not match, so the offset does not move;
//   - a whole-file check when an upload completes (tusd's PreFinishResponseCallback): the
//     sha256 of the stored file must equal the upload's sha256 metadata, else the upload is
//     refused (StatusRejected, 460) and marked rejected: HEAD and PATCH on it are then
//     answered 410 Gone, so a client terminates it and starts again. An accepted upload is
//     marked verified; one whose last byte is stored but that was never checked (the
//     process died in between) is checked at the next HEAD or PATCH, so that HEAD reports
//     the whole length only for an upload the check accepted;
//   - fault injection and inspection for tests under /_test/ (see Faults, Upload, Stats).
//
// Uploads live in Config.Dir as tusd's filestore keeps them (<id> and <id>.info, plus
// <id>.verified for an accepted one and <id>.rejected for a refused one), so a server
// restarted on the same folder resumes them.
//
// tusd v2.10.1 logs through golang.org/x/exp/slog, whose default logger writes to the
// standard library's log package: its request log goes there, not to Config.Logger.
package rwsserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
)

// Paths the server answers.
const (
	// BasePath is the root of the tus uploads: POST here creates one; <BasePath><id> is an
	// upload.
	BasePath = "/api/v2/screen-recordings/"
	// MePath answers GET with {"user": name} for valid credentials, 401 otherwise.
	MePath = "/api/v2/me"
	// TestPath is the root of the test-only endpoints: faults, uploads, stats.
	TestPath = "/_test/"
)

// Limits and statuses.
const (
	// DefaultListen is where Start listens when Config.Listen is empty: loopback, any port.
	DefaultListen = "127.0.0.1:0"
	// MaxChunkBytes is the largest PATCH body the checksum check buffers (64 MiB); larger
	// ones are answered 413.
	MaxChunkBytes = 64 << 20
	// StatusChecksumMismatch is the tus checksum extension's 460 Checksum Mismatch.
	StatusChecksumMismatch = 460
	// StatusRejected answers the PATCH that completes an upload whose stored bytes do not
	// match its sha256 metadata: 460 Checksum Mismatch, as for a chunk, with a body naming
	// ERR_SHA256_MISMATCH. The upload is then gone for good (410 on HEAD and PATCH): a
	// client starts a new one.
	StatusRejected = StatusChecksumMismatch
)

// Config configures a Server.
type Config struct {
	// Dir is the folder uploads are stored in (created if missing). Required.
	Dir string
	// Listen is the TCP address to listen on, host:port. Default DefaultListen.
	Listen string
	// Users are the accepted logins, user name to password.
	Users map[string]string
	// Logger receives the server's own log (faults fired, checks failed); nil: none.
	Logger *slog.Logger
}

// Upload is an upload the server holds, as GET /_test/uploads lists it.
type Upload struct {
	// ID is the upload's id, the last segment of its location.
	ID string `json:"id"`
	// Size is the Upload-Length it was created with.
	Size int64 `json:"size"`
	// Offset is how many bytes are stored.
	Offset int64 `json:"offset"`
	// Metadata is its Upload-Metadata, decoded.
	Metadata map[string]string `json:"metadata"`
	// SHA256 is the hex sha256 of the stored bytes.
	SHA256 string `json:"sha256"`
	// Complete: every byte is stored and the whole-file check accepted it (an upload whose
	// bytes are all stored but that was never checked is checked when listed).
	Complete bool `json:"complete"`
	// Rejected: the whole-file check refused it.
	Rejected bool `json:"rejected,omitempty"`
}

// Stats count what the server received since it started (a restarted process starts at 0).
type Stats struct {
	// Requests counts tus requests (under BasePath), answered or not.
	Requests int64 `json:"requests"`
	// ChunkRequests counts requests carrying upload data (PATCH, POST with data).
	ChunkRequests int64 `json:"chunk_requests"`
	// ChunkBytes counts the bytes of upload data received, stored or not (refused for a
	// checksum, dropped): with a resumed upload, what was sent again.
	ChunkBytes int64 `json:"chunk_bytes"`
	// ChecksumMismatches counts chunks answered 460.
	ChecksumMismatches int64 `json:"checksum_mismatches"`
	// Rejected counts uploads refused by the whole-file check.
	Rejected int64 `json:"rejected"`
	// Terminated counts uploads deleted by clients (tus termination).
	Terminated int64 `json:"terminated"`
	// LostAnswers counts answers withheld by the lose_next_answers fault.
	LostAnswers int64 `json:"lost_answers"`
	// Drops counts connections cut by the drop_after_bytes fault.
	Drops int64 `json:"drops"`
	// CutChunks counts chunks whose body ended early otherwise (the client gave up, the
	// connection broke, the server stopped).
	CutChunks int64 `json:"cut_chunks"`
	// Creates counts uploads created.
	Creates int64 `json:"creates"`
}

// Server is a running RWS test server.
type Server struct {
	dir   string
	users map[string]string
	log   *slog.Logger
	ln    net.Listener
	srv   *http.Server
	tus   *handler.Handler
	ext   string // Tus-Extension as advertised
	done  chan struct{}

	faults faultState
	stats  struct {
		requests, chunkRequests, chunkBytes, checksumMismatches, rejected, terminated, lostAnswers, drops, cutChunks, creates atomic.Int64
	}
	checkMu sync.Mutex // serialises whole-file checks and their marks (verified, rejected)
}

// Start checks cfg, listens and serves; it returns once the server accepts connections. ctx
// bounds only getting started; the server runs until Close or Shutdown.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is empty", ErrBadConfig)
	}
	users := make(map[string]string, len(cfg.Users))
	for name, pw := range cfg.Users {
		if name == "" || strings.Contains(name, ":") {
			return nil, fmt.Errorf("%w: Users: user name %q: want a non-empty name without ':'", ErrBadConfig, name)
		}
		users[name] = pw
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("rwsserver: upload folder: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{dir: cfg.Dir, users: users, log: log, done: make(chan struct{})}

	composer := handler.NewStoreComposer()
	store := filestore.New(cfg.Dir)
	composer.UseCore(store)
	composer.UseTerminater(store)
	memorylocker.New().UseIn(composer)
	tus, err := handler.NewHandler(handler.Config{
		StoreComposer:             composer,
		BasePath:                  BasePath,
		DisableConcatenation:      true,
		PreUploadCreateCallback:   s.preCreate,
		PreFinishResponseCallback: s.preFinish,
	})
	if err != nil {
		return nil, fmt.Errorf("rwsserver: tusd: %w", err)
	}
	s.tus = tus
	s.ext = tus.SupportedExtensions() + ",checksum"

	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("rwsserver: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("rws test server stopped serving", "err", err)
		}
	}()
	log.Info("rws test server listening", "url", s.URL(), "dir", cfg.Dir, "users", len(users))
	return s, nil
}

// URL is the server's root, e.g. http://127.0.0.1:41234 (no trailing slash): a client's
// "server" setting.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server at once, cutting connections in flight (as a crash would, except
// that stored bytes are kept).
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Shutdown stops accepting connections and returns once requests in flight are answered or
// ctx ends (then it cuts them).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("rwsserver: faults: %w", err)
	}
	s.faults.set(f)
	s.log.Info("faults set", "faults", f)
	return nil
}

// Faults returns the faults in force, with their counters as they stand.
func (s *Server) Faults() Faults { return s.faults.get() }

// Stats returns what the server received since it started.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:           s.stats.requests.Load(),
		ChunkRequests:      s.stats.chunkRequests.Load(),
		ChunkBytes:         s.stats.chunkBytes.Load(),
		ChecksumMismatches: s.stats.checksumMismatches.Load(),
		Rejected:           s.stats.rejected.Load(),
		Terminated:         s.stats.terminated.Load(),
		LostAnswers:        s.stats.lostAnswers.Load(),
		Drops:              s.stats.drops.Load(),
		CutChunks:          s.stats.cutChunks.Load(),
		Creates:            s.stats.creates.Load(),
	}
}

// Uploads lists the uploads in the folder, complete or not, oldest first, each with the
// sha256 of its stored bytes.
func (s *Server) Uploads() []Upload {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		s.log.Error("listing uploads", "err", err)
		return []Upload{}
	}
	type item struct {
		u       Upload
		created time.Time
	}
	var items []item
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok || e.IsDir() {
			continue
		}
		u, created, err := s.readUpload(id)
		if err != nil {
			s.log.Warn("listing uploads: skipped one", "id", id, "err", err)
			continue
		}
		items = append(items, item{u, created})
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.u.ID, b.u.ID)
	})
	out := make([]Upload, 0, len(items))
	for _, it := range items {
		out = append(out, it.u)
	}
	return out
}

// readUpload reads one upload from tusd's files.
func (s *Server) readUpload(id string) (Upload, time.Time, error) {
	infoPath := filepath.Join(s.dir, id+".info")
	raw, err := os.ReadFile(infoPath)
	if err != nil {
		return Upload{}, time.Time{}, err
	}
	st, err := os.Stat(infoPath)
	if err != nil {
		return Upload{}, time.Time{}, err
	}
	var info handler.FileInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return Upload{}, time.Time{}, err
	}
	data := info.Storage[filestore.StorageKeyPath]
	if data == "" {
		data = filepath.Join(s.dir, id)
	}
	sum, n, err := fileSHA256(data)
	if err != nil {
		return Upload{}, time.Time{}, err
	}
	meta := map[string]string(info.MetaData)
	if meta == nil {
		meta = map[string]string{}
	}
	u := Upload{ID: id, Size: info.Size, Offset: n, Metadata: meta, SHA256: sum}
	if !info.SizeIsDeferred && n == info.Size {
		u.Complete = s.checkStored(info, data) == nil
	}
	u.Rejected = s.isRejected(id)
	return u, st.ModTime(), nil
}

// fileSHA256 returns the hex sha256 and the size of a file.
func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// markPath is where an upload's mark (".verified", ".rejected") is recorded; "" for an id
// that is not a plain file name.
func (s *Server) markPath(id, mark string) string {
	if id == "" || id != filepath.Base(id) || strings.HasPrefix(id, ".") {
		return ""
	}
	return filepath.Join(s.dir, id+mark)
}

// rejectedPath is where an upload's rejection is recorded.
func (s *Server) rejectedPath(id string) string { return s.markPath(id, ".rejected") }

func (s *Server) hasMark(id, mark string) bool {
	p := s.markPath(id, mark)
	if p == "" {
		return false
	}
	_, err := os.Stat(p)
	return err == nil
}

func (s *Server) isRejected(id string) bool { return s.hasMark(id, ".rejected") }

// errRefused is the whole-file check's refusal; its message is the client's.
var errRefused = errors.New("refused")

// checkStored is the whole-file check of an upload whose every byte is stored at path, done
// once: nil when its sha256 matches the metadata (or it has none, or it was accepted
// before), an error wrapping errRefused when it does not (it is then marked rejected), or
// the error reading it.
func (s *Server) checkStored(info handler.FileInfo, path string) error {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	switch {
	case s.hasMark(info.ID, ".verified"):
		return nil
	case s.isRejected(info.ID):
		return fmt.Errorf("%w: rejected before", errRefused)
	}
	want := info.MetaData["sha256"]
	got, _, err := fileSHA256(path)
	if err != nil {
		return fmt.Errorf("whole-file check: %w", err)
	}
	if want != "" && !strings.EqualFold(got, want) || s.faults.takeRefuse() {
		msg := fmt.Sprintf("the stored file's sha256 %s does not match the upload's sha256 metadata %s: upload rejected", got, want)
		if strings.EqualFold(got, want) {
			msg = "injected fault: the stored file is refused as if damaged: upload rejected"
		}
		if p := s.rejectedPath(info.ID); p != "" {
			if err := os.WriteFile(p, []byte(msg+"\n"), 0o644); err != nil {
				s.log.Error("marking upload rejected", "id", info.ID, "err", err)
			}
		}
		s.stats.rejected.Add(1)
		s.log.Warn("upload rejected", "id", info.ID, "got", got, "want", want)
		return fmt.Errorf("%w: %s", errRefused, msg)
	}
	if p := s.markPath(info.ID, ".verified"); p != "" {
		if err := os.WriteFile(p, []byte(got+"\n"), 0o644); err != nil {
			return fmt.Errorf("whole-file check: marking verified: %w", err)
		}
	}
	s.log.Info("upload complete", "id", info.ID, "size", info.Size, "sha256", got)
	return nil
}

// checkPending runs the whole-file check of upload id when all its bytes are stored but it
// was never checked (the process died between storing the last chunk and checking it), so
// that HEAD reports the whole length only for an accepted upload.
func (s *Server) checkPending(id string) {
	if s.markPath(id, "") == "" || s.hasMark(id, ".verified") || s.isRejected(id) {
		return
	}
	raw, err := os.ReadFile(filepath.Join(s.dir, id+".info"))
	if err != nil {
		return
	}
	var info handler.FileInfo
	if json.Unmarshal(raw, &info) != nil || info.SizeIsDeferred {
		return
	}
	data := info.Storage[filestore.StorageKeyPath]
	if data == "" {
		data = filepath.Join(s.dir, id)
	}
	if st, err := os.Stat(data); err != nil || st.Size() != info.Size {
		return
	}
	if err := s.checkStored(info, data); err != nil && !errors.Is(err, errRefused) {
		s.log.Error("whole-file check of a pending upload", "id", id, "err", err)
	}
}

// preCreate checks an upload's sha256 metadata, when given, is 64 hex digits.
func (s *Server) preCreate(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	s.stats.creates.Add(1)
	if sum, ok := hook.Upload.MetaData["sha256"]; ok {
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			return handler.HTTPResponse{}, handler.FileInfoChanges{},
				handler.NewError("ERR_BAD_SHA256", fmt.Sprintf("sha256 metadata %q is not 64 hex digits", sum), http.StatusBadRequest)
		}
	}
	return handler.HTTPResponse{}, handler.FileInfoChanges{}, nil
}

// preFinish is the whole-file check when the last byte arrived: the stored file's sha256
// must be the upload's sha256 metadata (an upload without one is accepted as is).
func (s *Server) preFinish(hook handler.HookEvent) (handler.HTTPResponse, error) {
	err := s.checkStored(hook.Upload, hook.Upload.Storage[filestore.StorageKeyPath])
	switch {
	case errors.Is(err, errRefused):
		return handler.HTTPResponse{}, handler.NewError("ERR_SHA256_MISMATCH", strings.TrimPrefix(err.Error(), errRefused.Error()+": "), StatusRejected)
	case err != nil:
		return handler.HTTPResponse{}, err
	}
	return handler.HTTPResponse{}, nil
}
