// Package rws is the "rws" uploader: it ships finished segments to an RWS server with the
// tus 1.0.0 resumable upload protocol (docs/api/rws-upload.md), with sha256 chunk
// checksums, resume from a confirmed offset and failover to the backup data centre.
//
// It holds no durable state: the host records each Progress (location and confirmed offset)
// and passes it back as UploadRequest.Resume. In memory it only remembers which server
// failed when, for failover.
//
// # Servers
//
// An upload goes to Config.Server, or to the metadata key "server" of the request when set
// (an agent's own RWS, say); the backup is then the request's "peer_server" if the key is
// present (empty: none), else Config.PeerServer. Both keys are routing, not sent as
// Upload-Metadata.
//
// # Failover
//
// A connection error, a timeout or a 5xx from a server marks it failed and sends the
// upload to the other one as a new upload there (offsets are not shared between data
// centres). While the primary is within Cooldown of its last failure, uploads go to the
// peer first; after that the primary is tried first again. A success clears a server's
// failure. An upload with a Resume location on a server that is not cooling down resumes
// there first. Other answers do not fail over: a 4xx other than 404/408/409/410/423/429/460
// fails the upload permanently (sdk.ErrPermanent, with the server's message); 408, 423, 429
// and repeated 460s fail it for a retry later.
//
// # Credentials
//
// The request's Credentials (an agent's own login) when set, else the service account
// (username, password).
package rws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/screenrec/recorder/pkg/tus"
	"github.com/screenrec/recorder/plugins/sdk"
)

// Name is the plugin's name.
const Name = "rws"

// Version is the plugin's version.
const Version = "1.0.0"

// UploadPath is where uploads go under a server's root.
const UploadPath = "/api/v2/screen-recordings/"

// Metadata keys the request may carry to route the upload (never sent as Upload-Metadata).
const (
	MetaServer     = "server"
	MetaPeerServer = "peer_server"
)

// MetadataKeys are the Upload-Metadata keys of the RWS protocol, all sent with every upload
// (empty when the request does not give them). sha256 is always the request's SHA256 (or
// computed from the file when empty); filename, filetype, recordingId and segment default
// to the segment's file name, a type from its extension, RecordingID and SegmentIndex (the
// segment's position in its recording, counted from 1 as everywhere in the recorder). state
// is how the recording ended (completed or failed: failed recordings are delivered too, up to
// their last complete fragment) and reason why it failed.
var MetadataKeys = []string{
	"filename", "filetype", "recordingId", "segment", "final", "agent", "userId", "contactId",
	"interactionId", "place", "startTime", "stopTime", "durationMs", "monitors", "width", "height",
	"codec", "encoder", "sha256", "masked", "state", "reason",
}

// Uploader is the rws uploader.
type Uploader struct {
	// now is the clock of the failover memory; tests may replace it before use.
	now func() time.Time

	mu     sync.Mutex
	cfg    *Config
	client *tus.Client
	// failedAt is when each server (root URL) last failed server-side.
	failedAt map[string]time.Time
	// lastGood is the server that last took an upload.
	lastGood string
}

var _ sdk.Uploader = (*Uploader)(nil)

// New returns an unconfigured uploader.
func New() *Uploader { return &Uploader{now: time.Now, failedAt: map[string]time.Time{}} }

// Info identifies the plugin.
func (u *Uploader) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindUploader, Version: Version}, nil
}

// ConfigSchema describes the config section.
func (u *Uploader) ConfigSchema(context.Context) (sdk.Schema, error) { return schema, nil }

// Configure checks and applies the config. A config with errors is refused and the previous
// one kept.
func (u *Uploader) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, diags := decodeConfig(raw)
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			return diags, nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client := &tus.Client{
		HTTP:      &http.Client{Transport: tr},
		ChunkSize: cfg.ChunkSize,
		Timeout:   cfg.Timeout,
		UserAgent: "screenrec-rws/" + Version,
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if old := u.client; old != nil {
		old.HTTP.CloseIdleConnections()
	}
	u.cfg, u.client = &cfg, client
	u.failedAt, u.lastGood = map[string]time.Time{}, ""
	return diags, nil
}

// target is one upload's servers and credentials.
type target struct {
	primary, peer string
	auth          tus.Auth
}

