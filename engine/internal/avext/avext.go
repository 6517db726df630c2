// Package avext adds the few FFmpeg calls that go-astiav v0.16.0 does not wrap: writing
// container metadata and painting rectangles into planar frames. It is pinned to the memory
// layout of go-astiav v0.16.0 (see formatContextPtr) and tested against it.
package avext

/*
#cgo pkg-config: libavformat libavutil
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libavutil/opt.h>
#include <string.h>
#include <stdlib.h>

static int avext_set_format_metadata(AVFormatContext *fc, const char *k, const char *v) {
	return av_dict_set(&fc->metadata, k, v, 0);
}

static int avext_set_muxer_option(AVFormatContext *fc, const char *k, const char *v) {
	if (!fc->priv_data) return AVERROR(EINVAL);
	return av_opt_set(fc->priv_data, k, v, 0);
}

static int avext_set_stream_metadata(AVFormatContext *fc, int idx, const char *k, const char *v) {
	if (idx < 0 || (unsigned)idx >= fc->nb_streams) return AVERROR(EINVAL);
	return av_dict_set(&fc->streams[idx]->metadata, k, v, 0);
}

// avext_fill_yuv420 paints [x0,x1)x[y0,y1) of a yuv420p/nv12 frame with one colour. Chroma
// cells are painted only when they lie wholly inside the rectangle, so a pixel outside it never
// changes colour.
static int avext_fill_yuv420(AVFrame *f, int x0, int y0, int x1, int y1, int Y, int U, int V) {
	if (x0 < 0) x0 = 0;
	if (y0 < 0) y0 = 0;
	if (x1 > f->width) x1 = f->width;
	if (y1 > f->height) y1 = f->height;
	if (x0 >= x1 || y0 >= y1) return 0;
	int nv12 = f->format == AV_PIX_FMT_NV12;
	if (!nv12 && f->format != AV_PIX_FMT_YUV420P) return AVERROR(EINVAL);
	int ret = av_frame_make_writable(f);
	if (ret < 0) return ret;
	for (int y = y0; y < y1; y++) memset(f->data[0] + (size_t)y * f->linesize[0] + x0, Y, x1 - x0);
	int cx0 = (x0 + 1) / 2, cx1 = x1 / 2, cy0 = (y0 + 1) / 2, cy1 = y1 / 2;
	if (cx0 >= cx1 || cy0 >= cy1) return 0;
	for (int y = cy0; y < cy1; y++) {
		if (nv12) {
			uint8_t *p = f->data[1] + (size_t)y * f->linesize[1];
			for (int x = cx0; x < cx1; x++) { p[2*x] = U; p[2*x+1] = V; }
		} else {
			memset(f->data[1] + (size_t)y * f->linesize[1] + cx0, U, cx1 - cx0);
			memset(f->data[2] + (size_t)y * f->linesize[2] + cx0, V, cx1 - cx0);
		}
	}
	return 0;
}
*/
import "C"

import (
	"fmt"
	"image"
	"image/color"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// formatContextPtr returns the AVFormatContext behind fc. go-astiav v0.16.0 exposes no
// UnsafePointer for format contexts; its FormatContext is a struct whose first field is that
// pointer (TestFormatContextLayout guards this assumption).
func formatContextPtr(fc *astiav.FormatContext) *C.AVFormatContext {
	return *(**C.AVFormatContext)(unsafe.Pointer(fc))
}

// SetFormatMetadata sets a container-level metadata tag. Call it before WriteHeader.
func SetFormatMetadata(fc *astiav.FormatContext, key, value string) error {
	k, v := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(k))
	defer C.free(unsafe.Pointer(v))
	if ret := C.avext_set_format_metadata(formatContextPtr(fc), k, v); ret < 0 {
		return fmt.Errorf("set metadata %q: %w", key, astiav.Error(ret))
	}
	return nil
}

// SetMuxerOption sets an option of fc's muxer after its header is written, for the options
// a muxer reads while writing (the mp4 muxer's movflags, say). A "+flag" value adds to a
// flags option.
func SetMuxerOption(fc *astiav.FormatContext, key, value string) error {
	k, v := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(k))
	defer C.free(unsafe.Pointer(v))
	if ret := C.avext_set_muxer_option(formatContextPtr(fc), k, v); ret < 0 {
		return fmt.Errorf("set muxer option %s=%s: %w", key, value, astiav.Error(ret))
	}
	return nil
}

// SetStreamMetadata sets a metadata tag of stream idx. Call it before WriteHeader.
func SetStreamMetadata(fc *astiav.FormatContext, idx int, key, value string) error {
	k, v := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(k))
	defer C.free(unsafe.Pointer(v))
	if ret := C.avext_set_stream_metadata(formatContextPtr(fc), C.int(idx), k, v); ret < 0 {
		return fmt.Errorf("set stream %d metadata %q: %w", idx, key, astiav.Error(ret))
	}
	return nil
}

// YUV is a colour in limited-range BT.601 YCbCr, the range libx264 gets from swscale.
type YUV struct{ Y, U, V uint8 }

// Black is limited-range black.
var Black = YUV{16, 128, 128}

// FillRect paints r of a yuv420p or nv12 frame with c, making the frame writable first.
func FillRect(f *astiav.Frame, r image.Rectangle, c YUV) error {
	ret := C.avext_fill_yuv420((*C.AVFrame)(f.UnsafePointer()), C.int(r.Min.X), C.int(r.Min.Y),
		C.int(r.Max.X), C.int(r.Max.Y), C.int(c.Y), C.int(c.U), C.int(c.V))
	if ret < 0 {
		return fmt.Errorf("fill %v: %w", r, astiav.Error(ret))
	}
	return nil
}

// YUVFromRGB converts an sRGB colour to limited-range BT.601 YCbCr, as swscale does for
// yuv420p output.
func YUVFromRGB(c color.RGBA) YUV {
	r, g, b := float64(c.R), float64(c.G), float64(c.B)
	clamp := func(v float64) uint8 { return uint8(min(255, max(0, v+0.5))) }
	return YUV{
		Y: clamp(16 + (65.481*r+128.553*g+24.966*b)/255),
		U: clamp(128 + (-37.797*r-74.203*g+112.0*b)/255),
		V: clamp(128 + (112.0*r-93.786*g-18.214*b)/255),
	}
}
