package srs

import (
	"net/http"
	"strings"
)

// CSRF protection of sessions opened by a browser page (X-Support-CSRFP: true).

const (
	// HeaderSupportCSRF on a login asks for CSRF protection of the session.
	HeaderSupportCSRF = "X-Support-CSRFP"
	// HeaderCSRFToken carries the session's CSRF token (login response; later POSTs).
	HeaderCSRFToken = "X-CSRF-Token"
	// HeaderCSRFHeader names the request header that must carry the token.
	HeaderCSRFHeader = "X-CSRF-Header"
)

// checkCSRF refuses a state-changing request of a CSRF-protected session without its token.
func checkCSRF(r *http.Request, sess *session) error {
	if sess.csrf == "" {
		return nil
	}
	if got := r.Header.Get(HeaderCSRFToken); got == "" || !constantTimeEqual(got, sess.csrf) {
		return apiErrorf(http.StatusForbidden, "Missing or invalid Csrf token")
	}
	return nil
}

// wantsCSRF reports whether a login asks for CSRF protection.
func wantsCSRF(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get(HeaderSupportCSRF)), "true")
}