// Upload sends one segment; see the package comment for servers, failover and credentials.
// progress is called with the location and confirmed offset after the upload is created
// (offset 0), after a resume point is found (its offset), and after every confirmed chunk;
// Offset is per Location, so a failover starts again at 0 with the new location.
func (u *Uploader) Upload(ctx context.Context, req sdk.UploadRequest, progress func(sdk.Progress)) (sdk.UploadResult, error) {
	if err := ctx.Err(); err != nil {
		return sdk.UploadResult{}, err
	}
	u.mu.Lock()
	cfg, client := u.cfg, u.client
	u.mu.Unlock()
	if cfg == nil {
		return sdk.UploadResult{}, sdk.ErrNotConfigured
	}
	tg, err := targetOf(cfg, req)
	if err != nil {
		return sdk.UploadResult{}, permanent("", err)
	}
	f, size, err := openSegment(req)
	if err != nil {
		return sdk.UploadResult{}, err
	}
	defer f.Close()
	sum := req.SHA256
	if sum == "" {
		if sum, err = fileSHA256(ctx, f, size); err != nil {
			return sdk.UploadResult{}, err
		}
	}
	meta := metadata(req, sum)
	report := func(p sdk.Progress) {
		if progress != nil {
			progress(p)
		}
	}

	var errs []error
	for _, server := range u.order(tg, req.Resume.Location) {
		s := &session{client: client, server: server, auth: tg.auth, size: size, src: f, meta: meta, report: report}
		loc, err := s.run(ctx, req.Resume.Location)
		if err == nil {
			u.worked(server)
			return sdk.UploadResult{Location: loc, Bytes: size}, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return sdk.UploadResult{}, fmt.Errorf("rws: %s: %w", server, ctxErr)
		}
		if tus.IsPermanent(err) {
			return sdk.UploadResult{}, permanent(server, err)
		}
		if errors.Is(err, tus.ErrSource) && errors.Is(err, io.ErrUnexpectedEOF) {
			// The segment is shorter than it was: no retry will send it.
			return sdk.UploadResult{}, permanent("", fmt.Errorf("rws: segment %s: %w", req.SegmentPath, err))
		}
		errs = append(errs, fmt.Errorf("rws: %s: %w", server, err))
		if !tus.IsServerSide(err) {
			break // e.g. 429 or repeated 460s: try again later, on the same server
		}
		u.failed(server)
	}
	return sdk.UploadResult{}, errors.Join(errs...)
}

// order returns the servers to try, best first: the primary unless it is cooling down after
// a failure (then the peer; if both are, the one that last worked), with the server holding
// the resume location moved first when it is not cooling down.
func (u *Uploader) order(tg target, resume string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	cooldown := u.cfg.Cooldown
	cooling := func(s string) bool {
		t, ok := u.failedAt[s]
		return ok && now.Sub(t) < cooldown
	}
	list := []string{tg.primary}
	if tg.peer != "" {
		list = append(list, tg.peer)
		p, q := tg.primary, tg.peer
		if cooling(p) && (!cooling(q) || u.lastGood == q) {
			list = []string{q, p}
		}
	}
	for i, s := range list {
		if i > 0 && onServer(resume, s) && !cooling(s) {
			list[0], list[i] = list[i], list[0]
		}
	}
	return list
}

func (u *Uploader) worked(server string) {
	u.mu.Lock()
	delete(u.failedAt, server)
	u.lastGood = server
	u.mu.Unlock()
}

func (u *Uploader) failed(server string) {
	u.mu.Lock()
	u.failedAt[server] = u.now()
	u.mu.Unlock()
}

// targetOf picks an upload's servers and credentials.
func targetOf(cfg *Config, req sdk.UploadRequest) (target, error) {
	tg := target{primary: cfg.Server, peer: cfg.PeerServer}
	if s := req.Metadata[MetaServer]; s != "" {
		root, err := serverRoot(s)
		if err != nil {
			return target{}, fmt.Errorf("rws: metadata %s: %w", MetaServer, err)
		}
		tg.primary = root
		if p, ok := req.Metadata[MetaPeerServer]; ok {
			tg.peer = p
		}
	}
	if tg.peer != "" {
		root, err := serverRoot(tg.peer)
		if err != nil {
			return target{}, fmt.Errorf("rws: metadata %s: %w", MetaPeerServer, err)
		}
		tg.peer = root
		if root == tg.primary {
			tg.peer = ""
		}
	}
	switch {
	case req.Credentials != nil && req.Credentials.Username != "":
		tg.auth = tus.Auth{Username: req.Credentials.Username, Password: req.Credentials.Password}
	case cfg.Username != "":
		tg.auth = tus.Auth{Username: cfg.Username, Password: cfg.Password}
	default:
		return target{}, ErrNoCredentials
	}
	return tg, nil
}

