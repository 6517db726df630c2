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
	// ErrNotFragmentedMP4: the file does not start with a complete fragmented MP4 header (an
	// ftyp box, then a moov box holding an mvex box), or a box Repair must read is larger than
	// any File writes. Such a file is left untouched.
	ErrNotFragmentedMP4 = errors.New("not a fragmented MP4")
)
