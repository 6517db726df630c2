package srs

import "errors"

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
