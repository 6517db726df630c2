package config

import (
	"image/color"
	"strconv"

	"github.com/screenrec/recorder/engine"
)

// EngineConfig maps the configuration onto engine.Config: encoders ["auto"] become an empty
// list (the engine's default order), mask_color becomes an opaque colour, min_free_disk 0
// ("no check") becomes -1, and upload.target the engine's UploadTarget. Display and the
// upload queue's other settings are not engine settings; the host applies them.
func (c *Config) EngineConfig() engine.Config {
	e := c.Engine
	ec := engine.Config{
		SpoolDir:        c.SpoolDir,
		MaxSessions:     e.MaxSessions,
		SpoolQuota:      int64(e.SpoolQuota),
		MinFreeDisk:     int64(e.MinFreeDisk),
		MaxDuration:     e.MaxDuration.Std(),
		SegmentDuration: e.SegmentDuration.Std(),
		FPS:             e.FPS,
		MaxWidth:        e.MaxWidth,
		MaxHeight:       e.MaxHeight,
		DrawMouse:       DefaultDrawMouse,
		MaskColor:       parseColor(e.MaskColor),
		CaptureMethod:   e.CaptureMethod,
		MaxFrameGap:     e.MaxFrameGap.Std(),
		UploadTarget:    c.Upload.Target,
	}
	if ec.MinFreeDisk == 0 {
		ec.MinFreeDisk = -1
	}
	if e.DrawMouse != nil {
		ec.DrawMouse = *e.DrawMouse
	}
	if !(len(e.Encoders) == 0 || len(e.Encoders) == 1 && e.Encoders[0] == EncoderAuto) {
		ec.Encoders = append([]string(nil), e.Encoders...)
	}
	if len(e.EncoderOptions) > 0 {
		ec.EncoderOptions = make(map[string]string, len(e.EncoderOptions))
		for k, v := range e.EncoderOptions {
			ec.EncoderOptions[k] = v
		}
	}
	return ec
}

// parseColor turns "#rrggbb" into an opaque colour (opaque black if malformed; Validate
// rejects that).
func parseColor(s string) color.RGBA {
	if !reMaskColor.MatchString(s) {
		return color.RGBA{A: 255}
	}
	v, _ := strconv.ParseUint(s[1:], 16, 32)
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}
