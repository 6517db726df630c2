package mux

import "errors"

// Sentinel errors of the mux stage.
var (
	// ErrCreate: the output file could not be created or its header written.
	ErrCreate = errors.New("cannot create output")
	// ErrWrite: writing a packet failed (disk full, I/O error).
	ErrWrite = errors.New("cannot write output")
	// ErrClosed: the file was used after Close.
	ErrClosed = errors.New("output closed")
)
