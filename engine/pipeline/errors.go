package pipeline

import "errors"

// Sentinel errors of the pipeline.
var (
	// ErrInvalidSpec: a recording spec field is out of range; the message names the field.
	ErrInvalidSpec = errors.New("invalid recording spec")
	// ErrOutput: the output path cannot be written.
	ErrOutput = errors.New("cannot write output")
)
