package mediatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Video is one video stream of a file decoded once, every frame kept in memory (rgb24), for
// tests that look at many times of the same stream: FrameAt starts two programs per call,
// which on a loaded machine costs seconds each. Meant for small pictures (a 1280x720 frame
// takes 2.7 MB); FramesAt keeps only the frames asked for.
type Video struct {
	// Path and Index name the file and its video stream (counting video streams only).
	Path  string
	Index int
	// Width and Height are the coded size (rotation metadata is ignored, as by FrameAt).
	Width, Height int
	// Times are the frames' presentation times in seconds, ascending (their packets' times:
	// every packet of a stream the recorder writes is one frame, which DecodeVideo checks).
	Times []float64
	// Duration is the container's duration in seconds (0 when unknown).
	Duration float64
	pixels   []byte // every frame, Width*Height*3 bytes each, in Times' order
}

// DecodeVideo decodes every frame of video stream videoIndex of path, with their times: one
// ffprobe for the size, the duration and the packets' times (FrameAt's frame times), and one
// ffmpeg for the pictures, whatever the number of frames asked for later.
func DecodeVideo(ctx context.Context, path string, videoIndex int) (*Video, error) {
	vs, err := decodeVideos(ctx, path, &videoIndex)
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// DecodeVideos is DecodeVideo for every video stream of path, with one ffprobe and one ffmpeg
// for them all; element N is video stream N.
func DecodeVideos(ctx context.Context, path string) ([]*Video, error) {
	return decodeVideos(ctx, path, nil)
}

// decodeVideos decodes video stream *only, or every one when only is nil.
func decodeVideos(ctx context.Context, path string, only *int) ([]*Video, error) {
	p, packets, err := probePackets(ctx, path, false, true)
	if err != nil {
		return nil, err
	}
	var indexes []int
	if only != nil {
		indexes = []int{*only}
	} else {
		for i := range p.VideoStreams() {
			indexes = append(indexes, i)
		}
	}
	if len(indexes) == 0 {
		return nil, fmt.Errorf("%w: %s has no video stream", ErrNoVideoStream, path)
	}
	videos := make([]*Video, len(indexes))
	args := []string{"-nostdin", "-v", "error", "-noautorotate", "-i", fileURL(path)}
	for k, i := range indexes {
		vs, err := videoStream(p, path, i)
		if err != nil {
			return nil, err
		}
		if vs.Width <= 0 || vs.Height <= 0 {
			return nil, fmt.Errorf("mediatest: %s video stream %d has unknown size %dx%d", path, i, vs.Width, vs.Height)
		}
		times, err := packetTimes(path, vs, packets)
		if err != nil {
			return nil, err
		}
		videos[k] = &Video{Path: path, Index: i, Width: vs.Width, Height: vs.Height, Times: times, Duration: p.Format.Duration}
		// Passthrough: every decoded frame once, none dropped or repeated to fit a rate. Each
		// stream to a pipe of its own: descriptor 3 and on (the command's ExtraFiles).
		args = append(args, "-map", "0:v:"+strconv.Itoa(i), "-fps_mode", "passthrough",
			"-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"+strconv.Itoa(3+k))
	}
	outs, err := runPipes(ctx, len(indexes), "ffmpeg", args...)
	if err != nil {
		return nil, err
	}
	for k, v := range videos {
		size := v.Width * v.Height * 3
		if len(outs[k]) != len(v.Times)*size {
			return nil, fmt.Errorf("mediatest: %s video stream %d: decoded %d bytes, want %d frames of %dx%d rgb24 (%d bytes)",
				path, v.Index, len(outs[k]), len(v.Times), v.Width, v.Height, len(v.Times)*size)
		}
		v.pixels = outs[k]
	}
	return videos, nil
}

// runPipes runs prog with args and n pipes as descriptors 3 to 3+n-1, and returns what was
// written to each; like run, a failure includes prog's standard error.
func runPipes(ctx context.Context, n int, prog string, args ...string) ([][]byte, error) {
	if _, err := exec.LookPath(prog); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotAvailable, prog)
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	readers := make([]*os.File, n)
	for i := range n {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		defer w.Close()
		readers[i] = r
		cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mediatest: %s: %w", prog, err)
	}
	for _, w := range cmd.ExtraFiles {
		w.Close() // the child's copies remain: each pipe ends when the child closes its own
	}
	// Read every pipe at once: the child blocks on a full one.
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() { outs[i], errs[i] = io.ReadAll(r) })
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("mediatest: %s %s: %w: %s",
			prog, strings.Join(args, " "), err, strings.Join(strings.Fields(stderr.String()), " "))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mediatest: %s: reading its output: %w", prog, err)
	}
	return outs, nil
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
	return rgbaOf(v.pixels[i*size:(i+1)*size], v.Width, v.Height), nil
}

