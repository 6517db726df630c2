package controller

import "errors"

// Sentinels of the controller.
var (
	// ErrNotLanded: an upload an agent confirmed whose object is not in the archive as the
	// agent says (missing, another size or sha256).
	ErrNotLanded = errors.New("archive object not as confirmed")
)
