package secret

import "errors"

// Sentinel errors; every error this package returns wraps one of them.
var (
	// ErrMalformed: a value written as a reference that is not a well-formed one (both env
	// and file, or a value that is not a non-empty string).
	ErrMalformed = errors.New("malformed secret reference")
	// ErrUnresolved: a well-formed reference whose secret cannot be read (the variable is
	// not set, the file cannot be read).
	ErrUnresolved = errors.New("secret not available")
)

// PathError is a problem with the reference at Path, a field path relative to the value
// resolved ("password", "servers[1].token").
type PathError struct {
	Path string
	Err  error
}

// Error renders "path: problem".
func (e *PathError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// Unwrap returns the problem (which wraps ErrMalformed or ErrUnresolved).
func (e *PathError) Unwrap() error { return e.Err }

// problem is an error that wraps a sentinel but reads as its message alone, so that
// diagnostics stay short ("env X is not set", not "secret not available: env X is not set").
type problem struct {
	kind error
	msg  string
}

func (p *problem) Error() string { return p.msg }
func (p *problem) Unwrap() error { return p.kind }
