package s3upload

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/screenrec/recorder/engine/api"
)

// Client performs operations over plain HTTP with what its Signer returns; it holds no
// credentials.
type Client struct {
	Signer Signer
	HTTP   *http.Client
	// Timeout bounds each request, a whole part included; 0: none beyond ctx.
	Timeout   time.Duration
	UserAgent string
}

// Part is a part of a multipart upload, as the server confirmed it.
type Part struct {
	Number int    `xml:"PartNumber"`
	ETag   string `xml:"ETag"`
	Size   int64  `xml:"Size"`
	// ChecksumSHA256 is the part's sha256, base64 as S3 writes it.
	ChecksumSHA256 string `xml:"ChecksumSHA256"`
}

// Object is an object's head.
type Object struct {
	Size int64
	ETag string
	// ChecksumSHA256 is the object's checksum, base64: for a multipart object the composite
	// "<base64 sha256 of the parts' sha256s>-<parts>".
	ChecksumSHA256 string
	// Metadata is its user metadata, keys in lower case without x-amz-meta-.
	Metadata map[string]string
}

// Create starts a multipart upload with sha256 checksums and returns its id.
func (c *Client) Create(ctx context.Context, key string, meta map[string]string) (string, error) {
	var res struct {
		UploadID string `xml:"UploadId"`
	}
	if _, err := c.do(ctx, Operation{Op: OpCreate, Key: key, Metadata: meta}, nil, 0, &res); err != nil {
		return "", err
	}
	if res.UploadID == "" {
		return "", fmt.Errorf("%w: create: no UploadId", ErrBadAnswer)
	}
	return res.UploadID, nil
}

// UploadPart sends part n, size bytes of body whose hex sha256 is sum; the server checks the
// bytes against sum and refuses others (an error wrapping api.ErrChecksum).
func (c *Client) UploadPart(ctx context.Context, key, uploadID string, n int, body io.ReadSeeker, size int64, sum string) (Part, error) {
	h, err := c.do(ctx, Operation{Op: OpUploadPart, Key: key, UploadID: uploadID, PartNumber: n, SHA256: sum}, body, size, nil)
	if err != nil {
		return Part{}, err
	}
	want, _ := Base64SHA256(sum)
	p := Part{Number: n, ETag: h.Get("ETag"), Size: size, ChecksumSHA256: h.Get("X-Amz-Checksum-Sha256")}
	if p.ChecksumSHA256 != "" && p.ChecksumSHA256 != want {
		return Part{}, fmt.Errorf("%w: upload_part %d: server's sha256 %s, sent %s: %w", ErrBadAnswer, n, p.ChecksumSHA256, want, api.ErrChecksum)
	}
	p.ChecksumSHA256 = want
	return p, nil
}

// ListParts returns the parts the server holds, in order (every page).
func (c *Client) ListParts(ctx context.Context, key, uploadID string) ([]Part, error) {
	var all []Part
	marker := 0
	for {
		var res struct {
			IsTruncated          bool
			NextPartNumberMarker int
			Parts                []Part `xml:"Part"`
		}
		if _, err := c.do(ctx, Operation{Op: OpListParts, Key: key, UploadID: uploadID, PartNumberMarker: marker}, nil, 0, &res); err != nil {
			return nil, err
		}
		all = append(all, res.Parts...)
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			return all, nil
		}
		marker = res.NextPartNumberMarker
	}
}

// Complete assembles the parts and returns the object's ETag and composite checksum.
func (c *Client) Complete(ctx context.Context, key, uploadID string, parts []Part) (Object, error) {
	type xmlPart struct {
		PartNumber     int
		ETag           string
		ChecksumSHA256 string `xml:",omitempty"`
	}
	body := struct {
		XMLName xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUpload"`
		Parts   []xmlPart `xml:"Part"`
	}{}
	for _, p := range parts {
		body.Parts = append(body.Parts, xmlPart{PartNumber: p.Number, ETag: p.ETag, ChecksumSHA256: p.ChecksumSHA256})
	}
	raw, err := xml.Marshal(body)
	if err != nil {
		return Object{}, err
	}
	var res struct {
		ETag           string
		ChecksumSHA256 string
	}
	if _, err := c.do(ctx, Operation{Op: OpComplete, Key: key, UploadID: uploadID}, bytes.NewReader(raw), int64(len(raw)), &res); err != nil {
		return Object{}, err
	}
	return Object{ETag: res.ETag, ChecksumSHA256: res.ChecksumSHA256}, nil
}

