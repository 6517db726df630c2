// Package tus is a small client of the tus 1.0.0 resumable upload protocol (tus.io): core,
// creation, checksum (sha256) and termination. It does what one upload needs — create,
// find the offset, send chunks, terminate — and leaves retries across calls, failover and
// persistence of locations to its caller.
//
// Every chunk is sent with Upload-Checksum: sha256; a chunk the server refuses with 460 is
// sent again, up to ChecksumRetries times — unless the server refused the whole file
// (ErrRejected: a 460 on the last chunk after which the upload is gone or its offset moved).
// Upload reports success only on the server's confirmation of the whole length; a PATCH
// that failed server-side is followed by a HEAD, so that a lost answer costs no second copy.
// Errors are classified with IsServerSide (try later or elsewhere) and IsPermanent (give
// up); ErrNotFound means the upload is gone (create a new one); each also wraps the
// engine's failure kind (api.ErrRefused, api.ErrTimeout, …).
package tus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is the tus protocol version spoken, sent as Tus-Resumable.
const Version = "1.0.0"

// Defaults and limits.
const (
	// DefaultChunkSize is the PATCH size when Client.ChunkSize is 0: 4 MiB.
	DefaultChunkSize = 4 << 20
	// ChecksumRetries is how many times a chunk answered 460 is sent again before Patch
	// gives up with ErrChecksum.
	ChecksumRetries = 3
	// maxConflicts is how many 409 answers in a row Upload resolves by asking the offset.
	maxConflicts = 3
)

// Auth is HTTP Basic credentials; the zero value sends none.
type Auth struct {
	Username string
	Password string
}

// Client is a tus client. The zero value works: http.DefaultClient, 4 MiB chunks, no
// per-request timeout. It is safe for concurrent use by several uploads.
type Client struct {
	// HTTP sends the requests; nil: http.DefaultClient.
	HTTP *http.Client
	// ChunkSize is the most bytes Upload sends per PATCH; 0: DefaultChunkSize.
	ChunkSize int64
	// Timeout bounds each request (a PATCH included, its body and all); 0: none. A request
	// that takes longer fails with ErrTimeout.
	Timeout time.Duration
	// UserAgent is sent as User-Agent when set.
	UserAgent string
	// RetryDelay is the pause before Upload asks where an upload stands after a PATCH
	// failed server-side (doubling for each further failure in the call); 0:
	// DefaultRetryDelay.
	RetryDelay time.Duration
}

// DefaultRetryDelay is the first pause before asking the offset after a failed PATCH.
const DefaultRetryDelay = 250 * time.Millisecond

func (c *Client) retryDelay() time.Duration {
	if c.RetryDelay > 0 {
		return c.RetryDelay
	}
	return DefaultRetryDelay
}

func (c *Client) chunkSize() int64 {
	if c.ChunkSize > 0 {
		return c.ChunkSize
	}
	return DefaultChunkSize
}

// Create creates an upload of size bytes at base (the tus creation endpoint) and returns its
// absolute location. meta is sent as Upload-Metadata; keys must be non-empty and hold no
// space or comma.
func (c *Client) Create(ctx context.Context, base string, size int64, meta map[string]string, auth Auth) (string, error) {
	if size < 0 {
		return "", fmt.Errorf("tus: create: negative size %d", size)
	}
	md, err := EncodeMetadata(meta)
	if err != nil {
		return "", err
	}
	h := http.Header{"Upload-Length": {strconv.FormatInt(size, 10)}}
	if md != "" {
		h.Set("Upload-Metadata", md)
	}
	resp, err := c.do(ctx, http.MethodPost, base, h, nil, auth)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", wrap(http.MethodPost, base, statusError(resp))
	}
	drain(resp)
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", wrap(http.MethodPost, base, fmt.Errorf("%w: 201 without a Location", ErrProtocol))
	}
	baseURL, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("tus: %w", err)
	}
	abs, err := baseURL.Parse(loc)
	if err != nil {
		return "", wrap(http.MethodPost, base, fmt.Errorf("%w: Location %q: %w", ErrProtocol, loc, err))
	}
	return abs.String(), nil
}

// Offset asks how many bytes of the upload at location the server has (HEAD).
func (c *Client) Offset(ctx context.Context, location string, auth Auth) (int64, error) {
	resp, err := c.do(ctx, http.MethodHead, location, http.Header{"Cache-Control": {"no-store"}}, nil, auth)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return 0, wrap(http.MethodHead, location, statusError(resp))
	}
	drain(resp)
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || off < 0 {
		return 0, wrap(http.MethodHead, location, fmt.Errorf("%w: Upload-Offset %q", ErrProtocol, resp.Header.Get("Upload-Offset")))
	}
	if l := resp.Header.Get("Upload-Length"); l != "" {
		if n, err := strconv.ParseInt(l, 10, 64); err == nil && off > n {
			return 0, wrap(http.MethodHead, location, fmt.Errorf("%w: Upload-Offset %d beyond Upload-Length %d", ErrProtocol, off, n))
		}
	}
	return off, nil
}