// FramesAt is FrameAt at several times of one stream, for pictures too large to keep every
// frame of (DecodeVideo): one ffprobe and one ffmpeg, which decodes the stream once and
// keeps only the frames shown at those times. The images are in the order of seconds.
func FramesAt(ctx context.Context, path string, videoIndex int, seconds ...float64) ([]*image.RGBA, error) {
	p, packets, vs, err := probeVideo(ctx, path, videoIndex)
	if err != nil {
		return nil, err
	}
	times, err := packetTimes(path, vs, packets)
	if err != nil {
		return nil, err
	}
	// The frame shown at each time, as FrameAt picks it, then each frame once, in stream order.
	shown := make([]int, len(seconds))
	for i, sec := range seconds {
		if sec < 0 {
			return nil, fmt.Errorf("mediatest: negative time %g", sec)
		}
		if sec > p.Format.Duration && p.Format.Duration > 0 || len(times) == 0 {
			return nil, fmt.Errorf("%w: %s video stream %d at %gs: it ends at %gs", ErrNoFrame, path, videoIndex, sec, p.Format.Duration)
		}
		shown[i] = max(sort.SearchFloat64s(times, sec+1e-6)-1, 0)
	}
	frames := slices.Compact(slices.Sorted(slices.Values(shown)))
	// Selected by their time rather than their number, so that a frame the decoder drops
	// makes a short output (an error), never another frame in its place; times are printed
	// to the microsecond and frames are milliseconds apart.
	var sel []string
	for _, f := range frames {
		at := strconv.FormatFloat(times[f], 'f', -1, 64)
		sel = append(sel, "between(t\\,"+at+"-0.0005\\,"+at+"+0.0005)")
	}
	// -copyts: the filter's t is then the packet time ffprobe printed, not shifted to the
	// file's start.
	out, err := run(ctx, "ffmpeg", "-nostdin", "-v", "error",
		"-noautorotate", "-copyts",
		"-i", fileURL(path),
		"-map", "0:v:"+strconv.Itoa(videoIndex),
		"-vf", "select="+strings.Join(sel, "+"),
		"-fps_mode", "passthrough",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	if err != nil {
		return nil, err
	}
	size := vs.Width * vs.Height * 3
	if len(out) != len(frames)*size {
		return nil, fmt.Errorf("%w: %s video stream %d: decoded %d bytes, want %d frames of %dx%d rgb24 (at %v of %v)",
			ErrNoFrame, path, videoIndex, len(out), len(frames), vs.Width, vs.Height, frames, times)
	}
	imgs := make([]*image.RGBA, len(seconds))
	for i, f := range shown {
		k := slices.Index(frames, f)
		imgs[i] = rgbaOf(out[k*size:(k+1)*size], vs.Width, vs.Height)
	}
	return imgs, nil
}

// rgbaOf converts one rgb24 picture to an image.
func rgbaOf(rgb []byte, width, height int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for i, j := 0, 0; i < len(rgb); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = rgb[i], rgb[i+1], rgb[i+2], 0xff
	}
	return img
}
