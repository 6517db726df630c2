package s3

import "errors"

// Sentinels of the uploader.
var (
	// ErrUnknownVariable: the key template names a variable there is none of.
	ErrUnknownVariable = errors.New("unknown key template variable")
	// ErrBadTemplate: the key template is malformed (an unclosed brace, an empty key).
	ErrBadTemplate = errors.New("bad key template")
	// ErrSegmentChanged: the segment's bytes do not match its recorded sha256 or size;
	// no retry will send the right bytes. Permanent.
	ErrSegmentChanged = errors.New("segment does not match its recorded sha256")
	// ErrNotStored: the server answered success but its object does not match the segment
	// (size, checksum or sha256 metadata).
	ErrNotStored = errors.New("object on the server does not match the segment")
	// errClosed: the uploader was closed (or reconfigured) under an upload.
	errClosed = errors.New("s3: uploader closed")
)