// Patch sends chunk at offset with its sha256 as Upload-Checksum and returns the offset the
// server confirmed. A 460 answer is retried up to ChecksumRetries times, then reported as
// ErrChecksum — but 460 is also how a server refuses the whole file when the last chunk
// arrives, so after each 460 Patch asks the offset (HEAD) first: an upload that is gone, or
// whose offset moved although the chunk was refused, was refused as a whole (ErrRejected)
// and the chunk is not sent again.
func (c *Client) Patch(ctx context.Context, location string, offset int64, chunk []byte, auth Auth) (int64, error) {
	sum := sha256.Sum256(chunk)
	checksum := "sha256 " + base64.StdEncoding.EncodeToString(sum[:])
	for attempt := 0; ; attempt++ {
		n, err := c.patchOnce(ctx, location, offset, chunk, checksum, auth)
		if !errors.Is(err, ErrChecksum) {
			return n, err
		}
		if rerr := c.afterMismatch(ctx, location, offset, err, auth); rerr != nil {
			return 0, rerr
		}
		if attempt >= ChecksumRetries {
			return n, err
		}
	}
}

// afterMismatch asks where an upload stands after a 460 answer (mismatch) to a chunk sent at
// offset: nil when the server still holds offset bytes (the chunk was not kept: send it
// again), an error wrapping ErrRejected when the upload is gone or holds more (the server
// kept the bytes but refused the content), else the HEAD's own error.
func (c *Client) afterMismatch(ctx context.Context, location string, offset int64, mismatch error, auth Auth) error {
	n, err := c.Offset(ctx, location, auth)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w (then HEAD: %w)", ErrRejected, mismatch, err)
	case err != nil:
		return err
	case n != offset:
		return fmt.Errorf("%w: %w (yet the server holds %d bytes)", ErrRejected, mismatch, n)
	}
	return nil
}

func (c *Client) patchOnce(ctx context.Context, location string, offset int64, chunk []byte, checksum string, auth Auth) (int64, error) {
	h := http.Header{
		"Content-Type":    {"application/offset+octet-stream"},
		"Upload-Offset":   {strconv.FormatInt(offset, 10)},
		"Upload-Checksum": {checksum},
	}
	resp, err := c.do(ctx, http.MethodPatch, location, h, chunk, auth)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return 0, wrap(http.MethodPatch, location, statusError(resp))
	}
	drain(resp)
	got, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	switch {
	case err != nil:
		return 0, wrap(http.MethodPatch, location, fmt.Errorf("%w: Upload-Offset %q", ErrProtocol, resp.Header.Get("Upload-Offset")))
	case got < offset || got > offset+int64(len(chunk)):
		return 0, wrap(http.MethodPatch, location, fmt.Errorf("%w: Upload-Offset %d after sending %d bytes at %d", ErrProtocol, got, len(chunk), offset))
	case got == offset && len(chunk) > 0:
		return 0, wrap(http.MethodPatch, location, fmt.Errorf("%w: the server kept none of %d bytes at %d", ErrProtocol, len(chunk), offset))
	}
	return got, nil
}

// Terminate deletes the upload at location (termination extension). An upload already gone
// gives an error matching ErrNotFound.
func (c *Client) Terminate(ctx context.Context, location string, auth Auth) error {
	resp, err := c.do(ctx, http.MethodDelete, location, nil, nil, auth)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return wrap(http.MethodDelete, location, statusError(resp))
	}
	drain(resp)
	return nil
}

// Bounds on resolving PATCHes that failed server-side (lost answer, cut connection, refused
// connection, 5xx) by asking the offset and going on: at most maxInterruptions in one Upload
// call, and at most maxUnanswered questions in a row that get no answer (pauses of
// RetryDelay, doubling: 1.75 s by default) before the caller is left to fail over.
const (
	maxInterruptions = 16
	maxUnanswered    = 3
)

