package avext

/*
#cgo pkg-config: libavcodec libavutil
#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <stdlib.h>

static int avext_hwframes_init(AVCodecContext *cc, int type, int sw_fmt, int w, int h, AVBufferRef **device) {
	int ret = av_hwdevice_ctx_create(device, (enum AVHWDeviceType)type, NULL, NULL, 0);
	if (ret < 0) return ret;
	AVBufferRef *ref = av_hwframe_ctx_alloc(*device);
	if (!ref) return AVERROR(ENOMEM);
	AVHWFramesContext *fc = (AVHWFramesContext *)ref->data;
	const enum AVPixelFormat *hwfmts = NULL;
	fc->format = AV_PIX_FMT_NONE;
	// The frames context's format is the device type's own hardware format.
	AVHWFramesConstraints *cons = av_hwdevice_get_hwframe_constraints(*device, NULL);
	if (cons && cons->valid_hw_formats) hwfmts = cons->valid_hw_formats;
	if (hwfmts) fc->format = hwfmts[0];
	av_hwframe_constraints_free(&cons);
	if (fc->format == AV_PIX_FMT_NONE) { av_buffer_unref(&ref); return AVERROR(ENOSYS); }
	fc->sw_format = (enum AVPixelFormat)sw_fmt;
	fc->width = w;
	fc->height = h;
	fc->initial_pool_size = 8;
	ret = av_hwframe_ctx_init(ref);
	if (ret < 0) { av_buffer_unref(&ref); return ret; }
	cc->hw_frames_ctx = av_buffer_ref(ref);
	cc->pix_fmt = fc->format;
	av_buffer_unref(&ref);
	return cc->pix_fmt;
}

static int avext_hwframe_upload(AVCodecContext *cc, AVFrame *hw, const AVFrame *sw) {
	av_frame_unref(hw);
	int ret = av_hwframe_get_buffer(cc->hw_frames_ctx, hw, 0);
	if (ret < 0) return ret;
	ret = av_hwframe_transfer_data(hw, sw, 0);
	if (ret < 0) return ret;
	return av_frame_copy_props(hw, sw);
}

static void avext_buffer_unref(AVBufferRef **b) { av_buffer_unref(b); }
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// codecContextPtr returns the AVCodecContext behind cc; like FormatContext, go-astiav v0.16.0's
// CodecContext keeps it as its first field (TestLayout guards this).
func codecContextPtr(cc *astiav.CodecContext) *C.AVCodecContext {
	return *(**C.AVCodecContext)(unsafe.Pointer(cc))
}

// HWFrames uploads software frames into a hardware frames pool for encoders such as
// h264_vaapi that only take hardware surfaces. go-astiav v0.16.0 has device contexts but no
// frames contexts, hence this helper.
type HWFrames struct {
	device *C.AVBufferRef
	pixFmt astiav.PixelFormat
	frame  *astiav.Frame
}

// NewHWFrames creates a device of deviceType ("vaapi", "qsv", "cuda", …) and attaches a pool of
// nv12 surfaces of w×h to cc. Call it before opening cc.
func NewHWFrames(cc *astiav.CodecContext, deviceType string, w, h int) (*HWFrames, error) {
	cs := C.CString(deviceType)
	defer C.free(unsafe.Pointer(cs))
	t := C.av_hwdevice_find_type_by_name(cs)
	if t == C.AV_HWDEVICE_TYPE_NONE {
		return nil, fmt.Errorf("hardware device type %q unknown to this FFmpeg", deviceType)
	}
	hf := &HWFrames{}
	ret := C.avext_hwframes_init(codecContextPtr(cc), C.int(t), C.int(astiav.PixelFormatNv12), C.int(w), C.int(h), &hf.device)
	if ret < 0 {
		hf.Free()
		return nil, fmt.Errorf("%s device: %w", deviceType, astiav.Error(ret))
	}
	hf.pixFmt = astiav.PixelFormat(ret)
	hf.frame = astiav.AllocFrame()
	return hf, nil
}

// PixelFormat is the hardware pixel format the encoder must be opened with.
func (h *HWFrames) PixelFormat() astiav.PixelFormat { return h.pixFmt }

// Upload copies sw (nv12) into a pooled hardware surface and returns it; the surface is valid
// until the next Upload.
func (h *HWFrames) Upload(cc *astiav.CodecContext, sw *astiav.Frame) (*astiav.Frame, error) {
	ret := C.avext_hwframe_upload(codecContextPtr(cc), (*C.AVFrame)(h.frame.UnsafePointer()), (*C.AVFrame)(sw.UnsafePointer()))
	if ret < 0 {
		return nil, astiav.Error(ret)
	}
	return h.frame, nil
}

// Free releases the pool's device reference and frame.
func (h *HWFrames) Free() {
	if h.frame != nil {
		h.frame.Free()
		h.frame = nil
	}
	if h.device != nil {
		C.avext_buffer_unref(&h.device)
	}
}
