package cli

import "errors"

// ErrUsage marks errors in how a program was called; Run exits with ExitUsage on them.
var ErrUsage = errors.New("usage")
