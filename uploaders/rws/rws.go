// Package rws is the "rws" uploader: it ships finished segments to an RWS server with the
// tus 1.0.0 resumable upload protocol (docs/api/rws-upload.md), with sha256 chunk
// checksums, resume from a confirmed offset and failover to the backup data centre.
//
// It holds no durable state: the host records each Progress (location, confirmed offset and
// State) and passes it back as UploadRequest.Resume. The State is the job's upload on each
// server ({"servers":{"<root>":{"location":"…"}}}), reported before any byte is sent to a
// new upload: the next attempt on a server asks it (HEAD) where that upload stands and goes
// on, finishes or — when the server refused the content — terminates it and starts over,
// and a failover never forgets the upload left on the other server. Once one server
// confirmed the segment, the job's uploads on the others are terminated (tus termination;
// a failure is logged, never fails the upload). In memory it only remembers which server
// failed when, for failover.
//
// # Exactly once, verified
//
// Upload returns nil only when the server confirmed the whole segment with a matching
// sha256: the answer to the last PATCH, or a HEAD giving the whole length (the RWS protocol
// gives it only for an upload whose whole-file check passed). A refusal of the whole file
// (460 on the last chunk) fails the attempt (kind checksum); the next one starts over,
// unless the local file no longer matches its sha256 (then the failure is permanent).
// Errors wrap the engine's failure kinds (refused, reset, timeout, dns, tls, http, auth,
// checksum).
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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/screenrec/recorder/engine/api"
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
	// log receives what cannot fail an upload (a termination that failed).
	log *slog.Logger

	mu     sync.Mutex
	cfg    *Config
	client *tus.Client
	// failedAt is when each server (root URL) last failed server-side.
	failedAt map[string]time.Time
	// lastGood is the server that last took an upload.
	lastGood string
	// abandoned are terminations that failed, retried by later Upload calls.
	abandoned []abandoned
}

var _ sdk.Uploader = (*Uploader)(nil)

// New returns an unconfigured uploader.
func New() *Uploader {
	return &Uploader{now: time.Now, log: slog.Default(), failedAt: map[string]time.Time{}}
}

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
// (offset 0, with the job's State: before any byte is sent), after a resume point is found
// (its offset), and after every confirmed chunk; Offset is per Location, so a failover
// starts again at 0 with the new location. Upload returns nil only when the server
// confirmed the whole segment and its sha256.
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
	st := parseState(req.Resume, u.log)
	u.retryAbandoned(ctx, client)

	var errs []error
	for _, server := range u.order(tg, req.Resume.Location) {
		s := &session{client: client, server: server, auth: tg.auth, size: size, src: f, meta: meta, report: report, state: st, up: u}
		loc, err := s.run(ctx)
		if err == nil {
			u.worked(server)
			u.terminateOthers(ctx, client, tg, st, server, report, loc, size)
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
		if errors.Is(err, tus.ErrRejected) {
			// The server refused the file as a whole. When the local copy is what the
			// recorder hashed, the damage happened on the way or on the server: the next
			// attempt starts over. When it is not, no attempt can succeed.
			got, herr := fileSHA256(ctx, f, size)
			if herr == nil && !strings.EqualFold(got, sum) {
				return sdk.UploadResult{}, &permanentError{err: err, msg: fmt.Sprintf("rws: %s: the server refused the file, and the local segment %s does not match its recorded sha256 either (it is %s, recorded %s): %v",
					server, req.SegmentPath, got, sum, err)}
			}
			return sdk.UploadResult{}, fmt.Errorf("rws: %s: %w", server, err)
		}
		errs = append(errs, fmt.Errorf("rws: %s: %w", server, err))
		if !tus.IsServerSide(err) {
			break // e.g. 429 or repeated 460s: try again later, on the same server
		}
		u.failed(server)
		u.log.DebugContext(ctx, "rws: failing over", "server", server, "kind", api.ClassifyFailure(err), "err", err)
	}
	return sdk.UploadResult{}, errors.Join(errs...)
}

// terminationTimeout bounds the termination of the job's uploads left on other servers once
// one server confirmed the segment, retries included.
const terminationTimeout = 10 * time.Second

// maxAbandonedTries is how many later Upload calls retry a termination that failed before it
// is given up (the server keeps the upload until it expires it).
const maxAbandonedTries = 20

// abandoned is an upload of a job that is to go: partial on a server the job did not finish
// on, or refused.
type abandoned struct {
	location string
	auth     tus.Auth
	size     int64
	// refused: the server refused its content; it goes whatever its offset.
	refused bool
	tries   int
}

