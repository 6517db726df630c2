package avext

/*
#cgo pkg-config: libavutil
#cgo CFLAGS: -O3
#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include <stdint.h>

// avext_bgr0_to_yuv420p converts [x0,x1)x[y0,y1) (even bounds) of a bgr0 image into a
// yuv420p frame, as swscale does for libx264: limited-range BT.601, chroma the average of
// each 2x2 cell. Plain loops over rows: the compiler vectorises the inner ones at -O3.
static int avext_bgr0_to_yuv420p(const uint8_t *src, int stride, AVFrame *f,
		int x0, int y0, int x1, int y1) {
	int ret = av_frame_make_writable(f);
	if (ret < 0) return ret;
	uint8_t *Y = f->data[0], *U = f->data[1], *V = f->data[2];
	int ys = f->linesize[0], us = f->linesize[1], vs = f->linesize[2];
	for (int y = y0; y < y1; y += 2) {
		const uint8_t *s0 = src + (size_t)y * stride;
		const uint8_t *s1 = s0 + stride;
		uint8_t *y0p = Y + (size_t)y * ys, *y1p = y0p + ys;
		uint8_t *up = U + (size_t)(y / 2) * us, *vp = V + (size_t)(y / 2) * vs;
		for (int x = x0; x < x1; x++) {
			const uint8_t *a = s0 + 4 * x, *b = s1 + 4 * x;
			y0p[x] = (uint8_t)(((66 * a[2] + 129 * a[1] + 25 * a[0] + 128) >> 8) + 16);
			y1p[x] = (uint8_t)(((66 * b[2] + 129 * b[1] + 25 * b[0] + 128) >> 8) + 16);
		}
		for (int x = x0 / 2; x < x1 / 2; x++) {
			const uint8_t *a = s0 + 8 * x, *b = s1 + 8 * x;
			int bl = a[0] + a[4] + b[0] + b[4];
			int gr = a[1] + a[5] + b[1] + b[5];
			int rd = a[2] + a[6] + b[2] + b[6];
			// Sums of four: the >>10 divides by 4 and by 256 at once.
			up[x] = (uint8_t)(((-38 * rd - 74 * gr + 112 * bl + 512) >> 10) + 128);
			vp[x] = (uint8_t)(((112 * rd - 94 * gr - 18 * bl + 512) >> 10) + 128);
		}
	}
	return 0;
}

static void avext_set_data(AVFrame *f, uint8_t *data, int stride) {
	f->data[0] = data;
	f->linesize[0] = stride;
}

static uint8_t *avext_data(AVFrame *f) { return f->data[0]; }
static int avext_linesize(AVFrame *f) { return f->linesize[0]; }
*/
import "C"

import (
	"fmt"
	"image"
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
