package export

import "errors"

// Sentinel errors of an export; the messages wrapping them name the file or option at fault.
var (
	// ErrOptions: the options ask for nothing, or for something contradictory (several inputs
	// without Join, FPS without CFR, no input or no output).
	ErrOptions = errors.New("invalid export options")
	// ErrOutputExists: the output file exists and Overwrite is not set.
	ErrOutputExists = errors.New("output exists")
	// ErrInput: an input cannot be read as a video file.
	ErrInput = errors.New("cannot read input")
	// ErrIncompatible: inputs to join differ in their tracks (number, codec, size): a
	// recording whose screen changed cannot be joined into one file without re-encoding.
	ErrIncompatible = errors.New("inputs cannot be joined")
	// ErrNoFrameRate: a constant-frame-rate export was asked for without FPS, and the input
	// does not say its capture rate.
	ErrNoFrameRate = errors.New("no frame rate")
	// ErrOutput: writing the output failed.
	ErrOutput = errors.New("cannot write output")
)
