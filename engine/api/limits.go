package api

import "time"

// The engine's configuration bounds, defaults and capture methods, declared here (in the
// plain API) so that config readers can check and default a configuration without linking
// the engine; the engine's packages refer to these names.

// Frame-rate bounds and default.
const (
	DefaultFPS = 10
	MinFPS     = 1
	MaxFPS     = 60
)

// DefaultMaxFrameGap is how long an unchanged screen goes without an encoded frame by default
// (where the capture tracks changes). It matches the encoder's default keyframe interval (10 s,
// the seek granularity). Frames on a still screen are not needed more often: the muxer extends a
// still stream's last sample on disk at every sync (a crash loses about a second of it either
// way), and keyframes are counted in frames, so such frames bring none; each costs CPU.
const DefaultMaxFrameGap = 10 * time.Second

// Engine-wide defaults of settings left zero.
const (
	DefaultMaxSessions  = 16
	DefaultMinFreeDisk  = 256 << 20 // bytes
	DefaultUploadTarget = "default"
)

// Capture methods.
const (
	// CaptureAuto uses CaptureXShm where the display allows it, else CaptureX11Grab.
	CaptureAuto = "auto"
	// CaptureXShm is the engine's own change-tracking source (MIT-SHM, DAMAGE, XFIXES): an
	// unchanged screen costs almost nothing.
	CaptureXShm = "xshm"
	// CaptureX11Grab is FFmpeg's x11grab device: every frame is grabbed whole.
	CaptureX11Grab = "x11grab"
)

// CaptureMethods lists the valid capture methods.
func CaptureMethods() []string { return []string{CaptureAuto, CaptureXShm, CaptureX11Grab} }
