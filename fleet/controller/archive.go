package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/pkg/s3upload"
)

// Presigner signs agents' archive uploads and checks what landed: the controller holds the
// archive's credentials, agents only ever see signed requests. Archive is the S3 one.
type Presigner interface {
	// Presign signs op for machine (op.Key relative to the machine's key space) and says
	// where the object goes; an operation or key the machine may not use is refused with an
	// error wrapping fleet.ErrForbidden.
	Presign(ctx context.Context, machine string, op s3upload.Operation) (s3upload.SignedRequest, fleet.ArchiveObject, error)
	// Landed checks, with the controller's own credentials, that machine's object key
	// (relative) holds seg whole, and returns it as landed.
	Landed(ctx context.Context, machine, key string, seg fleet.Segment) (fleet.ArchiveObject, error)
}

// ArchiveConfig configures Archive.
type ArchiveConfig struct {
	Endpoint, Region, Bucket string
	PathStyle                bool
	// The credentials, resolved (the config gives them by reference).
	AccessKeyID, SecretAccessKey, SessionToken string
	// Prefix starts every key, before the machine's id; empty: keys start with the machine.
	Prefix string
	SSE    s3upload.SSE
	// Expiry is how long a signed request holds; 0: s3upload.DefaultExpiry.
	Expiry time.Duration
	// HTTP sends the controller's own requests (HEAD of landed objects); nil: a default
	// client.
	HTTP *http.Client
}

// AgentOps are the operations an agent may have signed, on its own keys only: those of an
// upload and of checking it. Nothing lists the bucket or deletes an object.
var AgentOps = []s3upload.Op{s3upload.OpCreate, s3upload.OpUploadPart, s3upload.OpListParts,
	s3upload.OpComplete, s3upload.OpAbort, s3upload.OpHead, s3upload.OpPut}

// maxKeyBytes bounds a full key (S3 allows 1024).
const maxKeyBytes = 1024

// Archive is the S3 archive the controller signs agents' uploads for. Each machine is
// confined to its key space: <prefix>/<machine>/<the agent's key>.
type Archive struct {
	cfg    ArchiveConfig
	signer *s3upload.LocalSigner
	client *s3upload.Client
}

var _ Presigner = (*Archive)(nil)

// NewArchive checks cfg and returns the archive.
func NewArchive(cfg ArchiveConfig) (*Archive, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: archive endpoint %q: want an absolute http(s) URL", api.ErrInvalidRequest, cfg.Endpoint)
	}
	if cfg.Bucket == "" || cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, fmt.Errorf("%w: archive: bucket, access key id and secret are required", api.ErrInvalidRequest)
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	if cfg.Prefix != "" {
		if err := checkRelKey(cfg.Prefix); err != nil {
			return nil, fmt.Errorf("archive prefix: %w", err)
		}
	}
	s := &s3upload.LocalSigner{Endpoint: cfg.Endpoint, Region: cfg.Region, Bucket: cfg.Bucket, PathStyle: cfg.PathStyle,
		AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken,
		SSE: cfg.SSE, Expiry: cfg.Expiry}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	return &Archive{cfg: cfg, signer: s, client: &s3upload.Client{Signer: s, HTTP: hc, Timeout: time.Minute}}, nil
}

// Key is machine's key rel in the bucket.
func (a *Archive) Key(machine, rel string) (string, error) {
	if err := fleet.CheckMachine(machine); err != nil {
		return "", err
	}
	if err := checkRelKey(rel); err != nil {
		return "", err
	}
	full := machine + "/" + rel
	if a.cfg.Prefix != "" {
		full = a.cfg.Prefix + "/" + full
	}
	if len(full) > maxKeyBytes {
		return "", fmt.Errorf("%w: key of %d bytes under %s: S3 allows %d", fleet.ErrForbidden, len(full), machine, maxKeyBytes)
	}
	return full, nil
}

