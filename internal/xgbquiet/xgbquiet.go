// Package xgbquiet stops github.com/jezek/xgb from logging to stderr, from one place. xgb
// reports recoverable conditions there ("Could not get authority info" for any server without
// an Xauthority entry, every Xvfb among them); errors that matter reach callers as values.
// xgb.Logger is a package variable that every connection's goroutines read, so exactly one
// sync.Once may set it: two packages each setting it under their own Once race with each
// other's connections.
package xgbquiet

import (
	"io"
	"log"
	"sync"

	"github.com/jezek/xgb"
)

var once sync.Once

// Do silences xgb; call it before making a connection. It is cheap after the first call.
func Do() {
	once.Do(func() { xgb.Logger = log.New(io.Discard, "", 0) })
}
