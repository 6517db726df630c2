package avext

/*
#cgo pkg-config: libavutil
#cgo LDFLAGS: -lyuv
#include <libavutil/frame.h>
#include <libyuv/convert_from_argb.h>
#include <libavutil/pixfmt.h>
#include <stdint.h>

// avext_bgr0_to_yuv420p converts [x0,x1)x[y0,y1) (even bounds) of a bgr0 image into a
// yuv420p frame with libyuv, whose SIMD code does what swscale does for libx264 (limited-range
// BT.601, chroma the average of each 2x2 cell) several times faster.
static int avext_bgr0_to_yuv420p(const uint8_t *src, int stride, AVFrame *f,
		int x0, int y0, int x1, int y1) {
	int ret = av_frame_make_writable(f);
	if (ret < 0) return ret;
	int ys = f->linesize[0], us = f->linesize[1], vs = f->linesize[2];
	// libyuv's "ARGB" is B, G, R, A in memory: bgr0.
	return ARGBToI420(src + (size_t)y0 * stride + 4 * x0, stride,
		f->data[0] + (size_t)y0 * ys + x0, ys,
		f->data[1] + (size_t)(y0 / 2) * us + x0 / 2, us,
		f->data[2] + (size_t)(y0 / 2) * vs + x0 / 2, vs,
		x1 - x0, y1 - y0) == 0 ? 0 : AVERROR(EINVAL);
}

static void avext_set_data(AVFrame *f, uint8_t *data, int stride) {
	f->data[0] = data;
	f->linesize[0] = stride;
}

static uint8_t *avext_data(AVFrame *f) { return f->data[0]; }
static int avext_make_writable(AVFrame *f) { return av_frame_make_writable(f); }
static int avext_linesize(AVFrame *f) { return f->linesize[0]; }
*/
import "C"

import (
	"fmt"
	"image"
	"image/color"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// SetFrameData points f's only plane at data (stride bytes per row), memory f does not own:
// for frames over a capture's shared-memory image. data must not be Go memory.
func SetFrameData(f *astiav.Frame, data unsafe.Pointer, stride int) {
	C.avext_set_data((*C.AVFrame)(f.UnsafePointer()), (*C.uint8_t)(data), C.int(stride))
}

// frameData is f's first plane.
func frameData(f *astiav.Frame) unsafe.Pointer {
	return unsafe.Pointer(C.avext_data((*C.AVFrame)(f.UnsafePointer())))
}

// BGR0ToYUV420P converts area r of src, a bgr0 frame, into the same area of dst, a yuv420p
// frame of the same size, leaving the rest of dst as it was; r is widened to even bounds.
// dst is made writable first, so an encoder still holding it keeps its own copy.
func BGR0ToYUV420P(src, dst *astiav.Frame, r image.Rectangle) error {
	if src.PixelFormat() != astiav.PixelFormatBgr0 || dst.PixelFormat() != astiav.PixelFormatYuv420P ||
		src.Width() != dst.Width() || src.Height() != dst.Height() {
		return fmt.Errorf("%w: %dx%d %s → %dx%d %s", ErrUnsupported, src.Width(), src.Height(), src.PixelFormat(),
			dst.Width(), dst.Height(), dst.PixelFormat())
	}
	r = image.Rect(r.Min.X&^1, r.Min.Y&^1, (r.Max.X+1)&^1, (r.Max.Y+1)&^1).
		Intersect(image.Rect(0, 0, dst.Width()&^1, dst.Height()&^1))
	if r.Empty() {
		return nil
	}
	s := (*C.AVFrame)(src.UnsafePointer())
	ret := C.avext_bgr0_to_yuv420p(C.avext_data(s), C.avext_linesize(s), (*C.AVFrame)(dst.UnsafePointer()),
		C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Max.X), C.int(r.Max.Y))
	if ret < 0 {
		return fmt.Errorf("convert %v: %w", r, astiav.Error(ret))
	}
	return nil
}

// FillBGR0 paints r of a bgr0 frame that owns its buffer with c: the picture of a scripted
// test screen.
func FillBGR0(f *astiav.Frame, r image.Rectangle, c color.RGBA) error {
	if f.PixelFormat() != astiav.PixelFormatBgr0 {
		return fmt.Errorf("%w: fill %s", ErrUnsupported, f.PixelFormat())
	}
	if ret := C.avext_make_writable((*C.AVFrame)(f.UnsafePointer())); ret < 0 {
		return fmt.Errorf("fill: %w", astiav.Error(ret))
	}
	r = r.Intersect(image.Rect(0, 0, f.Width(), f.Height()))
	if r.Empty() {
		return nil
	}
	base, stride := frameData(f), int(C.avext_linesize((*C.AVFrame)(f.UnsafePointer())))
	px := [4]byte{c.B, c.G, c.R, 0}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := unsafe.Slice((*byte)(unsafe.Add(base, y*stride+4*r.Min.X)), 4*r.Dx())
		for x := 0; x < len(row); x += 4 {
			copy(row[x:x+4], px[:])
		}
	}
	return nil
}
