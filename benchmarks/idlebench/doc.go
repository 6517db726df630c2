// Package idlebench measures what a mostly idle screen costs the recorder: a form with a
// blinking caret against the ffmpeg CLI, a fully still screen in `recorder run`, and how many
// mostly idle 1080p sessions one engine holds (density). CPU is read from /proc/<pid>/stat over
// a window that starts after start-up, so it is the steady state; memory from
// /proc/<pid>/status. It is run by benchmarks/cmd/idlebench (`make bench`).
package idlebench
