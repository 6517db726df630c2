package pipeline

/*
#cgo pkg-config: libavutil
#include <libavutil/frame.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// Thumbnail errors.
var (
	// ErrNoTrack: the capture has no track with the index asked for.
	ErrNoTrack = errors.New("no such track")
	// ErrNoFrame: the track has no frame yet (it has just started, or its monitor is gone).
	ErrNoFrame = errors.New("no frame captured yet")
)

// lastFrame is a track's last encoded frame, for thumbnails. It holds a reference, never a copy:
// the track's goroutine points it at the frame it hands to the encoder and converts into that
// frame under mu, so a thumbnail reads a whole frame, and nothing is copied unless asked.
type lastFrame struct {
	mu sync.Mutex
	f  *astiav.Frame // the converter's output or the slate; nil when there is none
}

// keep points it at f. Only the track's goroutine calls it.
func (s *lastFrame) keep(f *astiav.Frame) {
	s.mu.Lock()
	s.f = f
	s.mu.Unlock()
}

// forget drops the reference before the frame it names is freed or replaced.
func (s *lastFrame) forget() {
	s.mu.Lock()
	s.f = nil
	s.mu.Unlock()
}

// convert runs fn, which writes into the frame the lastFrame may name, under the lock.
func (s *lastFrame) convert(fn func() (*astiav.Frame, error)) (*astiav.Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn()
}

// Thumbnail returns track idx's current picture scaled to at most maxWidth pixels wide
// (0: full size), as the recording shows it: a masked capture gives its mask colour, never
// the screen. It costs a scaled sampling of the frame, under the track's lock; the capture itself does
// no extra work, and the frame is read in place (no copy). Errors: ErrNoTrack, ErrNoFrame.
func (c *Capture) Thumbnail(idx, maxWidth int) (*image.YCbCr, error) {
	if idx < 0 || idx >= len(c.tracks) {
		return nil, fmt.Errorf("%w: track %d of %d", ErrNoTrack, idx, len(c.tracks))
	}
	t := c.tracks[idx]
	c.mu.Lock()
	w, h, gone := t.w, t.h, t.gone
	c.mu.Unlock()
	if gone != "" {
		return nil, fmt.Errorf("%w: track %d ended: %s", ErrNoFrame, idx, gone)
	}
	tw, th := thumbSize(w, h, maxWidth)
	if c.Masked() {
		return Solid(tw, th, c.spec.MaskColor), nil
	}
	t.last.mu.Lock()
	defer t.last.mu.Unlock()
	f := t.last.f
	if f == nil {
		return nil, fmt.Errorf("%w: track %d", ErrNoFrame, idx)
	}
	fw, fh, pf := f.Width(), f.Height(), f.PixelFormat()
	if pf != astiav.PixelFormatYuv420P && pf != astiav.PixelFormatNv12 {
		return nil, fmt.Errorf("%w: track %d: frames are %s, thumbnails take yuv420p or nv12", ErrNoFrame, idx, pf)
	}
	tw, th = thumbSize(fw, fh, maxWidth)
	return sample(framePlanes(f, fh), fw, fh, pf == astiav.PixelFormatNv12, tw, th), nil
}

// planes are a frame's pixel planes (Y, then U and V or interleaved UV) and their strides,
// over the frame's own memory: valid while the frame is, and read only.
type planes struct {
	p      [3][]byte
	stride [3]int
}

// framePlanes views f's planes in place (a thumbnail reads a few thousand pixels of them:
// no copy of the frame). h is the frame's height.
func framePlanes(f *astiav.Frame, h int) planes {
	cf := (*C.AVFrame)(f.UnsafePointer())
	var out planes
	for i := range 3 {
		if cf.data[i] == nil {
			continue
		}
		rows := (h + 1) / 2
		if i == 0 {
			rows = h
		}
		out.stride[i] = int(cf.linesize[i])
		out.p[i] = unsafe.Slice((*byte)(unsafe.Pointer(cf.data[i])), out.stride[i]*rows)
	}
	return out
}

// thumbSize fits w×h into maxWidth, keeping the aspect ratio; even sizes, at least 2×2.
func thumbSize(w, h, maxWidth int) (int, int) {
	if maxWidth <= 0 || w <= maxWidth {
		return max(2, w&^1), max(2, h&^1)
	}
	return max(2, maxWidth&^1), max(2, (h*maxWidth/w)&^1)
}

// Solid is a w×h picture of one colour: the thumbnail of a masked track.
func Solid(w, h int, c color.RGBA) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	y, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
	for i := range img.Y {
		img.Y[i] = y
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = cb, cr
	}
	return img
}

// Limited-range (video) BT.601 to the full range of JPEG's YCbCr.
var lumaFull, chromaFull [256]uint8

func init() {
	for i := range 256 {
		lumaFull[i] = uint8(min(255, max(0, ((i-16)*255+109)/219)))
		chromaFull[i] = uint8(min(255, max(0, 128+((i-128)*255+112*sign(i-128))/224)))
	}
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// sample scales a yuv420p (or nv12) w×h picture down to tw×th: each output pixel is the
// mean of a 2×2 block of luma at its source position (chroma: the nearest sample). A
// thumbnail needs no more, and it costs four reads a pixel whatever the source size.
func sample(src planes, w, h int, nv12 bool, tw, th int) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, tw, th), image.YCbCrSubsampleRatio420)
	cw, ch := (w+1)/2, (h+1)/2
	ys := src.stride[0]
	for y := range th {
		sy := min(h-2, y*h/th)
		row := src.p[0][sy*ys:]
		next := src.p[0][(sy+1)*ys:]
		out := img.Y[y*img.YStride:]
		for x := range tw {
			sx := min(w-2, x*w/tw)
			v := (int(row[sx]) + int(row[sx+1]) + int(next[sx]) + int(next[sx+1]) + 2) / 4
			out[x] = lumaFull[v]
		}
	}
	tcw, tch := (tw+1)/2, (th+1)/2
	for y := range tch {
		sy := min(ch-1, y*ch/tch)
		for x := range tcw {
			sx := min(cw-1, x*cw/tcw)
			var u, v byte
			if nv12 {
				i := sy*src.stride[1] + sx*2
				u, v = src.p[1][i], src.p[1][i+1]
			} else {
				u, v = src.p[1][sy*src.stride[1]+sx], src.p[2][sy*src.stride[2]+sx]
			}
			o := y*img.CStride + x
			img.Cb[o], img.Cr[o] = chromaFull[u], chromaFull[v]
		}
	}
	return img
}
