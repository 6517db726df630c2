package mediatest

import "errors"

var (
	// ErrNotAvailable reports that ffmpeg or ffprobe is not on PATH.
	ErrNotAvailable = errors.New("mediatest: required program not found")

	// ErrNoVideoStream reports a video stream index beyond the number of
	// video streams in the file.
	ErrNoVideoStream = errors.New("mediatest: no such video stream")

	// ErrNoFrame reports that no frame could be decoded at the requested
	// time, typically because it is past the end of the stream.
	ErrNoFrame = errors.New("mediatest: no frame decoded")

	// ErrNoTimestamp reports a frame that has neither a presentation
	// timestamp nor a best-effort one.
	ErrNoTimestamp = errors.New("mediatest: frame has no timestamp")
)
