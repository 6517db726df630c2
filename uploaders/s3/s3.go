// Package s3 is the "s3" uploader: it archives finished segments to S3-compatible object
// storage (AWS S3, MinIO, Ceph, SeaweedFS, versitygw, Wasabi…), verified by sha256
// checksums and resumed after interruptions and restarts. Signing and sending are apart
// (pkg/s3upload): here a LocalSigner signs with the configured credentials.
//
// # Objects
//
// A segment goes to the key the template renders (default
// {owner}/{date}/{recording_id}/{segment}.mp4; owner is the metadata's userId, date the UTC
// date of its startTime), with the recording's metadata as user metadata (x-amz-meta-*,
// kebab-case keys, sha256 always among them) and, when configured, server-side encryption.
//
// # Checksums and resume
//
// A segment of at most part_size bytes is one PUT carrying its x-amz-checksum-sha256. A
// larger one is a multipart upload with SHA256 checksums: its id and key are reported as the
// job's resume State right after it is created, each part carries its own sha256 (up to
// part_concurrency parts in flight; the State records the set the server confirmed), and
// the completion's composite checksum is checked against the one computed here. A later attempt
// (after a failure or a restart) lists the parts the server holds and sends only those
// missing or whose checksum differs; an upload the server no longer knows is looked up as an
// object (its answer may have been lost after it completed) and else started over. Upload
// returns nil only when the server holds the whole object with the segment's checksum.
package s3

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/pkg/s3upload"
	"github.com/screenrec/recorder/plugins/sdk"
)

// Name is the plugin's name.
const Name = "s3"

// Version is the plugin's version.
const Version = "1.0.0"

// Uploader is the s3 uploader.
type Uploader struct {
	mu     sync.Mutex
	cfg    *Config
	tmpl   *keyTemplate
	client *s3upload.Client
}

var _ sdk.Uploader = (*Uploader)(nil)

// New returns an unconfigured uploader.
func New() *Uploader { return &Uploader{} }

// Info identifies the plugin.
func (u *Uploader) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindUploader, Version: Version}, nil
}

// ConfigSchema describes the config section.
func (u *Uploader) ConfigSchema(context.Context) (sdk.Schema, error) { return schema, nil }

// Configure checks and applies the config; a config with errors is refused and the previous
// one kept.
func (u *Uploader) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, tmpl, diags := decodeConfig(raw)
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			return diags, nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = cfg.ConnectTimeout
	// Every part in flight keeps its connection for the next part (the default keeps 2).
	tr.MaxIdleConnsPerHost = cfg.PartConcurrency + 2
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("s3: ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return []sdk.Diagnostic{{Severity: sdk.SeverityError, Field: "ca_file", Summary: "no certificate in CA file", Detail: cfg.CAFile}}, nil
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var signer s3upload.Signer = &s3upload.LocalSigner{Endpoint: cfg.Endpoint, Region: cfg.Region, Bucket: cfg.Bucket, PathStyle: cfg.PathStyle,
		AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey,
		SSE: s3upload.SSE{Mode: cfg.SSE, KMSKeyID: cfg.KMSKeyID}}
	if cfg.Signer == SignerFleet {
		signer = &fleetSigner{cfg: *cfg.Fleet}
	}
	client := &s3upload.Client{Signer: signer, HTTP: &http.Client{Transport: tr}, Timeout: cfg.Timeout, UserAgent: "screenrec-s3/" + Version}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closeLocked()
	u.cfg, u.tmpl, u.client = &cfg, tmpl, client
	return diags, nil
}

// Close releases what the config holds: idle connections, and the fleet signer's NATS
// connection.
func (u *Uploader) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closeLocked()
	u.cfg, u.client = nil, nil
	return nil
}

func (u *Uploader) closeLocked() {
	if u.client == nil {
		return
	}
	u.client.HTTP.CloseIdleConnections()
	if f, ok := u.client.Signer.(*fleetSigner); ok {
		f.close()
	}
}

// resumeState is the job's resume State: the multipart upload under way.
type resumeState struct {
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	UploadID string `json:"upload_id,omitempty"`
	PartSize int64  `json:"part_size,omitempty"`
	// Put says a single PUT was started (its answer may be lost: ask the server first).
	Put bool `json:"put,omitempty"`
	// Done is the set of parts the server confirmed with their sha256 (partSet's ranges,
	// "1-4,6"): parts finish out of order when several are in flight. States written
	// before it have none; the server's list of parts is asked in any case.
	Done string `json:"done,omitempty"`
}

