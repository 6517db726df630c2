// Package s3upload uploads one object to S3-compatible storage, resumably and verified by
// sha256 checksums, with the part that signs apart from the part that sends: a Signer turns
// an Operation (create a multipart upload, upload part N with its sha256, list the parts,
// complete, abort, head, a single put) into a SignedRequest — method, URL and the headers to
// send, nothing secret — and a Client performs it over plain HTTP, parsing S3's XML answers.
//
// LocalSigner signs with credentials it holds (AWS signature v4, pre-signed URLs); a fleet
// controller can use the same signer and hand the SignedRequests out, so that a desktop sends
// without holding credentials. Every header that carries meaning — the part's
// x-amz-checksum-sha256, the object's metadata, server-side encryption — is among the signed
// headers, so the holder of a SignedRequest can send only the content it was signed for.
package s3upload

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// Op is an S3 operation of an upload.
type Op string

// The operations a Signer signs.
const (
	OpCreate     Op = "create"      // CreateMultipartUpload: POST /key?uploads
	OpUploadPart Op = "upload_part" // UploadPart: PUT /key?partNumber=N&uploadId=ID
	OpListParts  Op = "list_parts"  // ListParts: GET /key?uploadId=ID
	OpComplete   Op = "complete"    // CompleteMultipartUpload: POST /key?uploadId=ID
	OpAbort      Op = "abort"       // AbortMultipartUpload: DELETE /key?uploadId=ID
	OpHead       Op = "head"        // HeadObject (with the checksum): HEAD /key
	OpPut        Op = "put"         // PutObject, a single request: PUT /key
)

// Operation is what a Signer is asked to sign.
type Operation struct {
	Op  Op     `json:"op"`
	Key string `json:"key"`
	// UploadID is the multipart upload's id (upload_part, list_parts, complete, abort).
	UploadID string `json:"upload_id,omitempty"`
	// PartNumber is the part, from 1 (upload_part); PartNumberMarker pages list_parts.
	PartNumber       int `json:"part_number,omitempty"`
	PartNumberMarker int `json:"part_number_marker,omitempty"`
	// SHA256 is the hex sha256 of the body (upload_part, put): signed as
	// x-amz-checksum-sha256, so the server refuses other bytes.
	SHA256 string `json:"sha256,omitempty"`
	// Metadata is the object's user metadata (create, put), sent as x-amz-meta-<key>.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// SignedRequest is a signed S3 request: send it with exactly these headers (and the body
// the operation describes). It holds no credential, only a signature valid until Expires.
type SignedRequest struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Header  http.Header `json:"header,omitempty"`
	Expires time.Time   `json:"expires"`
}

// Signer signs operations. LocalSigner is one; a fleet controller's client is another.
type Signer interface {
	Sign(ctx context.Context, op Operation) (SignedRequest, error)
}

// SSE is the server-side encryption asked for at create and put.
type SSE struct {
	// Mode is "" (the bucket's default), "AES256" (SSE-S3) or "aws:kms" (SSE-KMS).
	Mode string
	// KMSKeyID is the KMS key for aws:kms; empty: the account's default key.
	KMSKeyID string
}

// The SSE modes.
const (
	SSES3  = "AES256"
	SSEKMS = "aws:kms"
)

