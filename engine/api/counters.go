package api

import "time"

// Counters are an engine's running totals since it started, read at At: a caller that reads
// them twice gets rates (frames per second, bits per second) over the span between.
type Counters struct {
	At time.Time `json:"at"`
	// Frames is how many frames were encoded, over every session and track.
	Frames int64 `json:"frames"`
	// Unchanged is how many frame times were skipped because nothing had changed.
	Unchanged int64 `json:"unchanged"`
	// Dropped is how many frame times the captures missed.
	Dropped int64 `json:"dropped"`
	// Bytes is how much the recordings have written.
	Bytes int64 `json:"bytes"`
	// Sessions is how many sessions are running now.
	Sessions int `json:"sessions"`
}
