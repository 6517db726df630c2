package xmotion

import "errors"

// Sentinel errors.
var (
	// ErrDisplay: the display name cannot be used (a form this client does not dial).
	ErrDisplay = errors.New("xmotion: unsupported display name")
	// ErrConnect: the X server could not be reached or refused the connection.
	ErrConnect = errors.New("xmotion: cannot connect to the X server")
	// ErrNoXInput2: the X server lacks XInput 2.
	ErrNoXInput2 = errors.New("xmotion: the X server has no XInput 2")
)
