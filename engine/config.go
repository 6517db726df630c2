package engine

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/pipeline"
)

// Defaults of Config fields left zero.
const (
	DefaultMaxSessions  = api.DefaultMaxSessions
	DefaultMinFreeDisk  = api.DefaultMinFreeDisk // bytes
	DefaultUploadTarget = api.DefaultUploadTarget
	DefaultEventBuffer  = 256
)

// Config configures an Engine. Zero fields take the defaults above.
type Config struct {
	// SpoolDir holds the catalog (catalog.db) and the recordings (one folder each). Required.
	SpoolDir string
	// Display is the X display a session records when its request names none (default:
	// $DISPLAY of the engine's process). A service started without $DISPLAY sets it.
	Display string
	// MaxSessions caps concurrent (not yet ended) sessions (default 16).
	MaxSessions int
	// SpoolQuota caps the bytes of recordings kept in SpoolDir; a start beyond it fails with
	// ErrSpoolQuota (0: no quota). Nothing recorded is ever deleted to make room.
	SpoolQuota int64
	// MinFreeDisk is the free space SpoolDir's file system must keep: a start below it fails
	// with ErrDiskFull, and running sessions are ended cleanly when the disk drops below it
	// while they record (default 256 MiB; negative: no check).
	MinFreeDisk int64
	// MaxDuration caps every session's length (0: no cap beyond the request's own limit).
	MaxDuration time.Duration
	// SegmentDuration rotates a recording to a new standalone file this often (0: one file).
	SegmentDuration time.Duration
	// FPS is the capture rate (default DefaultFPS, 10; MinFPS to MaxFPS).
	FPS int
	// MaxWidth and MaxHeight downscale each track to fit (0: no limit).
	MaxWidth, MaxHeight int
	// HideMouse leaves the pointer out of recordings; by default it is drawn, as the
	// recorder's CLI and service do.
	HideMouse bool
	// Encoders is the order encoders are tried in (default: hardware H.264 first, then libx264).
	Encoders []string
	// EncoderOptions override the chosen encoder's private options.
	EncoderOptions map[string]string
	// MaskColor is what masked frames show (default black).
	MaskColor color.RGBA
	// CaptureMethod is how screens are grabbed: CaptureAuto (default), CaptureXShm or
	// CaptureX11Grab.
	CaptureMethod string
	// MaxFrameGap bounds how long a still screen goes without an encoded frame (default
	// DefaultMaxFrameGap).
	MaxFrameGap time.Duration
	// UploadTargets names the upload targets ended (completed or failed) recordings are queued
	// for: one job per segment and target, each delivered once; a segment's local file goes
	// when every target confirmed it (default ["default"]).
	UploadTargets []string
	// ContactIDBase is the first contact id of a new catalog (default catalog.DefaultContactIDBase).
	ContactIDBase int64
}

func (c Config) withDefaults() Config {
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MinFreeDisk == 0 {
		c.MinFreeDisk = DefaultMinFreeDisk
	}
	if c.FPS == 0 {
		c.FPS = pipeline.DefaultFPS
	}
	if len(c.UploadTargets) == 0 {
		c.UploadTargets = []string{DefaultUploadTarget}
	}
	if len(c.Encoders) == 0 {
		c.Encoders = encode.DefaultOrder
	}
	if c.MaskColor == (color.RGBA{}) {
		c.MaskColor = color.RGBA{A: 255}
	}
	return c
}

// Validate checks the configuration, naming the field at fault.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: config: %s: %s", ErrInvalidRequest, field, fmt.Sprintf(format, args...))
	}
	if c.SpoolDir == "" {
		return bad("spool_dir", "required")
	}
	if c.MaxSessions < 0 {
		return bad("max_sessions", "%d is negative", c.MaxSessions)
	}
	if c.SpoolQuota < 0 {
		return bad("spool_quota", "%d is negative", c.SpoolQuota)
	}
	if c.MaxDuration < 0 {
		return bad("max_duration", "%s is negative", c.MaxDuration)
	}
	if c.SegmentDuration < 0 || (c.SegmentDuration > 0 && c.SegmentDuration < time.Second) {
		return bad("segment_duration", "%s must be 0 (one file) or at least 1s", c.SegmentDuration)
	}
	seen := map[string]bool{}
	for i, t := range c.UploadTargets {
		if strings.TrimSpace(t) == "" || strings.ContainsAny(t, " \t\r\n") {
			return bad(fmt.Sprintf("upload_targets[%d]", i), "%q must be a name without spaces", t)
		}
		if seen[t] {
			return bad(fmt.Sprintf("upload_targets[%d]", i), "%q is listed twice", t)
		}
		seen[t] = true
	}
	if err := (pipeline.CaptureSpec{FPS: c.FPS, MaxWidth: c.MaxWidth, MaxHeight: c.MaxHeight, Encoders: c.Encoders}).Validate(); err != nil {
		return fmt.Errorf("%w: config: %w", ErrInvalidRequest, err)
	}
	return nil
}
