package srs

import (
	"errors"

	"github.com/screenrec/recorder/frontends/httpkit"
)

// Sentinel errors of the front end. Errors wrap them with %w; classify with errors.Is.
var (
	// ErrInvalidCredentials: the verifier refused the user name and password (a wrong password,
	// an unknown user, or an RWS answering 401/403). The API answers 401 and counts a failure
	// towards the user's lockout.
	ErrInvalidCredentials = errors.New("invalid credentials")

	// ErrVerifierUnavailable: the credentials could not be checked (every RWS was unreachable,
	// timed out or answered 5xx, or no RWS is known). The API answers 500 naming the verifier;
	// it is not counted as a failed login.
	ErrVerifierUnavailable = errors.New("credential verifier unavailable")
)

// errorBody is every error answer's JSON: {"statusCode": N, "message": "..."}.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
}

// answerBody renders an error answer in the API's shape (httpkit.Options.ErrorBody).
func answerBody(e *httpkit.Error) any { return errorBody{StatusCode: e.Status, Message: e.Message} }

// apiErrorf is an error answer with status and a formatted message.
func apiErrorf(status int, format string, args ...any) *httpkit.Error {
	return httpkit.Errorf(status, format, args...)
}