func (s resumeState) encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Upload sends one segment; see the package comment.
func (u *Uploader) Upload(ctx context.Context, req sdk.UploadRequest, progress func(sdk.Progress)) (sdk.UploadResult, error) {
	if err := ctx.Err(); err != nil {
		return sdk.UploadResult{}, err
	}
	u.mu.Lock()
	cfg, tmpl, client := u.cfg, u.tmpl, u.client
	u.mu.Unlock()
	if cfg == nil {
		return sdk.UploadResult{}, sdk.ErrNotConfigured
	}
	f, err := os.Open(req.SegmentPath)
	if err != nil {
		return sdk.UploadResult{}, permanent(fmt.Errorf("s3: segment: %w", err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return sdk.UploadResult{}, permanent(fmt.Errorf("s3: segment: %w", err))
	}
	size := fi.Size()
	if req.Size > 0 && req.Size != size {
		return sdk.UploadResult{}, permanent(fmt.Errorf("s3: segment %s: %d bytes, recorded %d: %w", req.SegmentPath, size, req.Size, ErrSegmentChanged))
	}
	sum := req.SHA256
	if sum == "" {
		if sum, err = hashSection(ctx, f, 0, size, nil); err != nil {
			return sdk.UploadResult{}, err
		}
	}
	key := tmpl.render(req)
	up := &upload{cfg: cfg, client: client, f: f, size: size, sum: sum, key: key,
		meta: objectMetadata(req, sum), req: req, progress: progress}
	loc := cfg.Endpoint + "/" + cfg.Bucket + "/" + key
	confirmer, _ := client.Signer.(s3upload.Confirmer)
	if cfg.Signer == SignerFleet {
		loc = "fleet:" + key // the controller names the object's place
	}
	// A signer that asks elsewhere (the fleet controller) is told what it signs for.
	ctx = s3upload.WithUpload(ctx, s3upload.Upload{RecordingID: req.RecordingID, Segment: req.SegmentIndex,
		Owner: req.Metadata["userId"], Bytes: size, SHA256: sum})
	err = up.run(ctx)
	if err == nil && confirmer != nil {
		// Done only once the signer's side has recorded where the segment landed.
		var landed string
		if landed, err = confirmer.Confirm(ctx, key); err == nil {
			loc = landed
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return sdk.UploadResult{}, fmt.Errorf("s3: %s: %w", loc, ctx.Err())
		}
		var re *s3upload.ResponseError
		if errors.As(err, &re) && re.Permanent() || errors.Is(err, ErrSegmentChanged) || errors.Is(err, s3upload.ErrBadMetadata) ||
			errors.Is(err, api.ErrPermanent) {
			return sdk.UploadResult{}, permanent(fmt.Errorf("s3: %s: %w", loc, err))
		}
		return sdk.UploadResult{}, fmt.Errorf("s3: %s: %w", loc, err)
	}
	return sdk.UploadResult{Location: loc, Bytes: size}, nil
}

// upload is one attempt of one segment.
type upload struct {
	cfg      *Config
	client   *s3upload.Client
	f        *os.File
	size     int64
	sum      string
	key      string
	meta     map[string]string
	req      sdk.UploadRequest
	progress func(sdk.Progress)
	state    resumeState
}

func (up *upload) report(offset int64) {
	if up.progress != nil {
		up.progress(sdk.Progress{Location: up.key, Offset: offset, Size: up.size, State: up.state.encode()})
	}
}

func (up *upload) run(ctx context.Context) error {
	var prev resumeState
	if s := up.req.Resume.State; s != "" {
		_ = json.Unmarshal([]byte(s), &prev) // a state not ours: start afresh
	}
	same := prev.Bucket == up.cfg.Bucket && prev.Key == up.key
	if prev.UploadID != "" && !same {
		// The key or bucket changed (config): the old upload is garbage.
		up.abort(ctx, prev)
		prev = resumeState{}
	}
	// An earlier attempt may have stored the object and lost the answer.
	if same && (prev.Put || prev.UploadID != "") {
		if ok, err := up.stored(ctx); err != nil || ok {
			return err
		}
	}
	if up.size <= up.cfg.PartSize {
		return up.put(ctx)
	}
	partSize := up.cfg.PartSize
	if same && prev.UploadID != "" && prev.PartSize >= MinPartSize {
		partSize = prev.PartSize // the parts the server holds are cut this way
	}
	if n := (up.size + partSize - 1) / partSize; n > s3upload.MaxParts {
		partSize = (up.size + s3upload.MaxParts - 1) / s3upload.MaxParts
	}
	err := up.multipart(ctx, prev, partSize)
	if errors.Is(err, errStartOver) {
		return up.multipart(ctx, resumeState{}, up.cfg.PartSize)
	}
	return err
}

// errStartOver: the server no longer has the multipart upload.
var errStartOver = errors.New("start over")

// put sends the segment in one request.
func (up *upload) put(ctx context.Context) error {
	up.state = resumeState{Bucket: up.cfg.Bucket, Key: up.key, Put: true}
	up.report(0)
	obj, err := up.client.Put(ctx, up.key, io.NewSectionReader(up.f, 0, up.size), up.size, up.sum, up.meta)
	if err != nil {
		return err
	}
	want, _ := s3upload.Base64SHA256(up.sum)
	if obj.ChecksumSHA256 != want {
		// No checksum in the answer: the server must show it holds the right bytes.
		if ok, err := up.stored(ctx); err != nil || !ok {
			return errors.Join(err, fmt.Errorf("put: %w", ErrNotStored))
		}
	}
	up.report(up.size)
	return nil
}

// stored says whether the server holds the segment complete under its key: size and sha256
// metadata match, and the checksum when the server gives it.
func (up *upload) stored(ctx context.Context) (bool, error) {
	obj, err := up.client.Head(ctx, up.key)
	if errors.Is(err, s3upload.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if obj.Size != up.size || obj.Metadata["sha256"] != up.sum {
		return false, nil
	}
	if whole, _ := s3upload.Base64SHA256(up.sum); obj.ChecksumSHA256 != "" && obj.ChecksumSHA256 != whole &&
		!compositeOK(obj.ChecksumSHA256) {
		return false, nil
	}
	up.report(up.size)
	return true, nil
}

// compositeOK accepts a composite checksum ("…-N"): the parts were each checked on upload
// and the sha256 metadata names the whole.
func compositeOK(c string) bool {
	for i := len(c) - 1; i > 0; i-- {
		if c[i] == '-' {
			_, err := strconv.Atoi(c[i+1:])
			return err == nil
		}
	}
	return false
}

// multipart creates (or resumes) a multipart upload, sends the missing parts, up to
// part_concurrency at a time, and completes it.
func (up *upload) multipart(ctx context.Context, prev resumeState, partSize int64) error {
	held := map[int]s3upload.Part{}
	if prev.UploadID != "" {
		parts, err := up.client.ListParts(ctx, up.key, prev.UploadID)
		switch {
		case errors.Is(err, s3upload.ErrNoSuchUpload):
			prev = resumeState{}
			partSize = up.cfg.PartSize
		case err != nil:
			return err
		}
		for _, p := range parts {
			held[p.Number] = p
		}
	}
	var confirmedBefore partSet
	if prev.UploadID != "" {
		up.state = prev
		confirmedBefore = parsePartSet(prev.Done)
	} else {
		id, err := up.client.Create(ctx, up.key, up.meta)
		if err != nil {
			return err
		}
		up.state = resumeState{Bucket: up.cfg.Bucket, Key: up.key, UploadID: id, PartSize: partSize}
		up.report(0) // the id is kept before any part is sent
	}
	count := int((up.size + partSize - 1) / partSize)
	parts := make([]s3upload.Part, count)
	digests := make([]byte, count*sha256.Size)
	s := &sender{up: up, parts: parts, done: partSet{}, stop: make(chan struct{}),
		slots: make(chan struct{}, max(1, up.cfg.PartConcurrency))}
	// Parts are hashed in order here (the whole segment's sha256 with them) while up to
	// part_concurrency of the parts already hashed are on their way.
	whole := sha256.New()
	var readErr error
	for n := 1; n <= count; n++ {
		off := int64(n-1) * partSize
		size := min(partSize, up.size-off)
		sum, err := hashSection(ctx, up.f, off, size, whole)
		if err != nil {
			readErr = err
			break
		}
		raw, _ := hex.DecodeString(sum)
		copy(digests[(n-1)*sha256.Size:], raw)
		b64 := base64.StdEncoding.EncodeToString(raw)
		// A part the server lists is kept when it is this part: same size and sha256. A
		// server that lists no checksums is trusted for the parts this upload saw it
		// confirm (the State's set); the whole object's checks below hold either way.
		if p, ok := held[n]; ok && p.Size == size && (p.ChecksumSHA256 == b64 || p.ChecksumSHA256 == "" && confirmedBefore.has(n)) {
			p.ChecksumSHA256 = b64
			s.confirm(n, p, false)
			continue
		}
		if !s.start(ctx, n, off, size, sum) {
			break
		}
	}
	if err := s.wait(); err != nil {
		return err
	}
	if readErr != nil {
		return readErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != up.sum {
		up.abort(ctx, up.state)
		return fmt.Errorf("%w: read %s, recorded %s", ErrSegmentChanged, got, up.sum)
	}
	composite := sha256.Sum256(digests)
	want := base64.StdEncoding.EncodeToString(composite[:]) + "-" + strconv.Itoa(len(parts))
	obj, err := up.client.Complete(ctx, up.key, up.state.UploadID, parts)
	if err != nil {
		var re *s3upload.ResponseError
		switch {
		case errors.Is(err, s3upload.ErrNoSuchUpload):
			// Completed by an attempt whose answer was lost, or gone.
			if ok, herr := up.stored(ctx); herr != nil || ok {
				return herr
			}
			return errStartOver
		case errors.As(err, &re) && (re.Code == "InvalidPart" || errors.Is(err, api.ErrChecksum)):
			// The server refused the parts as a whole: this upload cannot be completed.
			up.abort(ctx, up.state)
			up.state = resumeState{Bucket: up.cfg.Bucket, Key: up.key}
			up.report(0)
		}
		return err
	}
	if obj.ChecksumSHA256 != "" && obj.ChecksumSHA256 != want {
		return fmt.Errorf("complete: composite sha256 %s, computed %s: %w: %w", obj.ChecksumSHA256, want, ErrNotStored, api.ErrChecksum)
	}
	if ok, err := up.stored(ctx); err != nil || !ok {
		return errors.Join(err, fmt.Errorf("complete: %w", ErrNotStored))
	}
	return nil
}

// sender sends the parts of one multipart upload, a bounded number at once, and records
// each part the server confirms in the resume State as soon as it is confirmed.
type sender struct {
	up    *upload
	slots chan struct{} // one per part in flight
	wg    sync.WaitGroup

	mu        sync.Mutex
	parts     []s3upload.Part
	done      partSet
	doneBytes int64
	err       error         // the first failure; no part is started after it
	stop      chan struct{} // closed at the first failure
}

// start sends part n in the background once a slot is free; false when no more parts
// should be started (a part failed, or ctx ended).
func (s *sender) start(ctx context.Context, n int, off, size int64, sum string) bool {
	select {
	case <-s.stop: // before a free slot, which select could pick as well
		return false
	default:
	}
	select {
	case s.slots <- struct{}{}:
	case <-s.stop:
		return false
	case <-ctx.Done():
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		// The part is read again from the file (the page cache, just hashed), by the
		// kernel where it can: the server refuses bytes other than the ones hashed.
		var body io.ReadSeeker = io.NewSectionReader(s.up.f, off, size)
		if pf, err := openPart(s.up.f.Name(), off, size); err == nil {
			defer pf.Close()
			body = pf
		}
		p, err := s.up.client.UploadPart(ctx, s.up.key, s.up.state.UploadID, n, body, size, sum)
		if err != nil {
			s.fail(err)
			return
		}
		s.confirm(n, p, true)
	}()
	return true
}

// confirm records part n as held by the server; report says to tell the engine now (a
// part sent), else the next report carries it (a part an earlier attempt sent).
func (s *sender) confirm(n int, p s3upload.Part, report bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts[n-1] = p
	s.done.add(n)
	s.doneBytes += p.Size
	s.up.state.Done = s.done.String()
	if report {
		s.up.report(s.doneBytes)
	}
}

func (s *sender) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		close(s.stop)
	}
}

// wait waits for the parts in flight (the ones still going are let finish: what they
// send is kept) and returns the first failure.
func (s *sender) wait() error {
	s.wg.Wait()
	if errors.Is(s.err, s3upload.ErrNoSuchUpload) {
		return errStartOver
	}
	return s.err
}

// abort removes an abandoned multipart upload, best effort (S3 lifecycle rules clear what
// is left).
func (up *upload) abort(ctx context.Context, s resumeState) {
	if s.UploadID != "" {
		_ = up.client.Abort(ctx, s.Key, s.UploadID)
	}
}

// hashSection is the hex sha256 of size bytes at off, also written to also when not nil.
func hashSection(ctx context.Context, f *os.File, off, size int64, also hash.Hash) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := sha256.New()
	w := io.Writer(h)
	if also != nil {
		w = io.MultiWriter(h, also)
	}
	n, err := io.Copy(w, ctxReader{ctx, io.NewSectionReader(f, off, size)})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("s3: read segment: %w", err)
	}
	if n != size {
		return "", fmt.Errorf("s3: segment shorter than %d bytes: %w", off+size, ErrSegmentChanged)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops reading when ctx ends, so that hashing a large segment can be cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// permanentError is a failure retrying cannot fix: it wraps its cause and sdk.ErrPermanent
// and keeps the cause's message (the server's, e.g. "InvalidAccessKeyId: …").
type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{e.err, sdk.ErrPermanent} }

func permanent(err error) error { return &permanentError{err: err} }
