package encoderbench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/pipeline"
	"github.com/screenrec/recorder/internal/xscene"
)

// Resolution is one monitor size of the matrix.
type Resolution struct {
	// Name is how it is given on the command line ("1080p").
	Name string `json:"name"`
	// Width and Height are the monitor's size in pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Pixels is the monitor's area.
func (r Resolution) Pixels() int { return r.Width * r.Height }

// Resolutions are the monitor sizes the suite knows, smallest first.
var Resolutions = []Resolution{
	{Name: "720p", Width: 1280, Height: 720},
	{Name: "1080p", Width: 1920, Height: 1080},
	{Name: "1440p", Width: 2560, Height: 1440},
	{Name: "4k", Width: 3840, Height: 2160},
}

// LookupResolution finds a resolution by name (case-insensitive; "2160p" is 4k).
func LookupResolution(name string) (Resolution, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "2160p" {
		n = "4k"
	}
	for _, r := range Resolutions {
		if r.Name == n {
			return r, nil
		}
	}
	return Resolution{}, fmt.Errorf("%w %q: choose from %s", ErrUnknownResolution, name, strings.Join(resolutionNames(), ", "))
}

func resolutionNames() []string {
	names := make([]string, len(Resolutions))
	for i, r := range Resolutions {
		names[i] = r.Name
	}
	return names
}

// SceneMixed3 is the three-monitor scene: three monitors of the resolution side by side, each
// playing one of xscene.Mixed3(), recorded as one canvas.
const SceneMixed3 = "mixed-3"

// SceneNames lists the scenes the suite accepts: xscene's scenes, then SceneMixed3.
func SceneNames() []string { return append(xscene.Scenes(), SceneMixed3) }

// EncodeOnlyMode says whether the encode-only mode runs.
type EncodeOnlyMode string

// Encode-only modes.
const (
	// EncodeOnlyAlso runs the live runs and then the encode-only runs.
	EncodeOnlyAlso EncodeOnlyMode = "also"
	// EncodeOnlyOnly runs the encode-only runs alone.
	EncodeOnlyOnly EncodeOnlyMode = "only"
	// EncodeOnlyOff runs the live runs alone.
	EncodeOnlyOff EncodeOnlyMode = "off"
)

// Baselines: what the ffmpeg CLI is given.
const (
	// BaselineCLIDefaults gives the CLI its own defaults for libx264 and libx265 (-preset,
	// -crf 23 / 28, its own keyframe interval, B-frames and lookahead), what someone recording
	// with `ffmpeg -c:v libx264 -preset superfast` gets; the recorder runs with its registry
	// defaults. Other encoders get the same options on both sides.
	BaselineCLIDefaults = "cli-defaults"
	// BaselineSameOptions gives both tools the registry's options and keyframe interval: it
	// compares the tools (capture, conversion, muxing), not the settings.
	BaselineSameOptions = "same-options"
)

// cliCRF is the CLI's default quality of the encoders a cli-defaults baseline applies to.
var cliCRF = map[string]string{"libx264": "23", "libx265": "28"}

// Encoder selections besides explicit names.
const (
	// EncodersAuto is the encoder `recorder record --encoder auto` picks on this machine.
	EncodersAuto = "auto"
	// EncodersAll is every registry encoder that both the engine and the ffmpeg CLI can use here.
	EncodersAll = "all"
)

// Defaults of Config.
const (
	DefaultOut      = "benchmarks/results"
	DefaultDuration = 10 * time.Second
	DefaultRounds   = 2
	DefaultFPS      = 15
	// DefaultClipDuration is long enough that keyframes (every 10 s for the recorder, 250
	// frames for the CLI) weigh in the file as in a recording, and that process start-up, the
	// same for both tools, stays a few percent.
	DefaultClipDuration = 20 * time.Second
	// DefaultEncodeFrames is how many frames each encode-only run encodes: the default clip,
	// once (a looped clip jumps back, a scene cut no real screen has).
	DefaultEncodeFrames = 300
	// DefaultClipBytes bounds a stored raw clip: 1080p bgr0 is 8.3 MB a frame, 4K 33 MB.
	DefaultClipBytes = 4 << 30
	// DefaultMaxCanvasPixels is the largest canvas captured live: 4K's area. Larger ones (the
	// mixed-3 canvas at 1440p and 4K) cannot be captured in real time by one tool on the
	// 2-core machines we run on, so they are skipped with a reason unless this is raised.
	DefaultMaxCanvasPixels = 3840 * 2160
)

// Config is what one benchmark run measures.
type Config struct {
	// Out is the results folder.
	Out string `json:"-"`
	// Recorder is the recorder binary measured live (`recorder record`).
	Recorder string `json:"-"`
	// EncodeChild is the binary whose `encode-child` command runs encode-only: the engine's
	// converter, encoder and muxer on stored frames (recorder-bench itself).
	EncodeChild string `json:"-"`
	// Version is the recorder's version, for the report.
	Version string `json:"recorder_version,omitempty"`
	// Scenes are scene names (SceneNames).
	Scenes []string `json:"scenes"`
	// Resolutions are resolution names (Resolutions).
	Resolutions []string `json:"resolutions"`
	// Encoders are registry encoder names, or one of EncodersAuto, EncodersAll.
	Encoders []string `json:"encoders"`
	// Presets are run for every selected encoder that has a preset option (empty: each
	// encoder's registry default). Encoders without one run with their defaults.
	Presets []string `json:"presets,omitempty"`
	// Duration is the length of each live run.
	Duration time.Duration `json:"duration"`
	// Rounds is how many times each tool runs per cell; who goes first alternates.
	Rounds int `json:"rounds"`
	// FPS is the capture (and encode-only) frame rate.
	FPS int `json:"fps"`
	// EncodeOnly says whether the encode-only mode runs.
	EncodeOnly EncodeOnlyMode `json:"encode_only"`
	// ClipDuration is how long the raw clip for encode-only runs is captured (bounded by
	// ClipBytes).
	ClipDuration time.Duration `json:"clip_duration"`
	// ClipBytes bounds the size of a stored raw clip.
	ClipBytes int64 `json:"clip_bytes"`
	// EncodeFrames is how many frames each encode-only run encodes, looping the clip.
	EncodeFrames int `json:"encode_frames"`
	// Baseline is what the CLI is given: BaselineCLIDefaults (default) or BaselineSameOptions.
	Baseline string `json:"baseline"`
	// MaxCanvasPixels skips live cells whose canvas is larger (0: DefaultMaxCanvasPixels).
	MaxCanvasPixels int `json:"max_canvas_pixels"`
	// Log receives progress lines (nil: none).
	Log io.Writer `json:"-"`
}

// DefaultConfig is the full default matrix.
func DefaultConfig() Config {
	return Config{
		Out:             DefaultOut,
		Scenes:          SceneNames(),
		Resolutions:     resolutionNames(),
		Encoders:        []string{EncodersAuto},
		Duration:        DefaultDuration,
		Rounds:          DefaultRounds,
		FPS:             DefaultFPS,
		EncodeOnly:      EncodeOnlyAlso,
		ClipDuration:    DefaultClipDuration,
		ClipBytes:       DefaultClipBytes,
		EncodeFrames:    DefaultEncodeFrames,
		MaxCanvasPixels: DefaultMaxCanvasPixels,
		Baseline:        BaselineCLIDefaults,
	}
}

// QuickConfig is a small matrix for a first look: 1080p idle and typing, one round of 5 s, a
// short encode-only clip.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Scenes = []string{xscene.SceneIdle, xscene.SceneTyping}
	c.Resolutions = []string{"1080p"}
	c.Rounds = 1
	c.Duration = 5 * time.Second
	c.ClipDuration = 2 * time.Second
	c.EncodeFrames = 90
	return c
}

