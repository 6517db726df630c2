package encoderbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Quality is how close an encoded video is to its source frames.
type Quality struct {
	// SSIM is FFmpeg's ssim filter's "All" figure: 0..1, 1 for identical.
	SSIM float64 `json:"ssim"`
	// PSNR is FFmpeg's psnr filter's "average" figure in dB (+Inf for identical).
	PSNR Decibels `json:"psnr_db"`
	// Frames is how many frames were compared.
	Frames int `json:"frames"`
}

// Decibels is a PSNR; identical pictures have an infinite one, which JSON writes as "inf".
type Decibels float64

// MarshalJSON writes a number, or "inf" for an infinite value.
func (d Decibels) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(d), 1) {
		return []byte(`"inf"`), nil
	}
	return json.Marshal(float64(d))
}

// UnmarshalJSON reads a number or "inf".
func (d *Decibels) UnmarshalJSON(b []byte) error {
	if string(b) == `"inf"` {
		*d = Decibels(math.Inf(1))
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*d = Decibels(f)
	return nil
}

// String formats like the reports do.
func (d Decibels) String() string {
	if math.IsInf(float64(d), 1) {
		return "inf"
	}
	return strconv.FormatFloat(float64(d), 'f', 2, 64)
}

// qualityPixFmt is the format both pictures are compared in: full-resolution chroma, so the
// reference (the bgr0 source, converted per pixel) favours neither tool's own bgr0 → yuv420p
// conversion, and the decoded output's chroma is upsampled the same way for both.
const qualityPixFmt = "yuv444p"

// qualityArgv compares the first n frames of an encoded file with the raw clip, frame by
// frame: both are renumbered (settb, setpts=N) so that timestamps (the engine's millisecond
// ones, the CLI's 1/fps ones) cannot pair the wrong frames.
func qualityArgv(encoded, raw string, w, h, fps, n int) []string {
	norm := fmt.Sprintf("settb=1/%d,setpts=N,format=%s,split", fps, qualityPixFmt)
	graph := fmt.Sprintf("[0:v]trim=end_frame=%d,%s[a0][a1];[1:v]trim=end_frame=%d,%s[b0][b1];"+
		"[a0][b0]ssim=shortest=1[s];[a1][b1]psnr=shortest=1[p]", n, norm, n, norm)
	return []string{"ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
		"-i", encoded,
		"-f", "rawvideo", "-pixel_format", rawPixFmt, "-video_size", fmt.Sprintf("%dx%d", w, h), "-framerate", strconv.Itoa(fps), "-i", raw,
		"-lavfi", graph, "-map", "[s]", "-map", "[p]", "-f", "null", "-"}
}

// measureQuality computes SSIM and PSNR of encoded's first n frames against the raw clip.
func measureQuality(ctx context.Context, encoded, raw string, w, h, fps, n int) (Quality, error) {
	argv := qualityArgv(encoded, raw, w, h, fps, n)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Quality{}, fmt.Errorf("%w: %s: %w: %s", ErrQuality, encoded, err, tail(stderr.String(), 400))
	}
	q, err := ParseQuality(stderr.String())
	if err != nil {
		return q, fmt.Errorf("%s: %w", encoded, err)
	}
	q.Frames = parseFramesDone(stderr.String())
	return q, nil
}

var (
	ssimAll   = regexp.MustCompile(`SSIM .*\bAll:([0-9.]+|inf)`)
	psnrAvg   = regexp.MustCompile(`PSNR .*\baverage:([0-9.]+|inf)`)
	frameDone = regexp.MustCompile(`frame=\s*(\d+)`)
)

// ParseQuality reads the summary lines FFmpeg's ssim and psnr filters log when they finish:
//
//	[Parsed_ssim_6 @ 0x…] SSIM Y:0.998646 (28.683508) U:0.965823 (14.662605) V:… All:0.974221 (15.887336)
//	[Parsed_psnr_7 @ 0x…] PSNR y:52.836585 u:35.104803 v:32.227375 average:35.168096 min:… max:…
func ParseQuality(log string) (Quality, error) {
	var q Quality
	m := lastMatch(ssimAll, log)
	if m == "" {
		return q, fmt.Errorf("%w: no SSIM summary in the ffmpeg log: %s", ErrQuality, tail(log, 300))
	}
	ssim, err := parseFigure(m)
	if err != nil || ssim < 0 || ssim > 1 {
		return q, fmt.Errorf("%w: SSIM %q is not in 0..1", ErrQuality, m)
	}
	q.SSIM = ssim
	m = lastMatch(psnrAvg, log)
	if m == "" {
		return q, fmt.Errorf("%w: no PSNR summary in the ffmpeg log: %s", ErrQuality, tail(log, 300))
	}
	psnr, err := parseFigure(m)
	if err != nil || psnr < 0 {
		return q, fmt.Errorf("%w: PSNR %q is not a number of dB", ErrQuality, m)
	}
	q.PSNR = Decibels(psnr)
	return q, nil
}

func parseFigure(s string) (float64, error) {
	if s == "inf" {
		return math.Inf(1), nil
	}
	return strconv.ParseFloat(s, 64)
}

func lastMatch(re *regexp.Regexp, s string) string {
	all := re.FindAllStringSubmatch(s, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1][1]
}

// parseFramesDone reads how many frames the comparison processed from ffmpeg's last progress
// line (0 when it printed none).
func parseFramesDone(log string) int {
	m := lastMatch(frameDone, strings.ReplaceAll(log, "\r", "\n"))
	n, _ := strconv.Atoi(m)
	return n
}
