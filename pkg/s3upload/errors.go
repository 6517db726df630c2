package s3upload

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/screenrec/recorder/engine/api"
)

// Sentinels of the package; a server's refusal is a *ResponseError that also wraps the
// failure kind's sentinel of engine/api (ErrAuth, ErrChecksum, ErrHTTP).
var (
	// ErrBadOperation: an operation cannot be signed as given (no key, a bad sha256, …).
	ErrBadOperation = errors.New("s3upload: bad operation")
	// ErrBadMetadata: user metadata S3 would refuse.
	ErrBadMetadata = errors.New("s3upload: bad metadata")
	// ErrNoSuchUpload: the multipart upload is gone (completed, aborted or expired).
	ErrNoSuchUpload = errors.New("s3upload: no such upload")
	// ErrNotFound: no such object.
	ErrNotFound = errors.New("s3upload: no such object")
	// ErrBadAnswer: the server's answer could not be read, or contradicts the request.
	ErrBadAnswer = errors.New("s3upload: bad answer")
)

// ResponseError is an S3 error answer.
type ResponseError struct {
	Op         Op
	StatusCode int
	// Code and Message are S3's (e.g. "SignatureDoesNotMatch"); empty when the answer had
	// no error document (HEAD).
	Code, Message, RequestID string
}

func (e *ResponseError) Error() string {
	s := fmt.Sprintf("%s: %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the failure kind's sentinel and the package's own (ErrNoSuchUpload, …).
func (e *ResponseError) Unwrap() []error {
	var out []error
	switch e.Code {
	case "NoSuchUpload":
		out = append(out, ErrNoSuchUpload)
	case "NoSuchKey":
		out = append(out, ErrNotFound)
	}
	if e.Code == "" && e.StatusCode == http.StatusNotFound {
		out = append(out, ErrNotFound)
	}
	return append(out, e.Kind())
}

// Kind is the failure kind's sentinel of engine/api.
func (e *ResponseError) Kind() error {
	switch e.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
		"InvalidToken", "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError",
		"RequestTimeTooSkewed", "InvalidSecurity",
		"XAdminUserNotFound": // versitygw: no user with that access key id
		return api.ErrAuth
	case "BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch",
		"InvalidChecksum":
		return api.ErrChecksum
	}
	if e.Code == "" && (e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusUnauthorized) {
		return api.ErrAuth
	}
	return api.ErrHTTP
}

// Permanent says whether retrying the same request cannot help: refused credentials and
// 4xx answers other than timeouts, throttling and the ones an upload recovers from.
func (e *ResponseError) Permanent() bool {
	if e.Kind() == api.ErrAuth {
		return true
	}
	if e.Kind() == api.ErrChecksum {
		return false // the bytes were damaged on the way: send them again
	}
	switch e.Code {
	case "NoSuchUpload", "NoSuchKey", "InvalidPart", "InvalidPartOrder", "RequestTimeout",
		"SlowDown", "OperationAborted", "EntityTooSmall":
		return false
	}
	switch e.StatusCode {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests, http.StatusNotFound:
		return false
	}
	return e.StatusCode >= 400 && e.StatusCode < 500
}
