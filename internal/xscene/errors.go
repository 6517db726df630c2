package xscene

import "errors"

var (
	// ErrClosed reports use of a Painter after Close.
	ErrClosed = errors.New("xscene: painter is closed")

	// ErrUnsupportedVisual reports a root window whose visual is not
	// TrueColor or whose pixel format the package cannot decode.
	ErrUnsupportedVisual = errors.New("xscene: unsupported root visual")

	// ErrEmptyRect reports a rectangle that has no pixels inside the root
	// window.
	ErrEmptyRect = errors.New("xscene: rectangle is empty or outside the root window")

	// ErrBadFPS reports a frame rate outside 1..MaxFPS.
	ErrBadFPS = errors.New("xscene: frame rate out of range")

	// ErrUnknownScene reports a scene name that Play does not know; the
	// wrapping error names the valid ones.
	ErrUnknownScene = errors.New("xscene: unknown scene")
)