// terminateOthers deletes the job's uploads on the target's servers other than done (tus
// termination): partial ones left by a failover, refused ones (a complete one stays). A
// termination that fails is retried by later Upload calls and logged; it never fails the
// upload: the segment is safely on done. Uploads on servers the target no longer names are
// left alone (other credentials, perhaps).
func (u *Uploader) terminateOthers(ctx context.Context, client *tus.Client, tg target, st *remoteState, done string, report func(sdk.Progress), loc string, size int64) {
	others := slices.DeleteFunc(st.others(done), func(s string) bool { return s != tg.primary && s != tg.peer })
	if len(others) == 0 {
		return
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminationTimeout)
	defer cancel()
	for _, server := range others {
		up := st.Servers[server]
		u.discard(tctx, client, abandoned{location: up.Location, auth: tg.auth, size: size, refused: up.Refused})
		delete(st.Servers, server)
	}
	report(sdk.Progress{Location: loc, Offset: size, Size: size, State: st.encode()})
}

// discard terminates a, trying a few times within ctx; when it cannot, a is kept for later
// Upload calls to retry. An upload already gone is fine; a complete one that was not refused
// stays (its last answer was lost before a failover: a copy the server accepted and may have
// taken in already).
func (u *Uploader) discard(ctx context.Context, client *tus.Client, a abandoned) {
	var err error
	for try := 0; try < 5; try++ {
		if try > 0 {
			// 0.25 s doubling: a server answering 5xx for a few seconds still gets it.
			select {
			case <-time.After(125 * time.Millisecond << try):
			case <-ctx.Done():
			}
		}
		if err = u.terminate(ctx, client, a); err == nil {
			return
		}
	}
	u.log.WarnContext(ctx, "rws: could not terminate an abandoned upload; later uploads will try again",
		"location", a.location, "kind", api.ClassifyFailure(err), "err", err)
	u.mu.Lock()
	u.abandoned = append(u.abandoned, a)
	u.mu.Unlock()
}

// terminate is one try of discard.
func (u *Uploader) terminate(ctx context.Context, client *tus.Client, a abandoned) error {
	if !a.refused {
		if n, err := client.Offset(ctx, a.location, a.auth); err == nil && n == a.size {
			u.log.InfoContext(ctx, "rws: an upload of the segment is complete on another server too; it stays", "location", a.location)
			return nil
		}
	}
	err := client.Terminate(ctx, a.location, a.auth)
	if errors.Is(err, tus.ErrNotFound) {
		return nil
	}
	return err
}