// presetsOf lists the values of each registry encoder's "preset" option; an encoder not listed
// has no preset option.
var presetsOf = map[string][]string{
	"libx264":    {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"},
	"libx265":    {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"},
	"h264_nvenc": {"p1", "p2", "p3", "p4", "p5", "p6", "p7", "default", "slow", "medium", "fast", "hp", "hq", "bd", "ll", "llhq", "llhp", "lossless", "losslesshp"},
	"h264_qsv":   {"veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"},
}

// PresetsOf lists the presets encoder accepts (nil: it has no preset option).
func PresetsOf(encoder string) []string { return slices.Clone(presetsOf[encoder]) }

// Validate checks every field, naming the one at fault and, for names, the valid values.
func (c Config) Validate() error {
	if len(c.Scenes) == 0 {
		return fmt.Errorf("%w: scenes: none given (choose from %s)", ErrInvalidConfig, strings.Join(SceneNames(), ", "))
	}
	for _, s := range c.Scenes {
		if !slices.Contains(SceneNames(), s) {
			return fmt.Errorf("%w %q: choose from %s", ErrUnknownScene, s, strings.Join(SceneNames(), ", "))
		}
	}
	if len(c.Resolutions) == 0 {
		return fmt.Errorf("%w: resolutions: none given (choose from %s)", ErrInvalidConfig, strings.Join(resolutionNames(), ", "))
	}
	for _, r := range c.Resolutions {
		if _, err := LookupResolution(r); err != nil {
			return err
		}
	}
	if err := validateEncoders(c.Encoders); err != nil {
		return err
	}
	if err := validatePresets(c.Encoders, c.Presets); err != nil {
		return err
	}
	switch {
	case c.Duration < time.Second:
		return fmt.Errorf("%w: duration: %s is shorter than 1s", ErrInvalidConfig, c.Duration)
	case c.Rounds < 1:
		return fmt.Errorf("%w: rounds: %d must be at least 1", ErrInvalidConfig, c.Rounds)
	case pipeline.ValidateFPS(c.FPS) != nil:
		return fmt.Errorf("%w: fps: %d is out of range %d-%d", ErrInvalidConfig, c.FPS, pipeline.MinFPS, pipeline.MaxFPS)
	case c.EncodeOnly != EncodeOnlyAlso && c.EncodeOnly != EncodeOnlyOnly && c.EncodeOnly != EncodeOnlyOff:
		return fmt.Errorf("%w: encode-only: %q: want %s, %s or %s", ErrInvalidConfig, c.EncodeOnly, EncodeOnlyAlso, EncodeOnlyOnly, EncodeOnlyOff)
	case c.EncodeOnly != EncodeOnlyOff && int(c.ClipDuration.Seconds()*float64(c.FPS)) < 2:
		return fmt.Errorf("%w: clip: %s at %d fps is fewer than 2 frames", ErrInvalidConfig, c.ClipDuration, c.FPS)
	case c.EncodeOnly != EncodeOnlyOff && c.EncodeFrames < 2:
		return fmt.Errorf("%w: encode-frames: %d must be at least 2", ErrInvalidConfig, c.EncodeFrames)
	case c.ClipBytes < 0:
		return fmt.Errorf("%w: clip-bytes: %d is negative", ErrInvalidConfig, c.ClipBytes)
	case c.Baseline != BaselineCLIDefaults && c.Baseline != BaselineSameOptions:
		return fmt.Errorf("%w: baseline: %q: want %s or %s", ErrInvalidConfig, c.Baseline, BaselineCLIDefaults, BaselineSameOptions)
	case c.MaxCanvasPixels < 0:
		return fmt.Errorf("%w: max-canvas-pixels: %d is negative", ErrInvalidConfig, c.MaxCanvasPixels)
	case c.Recorder == "":
		return fmt.Errorf("%w: recorder: no recorder binary", ErrInvalidConfig)
	case c.EncodeOnly != EncodeOnlyOff && c.EncodeChild == "":
		return fmt.Errorf("%w: encode-child: no binary to run encode-only", ErrInvalidConfig)
	}
	return nil
}

func registryNames() []string {
	names := make([]string, len(encode.Candidates))
	for i, c := range encode.Candidates {
		names[i] = c.Name
	}
	return names
}

func validateEncoders(encs []string) error {
	if len(encs) == 0 {
		return fmt.Errorf("%w: encoders: none given (choose %s, %s or from %s)", ErrInvalidConfig, EncodersAuto, EncodersAll, strings.Join(registryNames(), ", "))
	}
	for _, e := range encs {
		if e == EncodersAuto || e == EncodersAll {
			if len(encs) > 1 {
				return fmt.Errorf("%w: encoders: %q cannot be combined with other names", ErrInvalidConfig, e)
			}
			continue
		}
		if _, err := encode.Lookup(e); err != nil {
			return fmt.Errorf("%w %q: choose %s, %s or from %s", ErrUnknownEncoder, e, EncodersAuto, EncodersAll, strings.Join(registryNames(), ", "))
		}
	}
	return nil
}

// validatePresets checks presets against every explicitly named encoder that has a preset
// option; with auto or all, the encoders are known only at run time and are checked then.
func validatePresets(encs, presets []string) error {
	for _, e := range encs {
		if e == EncodersAuto || e == EncodersAll {
			return nil
		}
		if err := checkPresets(e, presets); err != nil {
			return err
		}
	}
	return nil
}

func checkPresets(encoder string, presets []string) error {
	valid := presetsOf[encoder]
	if valid == nil {
		return nil
	}
	for _, p := range presets {
		if !slices.Contains(valid, p) {
			return fmt.Errorf("%w %q for %s: choose from %s", ErrUnknownPreset, p, encoder, strings.Join(valid, ", "))
		}
	}
	return nil
}

// Variant is one encoder with one preset.
type Variant struct {
	// Encoder is the registry name.
	Encoder string `json:"encoder"`
	// Preset is the preset run ("" for an encoder without a preset option).
	Preset string `json:"preset,omitempty"`
	// Options are the private options the recorder gets: the registry's defaults for screen
	// content, with the preset on top.
	Options map[string]string `json:"options"`
	// CLIOptions are the options the ffmpeg CLI gets: Options, or with a cli-defaults
	// baseline the CLI's own defaults (preset and crf only).
	CLIOptions map[string]string `json:"cli_options"`
	// CLIGOP gives the CLI the engine's keyframe interval (-g); without it the CLI keeps its
	// own (250 frames for libx264).
	CLIGOP bool `json:"cli_gop"`
}

// Label is "encoder/preset" (or the encoder alone).
func (v Variant) Label() string {
	if v.Preset == "" {
		return v.Encoder
	}
	return v.Encoder + "/" + v.Preset
}

// variants expands encoders × presets; an encoder without a preset option runs once with its
// defaults, and with no presets given each runs its registry default. baseline says what the
// CLI gets.
func variants(encoders, presets []string, baseline string) ([]Variant, error) {
	var out []Variant
	for _, e := range encoders {
		cand, err := encode.Lookup(e)
		if err != nil {
			return nil, fmt.Errorf("%w %q: choose from %s", ErrUnknownEncoder, e, strings.Join(registryNames(), ", "))
		}
		if err := checkPresets(e, presets); err != nil {
			return nil, err
		}
		ps := presets
		if presetsOf[e] == nil || len(ps) == 0 {
			ps = []string{""}
		}
		for _, p := range ps {
			opts := maps.Clone(cand.Defaults)
			if opts == nil {
				opts = map[string]string{}
			}
			if p != "" {
				opts["preset"] = p
			}
			v := Variant{Encoder: e, Preset: opts["preset"], Options: opts, CLIOptions: opts, CLIGOP: true}
			if crf, ok := cliCRF[e]; ok && baseline == BaselineCLIDefaults {
				v.CLIOptions = map[string]string{"preset": opts["preset"], "crf": crf}
				v.CLIGOP = false
			}
			out = append(out, v)
		}
	}
	return out, nil
}
