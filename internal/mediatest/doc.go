// Package mediatest checks real media files with the ffprobe and ffmpeg
// command-line tools: stream and container metadata, decoded frames and
// frame timestamps. It is meant for tests of the recorder's output, which
// should be judged by an independent, widely used decoder rather than by
// the code that produced it.
//
// Every function runs a short-lived ffprobe or ffmpeg process bound to the
// caller's context; nothing is left running or written to disk.
package mediatest
