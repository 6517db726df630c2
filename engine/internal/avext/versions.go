package avext

/*
#cgo pkg-config: libavcodec libavformat libavutil libavfilter libavdevice libswscale libswresample
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavfilter/avfilter.h>
#include <libavdevice/avdevice.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
*/
import "C"

import "fmt"

// LibraryVersion is the version of one FFmpeg library: the one this program runs with and
// the one it was built against (they differ after a library upgrade without a rebuild).
type LibraryVersion struct {
	Name    string `json:"name"`
	Runtime string `json:"runtime"`
	Built   string `json:"built"`
}

// LibraryVersions lists the FFmpeg libraries the engine links, in link order.
func LibraryVersions() []LibraryVersion {
	v := func(n C.uint) string { return fmt.Sprintf("%d.%d.%d", n>>16, (n>>8)&0xff, n&0xff) }
	return []LibraryVersion{
		{"libavutil", v(C.avutil_version()), v(C.LIBAVUTIL_VERSION_INT)},
		{"libavcodec", v(C.avcodec_version()), v(C.LIBAVCODEC_VERSION_INT)},
		{"libavformat", v(C.avformat_version()), v(C.LIBAVFORMAT_VERSION_INT)},
		{"libavdevice", v(C.avdevice_version()), v(C.LIBAVDEVICE_VERSION_INT)},
		{"libavfilter", v(C.avfilter_version()), v(C.LIBAVFILTER_VERSION_INT)},
		{"libswscale", v(C.swscale_version()), v(C.LIBSWSCALE_VERSION_INT)},
		{"libswresample", v(C.swresample_version()), v(C.LIBSWRESAMPLE_VERSION_INT)},
	}
}