// checkRelKey refuses a key that could name anything outside the key space it is put under:
// one starting with '/', with empty, "." or ".." segments, backslashes or control characters.
func checkRelKey(rel string) error {
	if rel == "" {
		return fmt.Errorf("%w: empty key", fleet.ErrForbidden)
	}
	if strings.HasPrefix(rel, "/") {
		return fmt.Errorf("%w: key %q: keys are relative to the machine's key space, not absolute", fleet.ErrForbidden, rel)
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: key %q: empty, '.' or '..' segments could leave the machine's key space", fleet.ErrForbidden, rel)
		}
	}
	for _, r := range rel {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("%w: key %q: control characters and backslashes are refused", fleet.ErrForbidden, rel)
		}
	}
	return nil
}

// object is machine's object at full key.
func (a *Archive) object(full, state string) fleet.ArchiveObject {
	loc := strings.TrimRight(a.cfg.Endpoint, "/") + "/" + a.cfg.Bucket + "/" + full
	return fleet.ArchiveObject{Bucket: a.cfg.Bucket, Key: full, Location: loc, State: state, Time: time.Now().UTC()}
}

// Presign implements Presigner.
func (a *Archive) Presign(ctx context.Context, machine string, op s3upload.Operation) (s3upload.SignedRequest, fleet.ArchiveObject, error) {
	allowed := false
	for _, o := range AgentOps {
		allowed = allowed || o == op.Op
	}
	if !allowed {
		return s3upload.SignedRequest{}, fleet.ArchiveObject{}, fmt.Errorf("%w: operation %q: an agent may have %v signed, on its own keys only",
			fleet.ErrForbidden, op.Op, AgentOps)
	}
	full, err := a.Key(machine, op.Key)
	if err != nil {
		return s3upload.SignedRequest{}, fleet.ArchiveObject{}, err
	}
	op.Key = full
	sr, err := a.signer.Sign(ctx, op)
	if err != nil {
		if errors.Is(err, s3upload.ErrBadOperation) || errors.Is(err, s3upload.ErrBadMetadata) {
			err = fmt.Errorf("%w: %w", api.ErrInvalidRequest, err)
		}
		return s3upload.SignedRequest{}, fleet.ArchiveObject{}, err
	}
	return sr, a.object(full, fleet.ArchivePending), nil
}

// Landed implements Presigner: a HEAD with the controller's credentials; the object must have
// the segment's size and sha256 (the uploader's sha256 metadata, and the checksum of a single
// PUT).
func (a *Archive) Landed(ctx context.Context, machine, key string, seg fleet.Segment) (fleet.ArchiveObject, error) {
	full, err := a.Key(machine, key)
	if err != nil {
		return fleet.ArchiveObject{}, err
	}
	obj, err := a.client.Head(ctx, full)
	if err != nil {
		return fleet.ArchiveObject{}, fmt.Errorf("archive: head %s: %w", full, err)
	}
	sum := obj.Metadata["sha256"]
	switch {
	case seg.Bytes > 0 && obj.Size != seg.Bytes:
		return fleet.ArchiveObject{}, fmt.Errorf("%w: %s holds %d bytes, the segment has %d", ErrNotLanded, full, obj.Size, seg.Bytes)
	case seg.SHA256 != "" && sum != seg.SHA256:
		return fleet.ArchiveObject{}, fmt.Errorf("%w: %s has sha256 %q, the segment %q", ErrNotLanded, full, sum, seg.SHA256)
	}
	if whole, err := s3upload.Base64SHA256(sum); err == nil && obj.ChecksumSHA256 != "" &&
		!strings.Contains(obj.ChecksumSHA256, "-") && obj.ChecksumSHA256 != whole {
		return fleet.ArchiveObject{}, fmt.Errorf("%w: %s: the server's checksum %s is not the sha256 %s", ErrNotLanded, full, obj.ChecksumSHA256, sum)
	}
	o := a.object(full, fleet.ArchiveLanded)
	o.Bytes, o.SHA256 = obj.Size, sum
	return o, nil
}
