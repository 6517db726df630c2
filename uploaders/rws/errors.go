package rws

import (
	"errors"
	"fmt"

	"github.com/screenrec/recorder/pkg/tus"
	"github.com/screenrec/recorder/plugins/sdk"
)

// ErrNoCredentials: an upload carries no credentials and no service account is configured.
// It is permanent.
var ErrNoCredentials = errors.New("rws: no credentials: the upload carries none and no service account (username, password) is configured")

// permanentError is a failure retrying cannot fix: it wraps its cause and sdk.ErrPermanent,
// with a message of its own ("rws: https://rws.example.com: 401 Unauthorized: …").
type permanentError struct {
	msg string
	err error
}

func (e *permanentError) Error() string { return e.msg }

// Unwrap returns the cause and sdk.ErrPermanent.
func (e *permanentError) Unwrap() []error { return []error{e.err, sdk.ErrPermanent} }

// permanent wraps err, which happened talking to server, as a permanent failure; a server's
// answer reads "rws: <server>: <status> <text>: <body>". With server "", err is a local
// failure whose message is kept as is.
func permanent(server string, err error) error {
	var se *tus.StatusError
	switch {
	case server != "" && errors.As(err, &se):
		return &permanentError{msg: fmt.Sprintf("rws: %s: %s", server, se.Error()), err: err}
	case server != "":
		return &permanentError{msg: fmt.Sprintf("rws: %s: %v", server, err), err: err}
	}
	return &permanentError{msg: err.Error(), err: err}
}
