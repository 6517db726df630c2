// Package api holds the engine's API as plain data: start requests, sessions, states, events,
// monitor selections and the sentinel errors. It has no dependencies beyond the standard
// library (no cgo, no FFmpeg, no SQLite), so front ends, uploaders and plugin binaries can
// speak the engine's language without linking the engine. Package engine re-exports every
// name here, so embedders use engine.Session and api.Session interchangeably.
package api