// onServer reports whether location is an upload under server's UploadPath.
func onServer(location, server string) bool {
	if location == "" {
		return false
	}
	l, err := url.Parse(location)
	if err != nil {
		return false
	}
	s, err := url.Parse(server)
	if err != nil {
		return false
	}
	return strings.EqualFold(l.Scheme, s.Scheme) && strings.EqualFold(l.Host, s.Host) &&
		strings.HasPrefix(l.Path, s.Path+UploadPath) && len(l.Path) > len(s.Path+UploadPath)
}

// openSegment opens the segment and checks its size against the request's.
func openSegment(req sdk.UploadRequest) (*os.File, int64, error) {
	f, err := os.Open(req.SegmentPath)
	if err != nil {
		return nil, 0, permanent("", fmt.Errorf("rws: segment: %w", err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("rws: segment: %w", err)
	}
	if req.Size > 0 && st.Size() != req.Size {
		f.Close()
		return nil, 0, permanent("", fmt.Errorf("rws: segment %s is %d bytes, the request says %d", req.SegmentPath, st.Size(), req.Size))
	}
	return f, st.Size(), nil
}

// fileSHA256 hashes the segment, for a request without SHA256.
func fileSHA256(ctx context.Context, f *os.File, size int64) (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		h.Write(buf[:n])
		off += int64(n)
		if err != nil && !(errors.Is(err, io.EOF) && off == size) {
			return "", fmt.Errorf("rws: segment: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// metadata is the Upload-Metadata of a request: every key of MetadataKeys, then the
// request's other keys (except routing ones, and those tus cannot carry).
func metadata(req sdk.UploadRequest, sum string) map[string]string {
	meta := make(map[string]string, len(MetadataKeys)+len(req.Metadata))
	for k, v := range req.Metadata {
		if k == MetaServer || k == MetaPeerServer || k == "" || strings.ContainsAny(k, " ,\t\r\n") {
			continue
		}
		meta[k] = v
	}
	for _, k := range MetadataKeys {
		if _, ok := meta[k]; !ok {
			meta[k] = ""
		}
	}
	def := map[string]string{
		"filename":    filepath.Base(req.SegmentPath),
		"filetype":    fileType(req.SegmentPath),
		"recordingId": req.RecordingID,
		"segment":     strconv.Itoa(req.SegmentIndex),
	}
	for k, v := range def {
		if meta[k] == "" {
			meta[k] = v
		}
	}
	meta["sha256"] = strings.ToLower(sum)
	return meta
}

// fileType is a segment's media type from its extension.
func fileType(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".mkv":
		return "video/x-matroska"
	case ".webm":
		return "video/webm"
	case ".ts":
		return "video/mp2t"
	}
	return "video/mp4"
}

// session is one attempt of an upload on one server.
type session struct {
	client *tus.Client
	server string
	auth   tus.Auth
	size   int64
	src    io.ReaderAt
	meta   map[string]string
	report func(sdk.Progress)
}

// run resumes the upload at resume when it is on this server and still there, else creates
// a new one, and sends the rest. It returns the upload's location.
func (s *session) run(ctx context.Context, resume string) (string, error) {
	loc, off := "", int64(0)
	if onServer(resume, s.server) {
		n, err := s.client.Offset(ctx, resume, s.auth)
		switch {
		case err == nil && n <= s.size:
			loc, off = resume, n
			s.report(sdk.Progress{Location: loc, Offset: off, Size: s.size})
		case err == nil, errors.Is(err, tus.ErrNotFound):
			// Gone (or not this file): start again on the same server.
		default:
			return "", err
		}
	}
	if loc == "" {
		return s.fresh(ctx)
	}
	err := s.send(ctx, loc, off)
	if errors.Is(err, tus.ErrNotFound) {
		return s.fresh(ctx) // dropped mid-way: once more from the start
	}
	return loc, err
}

// fresh creates a new upload and sends it all.
func (s *session) fresh(ctx context.Context) (string, error) {
	loc, err := s.client.Create(ctx, s.server+UploadPath, s.size, s.meta, s.auth)
	if err != nil {
		return "", err
	}
	s.report(sdk.Progress{Location: loc, Offset: 0, Size: s.size})
	return loc, s.send(ctx, loc, 0)
}

func (s *session) send(ctx context.Context, loc string, off int64) error {
	return s.client.Upload(ctx, loc, s.src, s.size, off, s.auth, func(n int64) {
		s.report(sdk.Progress{Location: loc, Offset: n, Size: s.size})
	})
}