// Upload sends r's bytes from offset to size to the upload at location, chunk by chunk,
// calling progress (when not nil) with the offset the server confirmed after each chunk. A
// 409 (the server's offset differs) is resolved by asking the offset and going on from
// there; so is a PATCH that failed server-side (its answer lost, the connection cut or
// refused, a 5xx), after a pause, when the server answers the HEAD — a chunk it kept is not
// sent twice. It returns nil once the server confirmed size
// bytes: the answer to the last PATCH, or a HEAD that reports the whole length, which the
// RWS protocol gives only for an upload whose whole-file checksum the server accepted (it
// answers 410 for a refused one). A refusal of the whole file is ErrRejected.
func (c *Client) Upload(ctx context.Context, location string, r io.ReaderAt, size, offset int64, auth Auth, progress func(int64)) error {
	if offset < 0 || offset > size {
		return fmt.Errorf("tus: upload: offset %d outside 0..%d", offset, size)
	}
	report := func(off int64) {
		if progress != nil {
			progress(off)
		}
	}
	buf := make([]byte, min(c.chunkSize(), size-offset))
	conflicts, interruptions := 0, 0
	for offset < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := buf[:min(int64(len(buf)), size-offset)]
		if n, err := r.ReadAt(chunk, offset); n < len(chunk) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("%w at %d of %d: %w", ErrSource, offset+int64(n), size, err)
		}
		next, err := c.Patch(ctx, location, offset, chunk, auth)
		var se *StatusError
		switch {
		case errors.As(err, &se) && se.Code == http.StatusConflict && conflicts < maxConflicts:
			conflicts++
		case err != nil && IsServerSide(err) && ctx.Err() == nil && interruptions < maxInterruptions:
			// The answer may be lost while the chunk was stored, or the server may be back
			// in a moment: ask (after a pause, a longer one each time), and go on from where
			// it stands — a failover would send everything again. A server that does not
			// answer maxUnanswered questions is left to the caller (another server, or
			// later).
			interruptions++
			got, herr := int64(-1), err
			for unanswered := 0; herr != nil && !IsPermanent(herr) && !errors.Is(herr, ErrNotFound) && unanswered < maxUnanswered; unanswered++ {
				select {
				case <-time.After(c.retryDelay() << unanswered):
				case <-ctx.Done():
					return err
				}
				got, herr = c.Offset(ctx, location, auth)
			}
			if herr != nil && herr != err {
				return fmt.Errorf("%w (then HEAD: %w)", err, herr)
			}
			if herr != nil || got < offset || got > size {
				return err
			}
			if got > offset {
				offset = got
				report(offset)
			}
			continue
		case err != nil:
			return err
		default:
			conflicts = 0
			offset = next
			report(offset)
			continue
		}
		next, err = c.Offset(ctx, location, auth)
		if err == nil && next > size {
			err = fmt.Errorf("tus: %s: %w: offset %d beyond size %d", location, ErrProtocol, next, size)
		}
		if err != nil {
			return err
		}
		if next != offset {
			offset = next
			report(offset)
		}
	}
	return nil
}

// EncodeMetadata encodes meta as an Upload-Metadata value: "key base64(value)" pairs,
// comma-separated, keys sorted (a key with an empty value alone).
func EncodeMetadata(meta map[string]string) (string, error) {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k == "" || strings.ContainsAny(k, " ,\t\r\n") {
			return "", fmt.Errorf("tus: metadata key %q: want a non-empty key without spaces or commas", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		if v := meta[k]; v != "" {
			b.WriteByte(' ')
			b.WriteString(base64.StdEncoding.EncodeToString([]byte(v)))
		}
	}
	return b.String(), nil
}

// do sends one request and returns the response with its body open. Transport errors are
// wrapped with the method and URL; a request that outlived Timeout is ErrTimeout.
func (c *Client) do(ctx context.Context, method, target string, h http.Header, body []byte, auth Auth) (*http.Response, error) {
	reqCtx, cancel := ctx, context.CancelFunc(func() {})
	if c.Timeout > 0 {
		reqCtx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, target, rd)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tus: %s %s: %w", method, target, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Tus-Resumable", Version)
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if auth.Username != "" || auth.Password != "" {
		req.SetBasicAuth(auth.Username, auth.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// Read why before releasing the request's timer: cancel() would make every
		// failure look like an expired timeout.
		timedOut := c.Timeout > 0 && errors.Is(reqCtx.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case ctx.Err() != nil:
			// The caller stopped: not the server's fault, no failure kind.
			return nil, fmt.Errorf("tus: %s %s: %w", method, target, ctx.Err())
		case timedOut:
			return nil, wrap(method, target, fmt.Errorf("%w after %s", ErrTimeout, c.Timeout))
		}
		// The url.Error already names the method and URL.
		return nil, fmt.Errorf("tus: %w", transportError(err))
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases a request's timeout when its response body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// statusError reads an unexpected answer into a *StatusError and closes it.
func statusError(resp *http.Response) *StatusError {
	defer drain(resp)
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxMessage))
	msg := strings.Join(strings.Fields(string(raw)), " ")
	return &StatusError{Code: resp.StatusCode, Message: msg}
}

// drain reads what is left of a response body (a little) and closes it, so the connection
// can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

func wrap(method, target string, err error) error {
	return fmt.Errorf("tus: %s %s: %w", method, target, err)
}