// Abort removes a multipart upload and its parts.
func (c *Client) Abort(ctx context.Context, key, uploadID string) error {
	_, err := c.do(ctx, Operation{Op: OpAbort, Key: key, UploadID: uploadID}, nil, 0, nil)
	return err
}

// Head returns the object's size, checksum and metadata; ErrNotFound when there is none.
func (c *Client) Head(ctx context.Context, key string) (Object, error) {
	h, err := c.do(ctx, Operation{Op: OpHead, Key: key}, nil, 0, nil)
	if err != nil {
		return Object{}, err
	}
	o := Object{ETag: h.Get("ETag"), ChecksumSHA256: h.Get("X-Amz-Checksum-Sha256"), Metadata: map[string]string{}}
	fmt.Sscan(h.Get("Content-Length"), &o.Size)
	for k, v := range h {
		if rest, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok && len(v) > 0 {
			o.Metadata[rest] = v[0]
		}
	}
	return o, nil
}

// Put sends the whole object in one request, checked by the server against its hex sha256.
func (c *Client) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, sum string, meta map[string]string) (Object, error) {
	h, err := c.do(ctx, Operation{Op: OpPut, Key: key, SHA256: sum, Metadata: meta}, body, size, nil)
	if err != nil {
		return Object{}, err
	}
	want, _ := Base64SHA256(sum)
	o := Object{Size: size, ETag: h.Get("ETag"), ChecksumSHA256: h.Get("X-Amz-Checksum-Sha256")}
	if o.ChecksumSHA256 != "" && o.ChecksumSHA256 != want {
		return Object{}, fmt.Errorf("%w: put: server's sha256 %s, sent %s: %w", ErrBadAnswer, o.ChecksumSHA256, want, api.ErrChecksum)
	}
	return o, nil
}

// maxAnswer bounds an answer's body read into memory (a ListParts page of 1000 parts is
// about 300 KiB).
const maxAnswer = 8 << 20

// do signs op, sends it with body, and decodes a 2xx answer's XML into out (when not nil);
// it returns the answer's headers.
func (c *Client) do(ctx context.Context, op Operation, body io.ReadSeeker, size int64, out any) (http.Header, error) {
	sr, err := c.Signer.Sign(ctx, op)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: %w", op.Op, err)
	}
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if c.Timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, sr.Method, sr.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: signed URL: %v", ErrBadAnswer, op.Op, err)
	}
	for k, v := range sr.Header {
		req.Header[k] = append([]string(nil), v...)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if body != nil {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(body)
		if fb, ok := body.(fileBody); ok {
			req.Body = connBody{fb}
		}
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.netError(ctx, rctx, op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, c.netError(ctx, rctx, op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, responseError(op.Op, resp.StatusCode, raw)
	}
	// CompleteMultipartUpload may answer 200 with an error document.
	if op.Op == OpComplete && bytes.Contains(raw[:min(len(raw), 256)], []byte("<Error")) {
		return nil, responseError(op.Op, http.StatusInternalServerError, raw)
	}
	if out != nil {
		if err := xml.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadAnswer, op.Op, err)
		}
	}
	return resp.Header, nil
}

// fileBody is a body the kernel can send from: a file, or a part of one whose Read stops at
// the part's end.
type fileBody interface {
	io.Reader
	syscall.Conn
}

// connBody passes a fileBody to the transport so that net's TCP ReadFrom finds its
// syscall.Conn and sends with sendfile(2), without a copy through user space (io.NopCloser
// would hide it). Closing it leaves the file open: the caller owns it.
type connBody struct{ fileBody }

func (connBody) Close() error { return nil }

// netError names a failure that got no answer by its kind; the parent context's end is
// returned as itself.
func (c *Client) netError(ctx, rctx context.Context, op Operation, err error) error {
	// The URL holds a signature valid for a while: it stays out of messages.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op.Op, ctx.Err())
	}
	if rctx.Err() != nil {
		return fmt.Errorf("%s: %w after %s", op.Op, api.ErrTimeout, c.Timeout)
	}
	return fmt.Errorf("%s: %w", op.Op, api.WrapFailure(err))
}

// responseError reads an S3 error document.
func responseError(op Op, status int, raw []byte) error {
	var doc struct {
		Code, Message string
		RequestID     string `xml:"RequestId"`
	}
	_ = xml.Unmarshal(raw, &doc)
	return &ResponseError{Op: op, StatusCode: status, Code: doc.Code, Message: doc.Message, RequestID: doc.RequestID}
}
