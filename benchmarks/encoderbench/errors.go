package encoderbench

import "errors"

// Sentinel errors of the suite; callers classify with errors.Is.
var (
	// ErrUnknownScene: a scene name is not one of Scenes().
	ErrUnknownScene = errors.New("unknown scene")
	// ErrUnknownResolution: a resolution name is not one of Resolutions.
	ErrUnknownResolution = errors.New("unknown resolution")
	// ErrUnknownEncoder: an encoder name is not in the engine's registry.
	ErrUnknownEncoder = errors.New("unknown encoder")
	// ErrUnknownPreset: a preset is not valid for one of the selected encoders.
	ErrUnknownPreset = errors.New("unknown preset")
	// ErrInvalidConfig: a numeric or mode field is out of range.
	ErrInvalidConfig = errors.New("invalid benchmark config")
	// ErrEncoderUnusable: an encoder asked for by name cannot be used on this machine, by the
	// engine or by the ffmpeg CLI.
	ErrEncoderUnusable = errors.New("encoder not usable here")
	// ErrToolMissing: a program the suite needs (ffmpeg, ffprobe, Xvfb) is not installed.
	ErrToolMissing = errors.New("required program missing")
	// ErrRun: a measured run (recorder or ffmpeg) failed.
	ErrRun = errors.New("benchmark run failed")
	// ErrQuality: SSIM/PSNR could not be computed or parsed.
	ErrQuality = errors.New("quality measurement failed")
	// ErrScene: a scene player stopped with an error, so the screen did not show the scene.
	ErrScene = errors.New("scene player failed")
	// ErrReport: the results could not be written.
	ErrReport = errors.New("cannot write report")
)
