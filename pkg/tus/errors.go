package tus

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"

	"github.com/screenrec/recorder/engine/api"
)

// Sentinel errors. Errors from a Client wrap one of these, a *StatusError, or the transport's
// error; classify them with errors.Is / errors.As, IsServerSide and IsPermanent. Each also
// wraps the engine's failure kind (api.ErrTimeout, api.ErrRefused, api.ErrReset,
// api.ErrChecksum, api.ErrAuth, api.ErrHTTP, …) so that api.ClassifyFailure tells what went
// wrong truly: a refused connection is not a timeout.
var (
	// ErrNotFound: the server answered 404 or 410 on an upload's location — it dropped the
	// upload (or never had it). Create a new one. A *StatusError with that code matches it.
	ErrNotFound = errors.New("tus: upload not found")
	// ErrChecksum: the server answered 460 Checksum Mismatch ChecksumRetries+1 times in a
	// row for the same chunk. A *StatusError with code 460 matches it.
	ErrChecksum = errors.New("tus: checksum mismatch")
	// ErrRejected: the server refused the upload's content as a whole (the whole-file
	// sha256 check when the last byte arrived): it holds no accepted copy and never will at
	// this location. Terminate it and start a new upload. Not server-side, not permanent;
	// it wraps api.ErrChecksum.
	ErrRejected error = &kindError{msg: "tus: the server refused the complete upload's content", kind: api.ErrChecksum}
	// ErrTimeout: a request took longer than Client.Timeout. Server-side; it wraps
	// api.ErrTimeout.
	ErrTimeout error = &kindError{msg: "tus: request timed out", kind: api.ErrTimeout}
	// ErrProtocol: the server answered something tus 1.0.0 does not allow (no Location after
	// a creation, an Upload-Offset out of range, …). Server-side.
	ErrProtocol = errors.New("tus: protocol violation")
	// ErrSource: reading the data to upload failed (locally); io.ErrUnexpectedEOF is also
	// wrapped when the source is shorter than the size given.
	ErrSource = errors.New("tus: reading the source")
)

// StatusChecksumMismatch is the checksum extension's 460 Checksum Mismatch.
const StatusChecksumMismatch = 460

// maxMessage bounds how much of an error answer's body StatusError keeps.
const maxMessage = 1024

// StatusError is an answer with a status the request does not expect.
type StatusError struct {
	// Code is the HTTP status.
	Code int
	// Message is the server's answer body (trimmed, at most 1 KiB), or empty.
	Message string
}

// Error reads "401 Unauthorized: <message>".
func (e *StatusError) Error() string {
	s := strconv.Itoa(e.Code) + " " + statusText(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes a 404 or 410 match ErrNotFound, a 460 ErrChecksum and api.ErrChecksum, a 401 or
// 403 api.ErrAuth, and any other status api.ErrHTTP.
func (e *StatusError) Is(target error) bool {
	auth := e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound || e.Code == http.StatusGone
	case ErrChecksum, api.ErrChecksum:
		return e.Code == StatusChecksumMismatch
	case api.ErrAuth:
		return auth
	case api.ErrHTTP:
		return !auth && e.Code != StatusChecksumMismatch
	}
	return false
}

// kindError is a sentinel of this package that also wraps an engine failure kind.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// transportError wraps a transport failure with its failure kind (api.WrapFailure), a
// connection closed mid-answer (io.EOF and the like) counting as reset.
func transportError(err error) error {
	if w := api.WrapFailure(err); w != err {
		return w
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &wrapKind{err: err, kind: api.ErrReset}
	}
	return err
}

// wrapKind is an error that also wraps a failure kind, keeping its message.
type wrapKind struct{ err, kind error }

func (e *wrapKind) Error() string   { return e.err.Error() }
func (e *wrapKind) Unwrap() []error { return []error{e.err, e.kind} }

func statusText(code int) string {
	if code == StatusChecksumMismatch {
		return "Checksum Mismatch"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Status " + strconv.Itoa(code)
}

// IsServerSide reports whether err is the server's or the network's fault: a connection
// error, a timeout, a 5xx, a protocol violation. Another server (a peer data centre) may do
// better. A cancelled or expired ctx of the caller is not.
func IsServerSide(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500
	}
	if errors.Is(err, ErrRejected) {
		return false
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrProtocol) || errors.Is(err, api.ErrRefused) ||
		errors.Is(err, api.ErrReset) || errors.Is(err, api.ErrTimeout) || errors.Is(err, api.ErrDNS) || errors.Is(err, api.ErrTLS) {
		return true
	}
	if errors.Is(err, ErrSource) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// IsPermanent reports whether err is an answer retrying cannot change: a 4xx other than 404,
// 408, 409, 410, 423, 429 and 460 (e.g. 401, 403, 413).
func IsPermanent(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) || se.Code < 400 || se.Code > 499 {
		return false
	}
	switch se.Code {
	case http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusGone,
		http.StatusLocked, http.StatusTooManyRequests, StatusChecksumMismatch:
		return false
	}
	return true
}
