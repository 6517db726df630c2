package mediatest

import (
	"context"
	"fmt"
	"image"
	"sort"
	"strconv"
)

// Video is one video stream of a file decoded once, every frame kept in memory (rgb24), for
// tests that look at many times of the same stream: FrameAt starts three programs per call,
// which on a loaded machine costs seconds each. Meant for the small pictures tests record.
type Video struct {
	// Path and Index name the file and its video stream (counting video streams only).
	Path  string
	Index int
	// Width and Height are the coded size (rotation metadata is ignored, as by FrameAt).
	Width, Height int
	// Times are the frames' presentation times in seconds, ascending.
	Times []float64
	// Duration is the container's duration in seconds (0 when unknown).
	Duration float64
	pixels   []byte // every frame, Width*Height*3 bytes each, in Times' order
}

// DecodeVideo decodes every frame of video stream videoIndex of path, with their times: one
// ffprobe for the size and duration, one for the frame times and one ffmpeg for the
// pictures, whatever the number of frames asked for later.
func DecodeVideo(ctx context.Context, path string, videoIndex int) (*Video, error) {
	p, err := probe(ctx, path, false)
	if err != nil {
		return nil, err
	}
	vs, err := videoStream(p, path, videoIndex)
	if err != nil {
		return nil, err
	}
	if vs.Width <= 0 || vs.Height <= 0 {
		return nil, fmt.Errorf("mediatest: %s video stream %d has unknown size %dx%d", path, videoIndex, vs.Width, vs.Height)
	}
	times, err := FrameTimes(ctx, path, videoIndex)
	if err != nil {
		return nil, err
	}
	if !sort.Float64sAreSorted(times) {
		return nil, fmt.Errorf("mediatest: %s video stream %d: frame times out of order: %v", path, videoIndex, times)
	}
	// Passthrough: every decoded frame once, none dropped or repeated to fit a rate.
	out, err := run(ctx, "ffmpeg", "-nostdin", "-v", "error",
		"-noautorotate",
		"-i", fileURL(path),
		"-map", "0:v:"+strconv.Itoa(videoIndex),
		"-fps_mode", "passthrough",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	if err != nil {
		return nil, err
	}
	size := vs.Width * vs.Height * 3
	if len(out) != len(times)*size {
		return nil, fmt.Errorf("mediatest: %s video stream %d: decoded %d bytes, want %d frames of %dx%d rgb24 (%d bytes)",
			path, videoIndex, len(out), len(times), vs.Width, vs.Height, len(times)*size)
	}
	return &Video{Path: path, Index: videoIndex, Width: vs.Width, Height: vs.Height, Times: times,
		Duration: p.Format.Duration, pixels: out}, nil
}

// FrameAt is the frame shown at the given time in seconds, as the package's FrameAt gives
// it: the last frame at or before that time (the first frame before it starts), ErrNoFrame
// past the container's end.
func (v *Video) FrameAt(seconds float64) (*image.RGBA, error) {
	if seconds < 0 {
		return nil, fmt.Errorf("mediatest: negative time %g", seconds)
	}
	if seconds > v.Duration && v.Duration > 0 || len(v.Times) == 0 {
		return nil, fmt.Errorf("%w: %s video stream %d at %gs: it ends at %gs", ErrNoFrame, v.Path, v.Index, seconds, v.Duration)
	}
	// Times are printed rounded to the microsecond, as FrameAt allows for.
	i := max(sort.SearchFloat64s(v.Times, seconds+1e-6)-1, 0)
	size := v.Width * v.Height * 3
	frame := v.pixels[i*size : (i+1)*size]
	img := image.NewRGBA(image.Rect(0, 0, v.Width, v.Height))
	for i, j := 0, 0; i < len(frame); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = frame[i], frame[i+1], frame[i+2], 0xff
	}
	return img, nil
}
