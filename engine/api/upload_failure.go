package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// FailureKind says why an upload attempt failed, truly: an operator must be able to tell a
// server that is down (refused) from one that is slow (timeout). The engine keeps it with
// the job, logs it and counts failures by it.
type FailureKind string

// The kinds of upload failure. Uploaders wrap the matching sentinel (ErrRefused, …) so that
// the kind survives the plugin boundary; ClassifyFailure also recognises the standard
// library's network errors for uploaders that do not.
const (
	FailureRefused  FailureKind = "refused"  // nothing listens: the connection was refused
	FailureReset    FailureKind = "reset"    // the connection was reset or closed mid-request
	FailureTimeout  FailureKind = "timeout"  // no answer in time
	FailureTLS      FailureKind = "tls"      // the TLS handshake or certificate failed
	FailureDNS      FailureKind = "dns"      // the server's name did not resolve
	FailureHTTP     FailureKind = "http"     // the server answered with an error status
	FailureChecksum FailureKind = "checksum" // the server refused the content's checksum
	FailureAuth     FailureKind = "auth"     // the server refused the credentials
	FailureCanceled FailureKind = "canceled" // the attempt was stopped (shutdown)
	FailureOther    FailureKind = "other"    // anything else (a local file error, …)
)

// FailureKinds lists every failure kind.
func FailureKinds() []FailureKind {
	return []FailureKind{FailureRefused, FailureReset, FailureTimeout, FailureTLS, FailureDNS, FailureHTTP,
		FailureChecksum, FailureAuth, FailureCanceled, FailureOther}
}

// Sentinels for the failure kinds, one each; ErrPermanent says separately whether retrying
// can help.
var (
	ErrRefused  = errors.New("connection refused")
	ErrReset    = errors.New("connection reset")
	ErrTimeout  = errors.New("timed out")
	ErrTLS      = errors.New("tls failure")
	ErrDNS      = errors.New("name not resolved")
	ErrHTTP     = errors.New("server error status")
	ErrChecksum = errors.New("checksum refused")
	ErrAuth     = errors.New("credentials refused")
)

// failureSentinels ties each kind to its sentinel, in the order ClassifyFailure tries them.
var failureSentinels = []struct {
	kind FailureKind
	err  error
}{
	{FailureChecksum, ErrChecksum},
	{FailureAuth, ErrAuth},
	{FailureTLS, ErrTLS},
	{FailureDNS, ErrDNS},
	{FailureRefused, ErrRefused},
	{FailureReset, ErrReset},
	{FailureTimeout, ErrTimeout},
	{FailureHTTP, ErrHTTP},
}

// FailureSentinels returns the failure sentinels with their kinds' names, for code that
// carries errors across a boundary (the plugin protocol).
func FailureSentinels() map[FailureKind]error {
	m := make(map[FailureKind]error, len(failureSentinels))
	for _, s := range failureSentinels {
		m[s.kind] = s.err
	}
	return m
}

// ClassifyFailure says what kind of failure err is (empty for nil): the sentinel it wraps,
// else what the standard library's error types tell.
func ClassifyFailure(err error) FailureKind {
	if err == nil {
		return ""
	}
	for _, s := range failureSentinels {
		if errors.Is(err, s.err) {
			return s.kind
		}
	}
	return classifyNetError(err)
}

// WrapFailure returns err wrapped with its kind's sentinel (err itself when it already wraps
// one, or when its kind is not known), so that the kind survives a boundary that keeps only
// sentinels.
func WrapFailure(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range failureSentinels {
		if errors.Is(err, s.err) {
			return err
		}
	}
	kind := classifyNetError(err)
	for _, s := range failureSentinels {
		if s.kind == kind {
			return &kindError{err: err, kind: s.err}
		}
	}
	return err
}

// kindError is an error that also wraps its failure kind's sentinel, keeping its message.
type kindError struct{ err, kind error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// classifyNetError reads the standard library's error types.
func classifyNetError(err error) FailureKind {
	var (
		dnsErr   *net.DNSError
		certErr  *tls.CertificateVerificationError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return FailureCanceled
	case errors.As(err, &dnsErr):
		return FailureDNS
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &alertErr),
		errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &invalid):
		return FailureTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return FailureRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		// An EOF from an HTTP client: the server closed the connection without an answer; a
		// write on a connection the transport closed after the peer went away.
		return FailureReset
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return FailureTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return FailureTimeout
	}
	return FailureOther
}
