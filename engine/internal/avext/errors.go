package avext

import "errors"

// ErrUnsupported: a frame's format or size is not one the call handles.
var ErrUnsupported = errors.New("avext: unsupported frame")
