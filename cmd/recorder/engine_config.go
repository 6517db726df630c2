package main

import (
	"fmt"
	"image/color"
	"strconv"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/pkg/config"
)

// engineConfig maps the file's engine section onto engine.Config and checks it against the
// engine's own rules (encoder names this build knows, then engine.Config.Validate as a
// backstop), naming the field and line of a problem. Encoders ["auto"] become an empty list
// (the engine's default order), draw_mouse the engine's HideMouse (its negation), mask_color
// an opaque colour, min_free_disk 0 ("no check") -1, the top-level display the engine's
// default Display, and the upload targets (see config.UploadTargets) the engine's. The upload queue's other
// settings are not engine settings; the host applies them.
func engineConfig(c *config.Config) (engine.Config, error) {
	e := c.Engine
	ec := engine.Config{
		SpoolDir:        c.SpoolDir,
		Display:         c.Display,
		MaxSessions:     e.MaxSessions,
		SpoolQuota:      int64(e.SpoolQuota),
		MinFreeDisk:     int64(e.MinFreeDisk),
		MaxDuration:     e.MaxDuration.Std(),
		SegmentDuration: e.SegmentDuration.Std(),
		FPS:             e.FPS,
		MaxWidth:        e.MaxWidth,
		MaxHeight:       e.MaxHeight,
		HideMouse:       !config.DefaultDrawMouse,
		MaskColor:       parseColor(e.MaskColor),
		CaptureMethod:   e.CaptureMethod,
		MaxFrameGap:     e.MaxFrameGap.Std(),
		UploadTargets:   c.UploadTargets(c.UploaderNames()),
	}
	if ec.MinFreeDisk == 0 {
		ec.MinFreeDisk = -1
	}
	if e.DrawMouse != nil {
		ec.HideMouse = !*e.DrawMouse
	}
	if !(len(e.Encoders) == 0 || len(e.Encoders) == 1 && e.Encoders[0] == config.EncoderAuto) {
		ec.Encoders = append([]string(nil), e.Encoders...)
		for i, n := range ec.Encoders {
			if _, err := encode.Lookup(n); err != nil {
				return engine.Config{}, c.FieldError(fmt.Sprintf("engine.encoders[%d]", i), err)
			}
		}
	}
	if len(e.EncoderOptions) > 0 {
		ec.EncoderOptions = make(map[string]string, len(e.EncoderOptions))
		for k, v := range e.EncoderOptions {
			ec.EncoderOptions[k] = v
		}
	}
	if err := ec.Validate(); err != nil {
		return engine.Config{}, c.FieldError("engine", err)
	}
	return ec, nil
}

// parseColor turns "#rrggbb" into an opaque colour (opaque black if malformed; config
// validation rejects that).
func parseColor(s string) color.RGBA {
	if len(s) != 7 || s[0] != '#' {
		return color.RGBA{A: 255}
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return color.RGBA{A: 255}
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}
