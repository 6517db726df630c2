package encode

import "errors"

// Sentinel errors of the encode stage.
var (
	// ErrUnknownEncoder: the name is not one of the registry's candidates.
	ErrUnknownEncoder = errors.New("unknown encoder")
	// ErrNotCompiled: the FFmpeg build lacks the encoder.
	ErrNotCompiled = errors.New("encoder not available in this FFmpeg build")
	// ErrOpen: the encoder exists but could not be opened (no device, driver or licence).
	ErrOpen = errors.New("encoder cannot open")
	// ErrNoEncoder: every encoder in the order failed to open.
	ErrNoEncoder = errors.New("no usable encoder")
	// ErrBadOption: an encoder option was not recognised by the encoder.
	ErrBadOption = errors.New("encoder option not recognised")
	// ErrEncode: the encoder failed on a frame.
	ErrEncode = errors.New("encode failed")
	// ErrConvert: pixel conversion failed.
	ErrConvert = errors.New("pixel conversion failed")
)