// LocalSigner signs with credentials it holds, as pre-signed URLs (signature v4 in the query),
// so that what it returns can be handed to another process as is.
type LocalSigner struct {
	// Endpoint is the server's root URL, http or https, e.g. https://s3.eu-west-1.amazonaws.com.
	Endpoint string
	Region   string
	Bucket   string
	// PathStyle puts the bucket in the path (endpoint/bucket/key) rather than in the host name
	// (bucket.endpoint/key).
	PathStyle                                  bool
	AccessKeyID, SecretAccessKey, SessionToken string
	SSE                                        SSE
	// Expiry is how long a signature holds; 0: DefaultExpiry.
	Expiry time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// DefaultExpiry is how long LocalSigner's signatures hold.
const DefaultExpiry = time.Hour

var _ Signer = (*LocalSigner)(nil)

// Sign returns op as a pre-signed request.
func (s *LocalSigner) Sign(ctx context.Context, op Operation) (SignedRequest, error) {
	if err := ctx.Err(); err != nil {
		return SignedRequest{}, err
	}
	if op.Key == "" {
		return SignedRequest{}, fmt.Errorf("%w: no key", ErrBadOperation)
	}
	u, err := s.objectURL(op.Key)
	if err != nil {
		return SignedRequest{}, err
	}
	method, query, hdr, err := s.shape(op)
	if err != nil {
		return SignedRequest{}, err
	}
	u.RawQuery = query.Encode()
	req := http.Request{Method: method, URL: u, Header: hdr, Host: u.Host}
	expiry := s.Expiry
	if expiry <= 0 {
		expiry = DefaultExpiry
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	signed := signer.PreSignV4(req, s.AccessKeyID, s.SecretAccessKey, s.SessionToken, s.region(), int64(expiry/time.Second))
	return SignedRequest{Method: method, URL: signed.URL.String(), Header: hdr, Expires: now().Add(expiry)}, nil
}

func (s *LocalSigner) region() string {
	if s.Region == "" {
		return "us-east-1"
	}
	return s.Region
}

// objectURL is the key's URL, its path escaped as signature v4 wants it.
func (s *LocalSigner) objectURL(key string) (*url.URL, error) {
	base, err := url.Parse(s.Endpoint)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%w: endpoint %q: want an absolute http(s) URL", ErrBadOperation, s.Endpoint)
	}
	u := &url.URL{Scheme: base.Scheme, Host: base.Host}
	prefix := strings.TrimRight(base.Path, "/")
	if s.PathStyle {
		u.Path = prefix + "/" + s.Bucket + "/" + key
	} else {
		u.Host = s.Bucket + "." + base.Host
		u.Path = prefix + "/" + key
	}
	u.RawPath = s3utils.EncodePath(u.Path)
	return u, nil
}

// shape is an operation's method, query and headers, before signing.
func (s *LocalSigner) shape(op Operation) (string, url.Values, http.Header, error) {
	q, h := url.Values{}, http.Header{}
	switch op.Op {
	case OpCreate:
		q.Set("uploads", "")
		h.Set("X-Amz-Checksum-Algorithm", "SHA256")
		if err := s.objectHeaders(h, op.Metadata); err != nil {
			return "", nil, nil, err
		}
		return http.MethodPost, q, h, nil
	case OpPut:
		if err := checksumHeader(h, op.SHA256); err != nil {
			return "", nil, nil, err
		}
		if err := s.objectHeaders(h, op.Metadata); err != nil {
			return "", nil, nil, err
		}
		return http.MethodPut, q, h, nil
	case OpUploadPart:
		if op.UploadID == "" || op.PartNumber < 1 || op.PartNumber > MaxParts {
			return "", nil, nil, fmt.Errorf("%w: upload_part wants an upload id and a part number 1..%d", ErrBadOperation, MaxParts)
		}
		if err := checksumHeader(h, op.SHA256); err != nil {
			return "", nil, nil, err
		}
		q.Set("partNumber", strconv.Itoa(op.PartNumber))
		q.Set("uploadId", op.UploadID)
		return http.MethodPut, q, h, nil
	case OpListParts, OpComplete, OpAbort:
		if op.UploadID == "" {
			return "", nil, nil, fmt.Errorf("%w: %s wants an upload id", ErrBadOperation, op.Op)
		}
		q.Set("uploadId", op.UploadID)
		switch op.Op {
		case OpListParts:
			if op.PartNumberMarker > 0 {
				q.Set("part-number-marker", strconv.Itoa(op.PartNumberMarker))
			}
			return http.MethodGet, q, h, nil
		case OpComplete:
			return http.MethodPost, q, h, nil
		}
		return http.MethodDelete, q, h, nil
	case OpHead:
		h.Set("X-Amz-Checksum-Mode", "ENABLED")
		return http.MethodHead, q, h, nil
	}
	return "", nil, nil, fmt.Errorf("%w: unknown operation %q", ErrBadOperation, op.Op)
}

// objectHeaders adds the object's content type, user metadata and encryption.
func (s *LocalSigner) objectHeaders(h http.Header, meta map[string]string) error {
	h.Set("Content-Type", "video/mp4")
	if err := CheckMetadata(meta); err != nil {
		return err
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Set("X-Amz-Meta-"+k, meta[k])
	}
	switch s.SSE.Mode {
	case "":
	case SSES3:
		h.Set("X-Amz-Server-Side-Encryption", SSES3)
	case SSEKMS:
		h.Set("X-Amz-Server-Side-Encryption", SSEKMS)
		if s.SSE.KMSKeyID != "" {
			h.Set("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", s.SSE.KMSKeyID)
		}
	default:
		return fmt.Errorf("%w: server-side encryption %q: want %q or %q", ErrBadOperation, s.SSE.Mode, SSES3, SSEKMS)
	}
	return nil
}

// checksumHeader sets x-amz-checksum-sha256 from a hex sha256.
func checksumHeader(h http.Header, hexSum string) error {
	b64, err := Base64SHA256(hexSum)
	if err != nil {
		return err
	}
	h.Set("X-Amz-Checksum-Sha256", b64)
	return nil
}

// Base64SHA256 turns a hex sha256 into S3's base64 form.
func Base64SHA256(hexSum string) (string, error) {
	raw, err := hex.DecodeString(hexSum)
	if err != nil || len(raw) != sha256.Size {
		return "", fmt.Errorf("%w: sha256 %q: want 64 hex digits", ErrBadOperation, hexSum)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// MaxParts is S3's limit of parts in one multipart upload.
const MaxParts = 10000

// MaxMetadataBytes is S3's limit on user metadata: keys and values, as sent, together.
const MaxMetadataBytes = 2048

// CheckMetadata checks user metadata against S3's rules: keys of lower-case letters, digits,
// '-' and '_'; printable ASCII values; at most MaxMetadataBytes in all.
func CheckMetadata(meta map[string]string) error {
	total := 0
	for k, v := range meta {
		if k == "" {
			return fmt.Errorf("%w: empty metadata key", ErrBadMetadata)
		}
		for _, r := range k {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("%w: key %q: want lower-case letters, digits, '-' and '_'", ErrBadMetadata, k)
			}
		}
		for _, r := range v {
			if r < 0x20 || r > 0x7e {
				return fmt.Errorf("%w: value of %q: want printable ASCII", ErrBadMetadata, k)
			}
		}
		total += len(k) + len(v)
	}
	if total > MaxMetadataBytes {
		return fmt.Errorf("%w: %d bytes, S3 allows %d", ErrBadMetadata, total, MaxMetadataBytes)
	}
	return nil
}
