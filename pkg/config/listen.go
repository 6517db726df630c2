package config

import "github.com/screenrec/recorder/pkg/listenaddr"

// ValidateListen checks a listen address (host:port); see listenaddr.Validate. Errors wrap
// ErrBadListen.
func ValidateListen(addr string) error { return listenaddr.Validate(addr) }