// retryAbandoned tries once more the terminations that failed earlier.
func (u *Uploader) retryAbandoned(ctx context.Context, client *tus.Client) {
	u.mu.Lock()
	list := u.abandoned
	u.abandoned = nil
	u.mu.Unlock()
	if len(list) == 0 {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, terminationTimeout)
	defer cancel()
	var keep []abandoned
	for _, a := range list {
		if err := u.terminate(tctx, client, a); err != nil {
			if a.tries++; a.tries < maxAbandonedTries {
				keep = append(keep, a)
			} else {
				u.log.WarnContext(ctx, "rws: gave up terminating an abandoned upload; the server keeps it until it expires",
					"location", a.location, "kind", api.ClassifyFailure(err), "err", err)
			}
		}
	}
	u.mu.Lock()
	u.abandoned = append(u.abandoned, keep...)
	u.mu.Unlock()
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

// remoteState is the job's record of its uploads, one per server (root URL), kept by the
// engine as Resume.State: a failover never loses the upload it leaves on the other server,
// and the next attempt on that server asks it (HEAD) where it stands instead of starting a
// second upload. Offsets are not kept: the server is asked.
type remoteState struct {
	Servers map[string]*remoteUpload `json:"servers"`
}

// remoteUpload is the job's upload on one server.
type remoteUpload struct {
	Location string `json:"location"`
	// Refused: the server refused this upload's content (the whole-file check); the next
	// attempt terminates it and starts a new one.
	Refused bool `json:"refused,omitempty"`
}

// parseState reads a job's Resume: its State, and the Location of jobs from before State
// was kept (or whose State was lost).
func parseState(r sdk.Resume, log *slog.Logger) *remoteState {
	st := &remoteState{Servers: map[string]*remoteUpload{}}
	if r.State != "" {
		if err := json.Unmarshal([]byte(r.State), st); err != nil {
			log.Warn("rws: unreadable resume state; asking no server where it stands", "err", err)
			st = &remoteState{}
		}
		if st.Servers == nil {
			st.Servers = map[string]*remoteUpload{}
		}
	}
	if r.Location != "" {
		if server := serverOf(r.Location); server != "" && st.Servers[server] == nil {
			st.Servers[server] = &remoteUpload{Location: r.Location}
		}
	}
	return st
}

// encode is the State a Progress carries.
func (st *remoteState) encode() string {
	raw, _ := json.Marshal(st)
	return string(raw)
}

// others lists the servers other than done holding an upload of the job, sorted.
func (st *remoteState) others(done string) []string {
	var out []string
	for server, up := range st.Servers {
		if server != done && up != nil && up.Location != "" {
			out = append(out, server)
		}
	}
	slices.Sort(out)
	return out
}

// serverOf is the server root of an upload location (the part before UploadPath).
func serverOf(location string) string {
	l, err := url.Parse(location)
	if err != nil || l.Host == "" {
		return ""
	}
	i := strings.LastIndex(l.Path, UploadPath)
	if i < 0 || len(l.Path) == i+len(UploadPath) {
		return ""
	}
	root, err := serverRoot(l.Scheme + "://" + l.Host + l.Path[:i])
	if err != nil {
		return ""
	}
	return root
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
	state  *remoteState
	up     *Uploader
}

// run asks the server where the job's upload there stands (HEAD) and goes on from there,
// creates one when there is none (or it is gone), and sends the rest. A refused upload is
// terminated and replaced. It returns the upload's location once the server confirmed it
// whole.
func (s *session) run(ctx context.Context) (string, error) {
	loc, off := "", int64(0)
	if up := s.state.Servers[s.server]; up != nil && up.Location != "" && onServer(up.Location, s.server) {
		if up.Refused {
			s.drop(ctx, up.Location)
		} else {
			n, err := s.client.Offset(ctx, up.Location, s.auth)
			switch {
			case err == nil && n <= s.size:
				loc, off = up.Location, n
				s.report(sdk.Progress{Location: loc, Offset: off, Size: s.size})
			case err == nil:
				s.drop(ctx, up.Location) // not this file
			case errors.Is(err, tus.ErrNotFound):
				// Gone, or refused (410): start again on the same server.
				s.drop(ctx, up.Location)
			default:
				return "", err
			}
		}
	}
	if loc == "" {
		return s.fresh(ctx, "none on this server")
	}
	err := s.send(ctx, loc, off)
	if errors.Is(err, tus.ErrNotFound) && !errors.Is(err, tus.ErrRejected) {
		s.forget()
		return s.fresh(ctx, "dropped mid-way: "+err.Error()) // once more from the start
	}
	return loc, err
}

// drop terminates the job's upload on this server — refused, gone, or not this file: whatever
// its offset — and forgets it.
func (s *session) drop(ctx context.Context, loc string) {
	s.up.discard(ctx, s.client, abandoned{location: loc, auth: s.auth, size: s.size, refused: true})
	s.forget()
}

func (s *session) forget() { delete(s.state.Servers, s.server) }

// fresh creates a new upload, records it in the job's State (reported before any byte is
// sent, so that no later attempt creates a second one) and sends it all.
func (s *session) fresh(ctx context.Context, why string) (string, error) {
	loc, err := s.client.Create(ctx, s.server+UploadPath, s.size, s.meta, s.auth)
	if err != nil {
		return "", err
	}
	s.state.Servers[s.server] = &remoteUpload{Location: loc}
	s.up.log.DebugContext(ctx, "rws: new upload", "location", loc, "why", why)
	s.report(sdk.Progress{Location: loc, Offset: 0, Size: s.size, State: s.state.encode()})
	return loc, s.send(ctx, loc, 0)
}

// send sends the rest from off; a refusal of the whole file is recorded in the State.
func (s *session) send(ctx context.Context, loc string, off int64) error {
	err := s.client.Upload(ctx, loc, s.src, s.size, off, s.auth, func(n int64) {
		s.report(sdk.Progress{Location: loc, Offset: n, Size: s.size})
	})
	if errors.Is(err, tus.ErrRejected) {
		s.state.Servers[s.server] = &remoteUpload{Location: loc, Refused: true}
		s.report(sdk.Progress{Location: loc, Offset: 0, Size: s.size, State: s.state.encode()})
	}
	return err
}
