package xscene

import (
	"fmt"
	"image"
	"image/color"
	"math/bits"

	"github.com/jezek/xgb/xproto"
)

// channel describes where one colour component lives in a pixel value.
type channel struct {
	shift uint
	max   uint32 // the mask shifted down, i.e. the component's largest value
}

// newChannel derives a channel from a visual's contiguous colour mask.
func newChannel(mask uint32) channel {
	shift := uint(bits.TrailingZeros32(mask))
	return channel{shift: shift, max: mask >> shift}
}

// encode scales an 8-bit component to the channel's width and positions
// it, rounding to the nearest representable value.
func (c channel) encode(v uint8) uint32 {
	return (uint32(v)*c.max + 127) / 255 << c.shift
}

// decode extracts the component from pixel and scales it to 8 bits.
func (c channel) decode(pixel uint32) uint8 {
	v := pixel >> c.shift & c.max
	return uint8((v*255 + c.max/2) / c.max)
}

// pixelFormat is what is needed to convert between color.RGBA and the
// root window's pixel values and ZPixmap image bytes.
type pixelFormat struct {
	bitsPerPixel     int // 16, 24 or 32
	scanlinePad      int // in bits
	msbFirst         bool
	red, green, blue channel
}

// newPixelFormat inspects the connection setup for the default screen's
// root visual. Only TrueColor is supported: its pixel values are the
// colours themselves, with no colormap to consult.
func newPixelFormat(setup *xproto.SetupInfo, screen *xproto.ScreenInfo) (pixelFormat, error) {
	var visual *xproto.VisualInfo
	for _, d := range screen.AllowedDepths {
		if d.Depth != screen.RootDepth {
			continue
		}
		for i := range d.Visuals {
			if d.Visuals[i].VisualId == screen.RootVisual {
				visual = &d.Visuals[i]
			}
		}
	}
	if visual == nil {
		return pixelFormat{}, fmt.Errorf("%w: root visual %#x not listed", ErrUnsupportedVisual, screen.RootVisual)
	}
	if visual.Class != xproto.VisualClassTrueColor {
		return pixelFormat{}, fmt.Errorf("%w: visual class %d is not TrueColor", ErrUnsupportedVisual, visual.Class)
	}
	pf := pixelFormat{
		msbFirst: setup.ImageByteOrder != xproto.ImageOrderLSBFirst,
		red:      newChannel(visual.RedMask),
		green:    newChannel(visual.GreenMask),
		blue:     newChannel(visual.BlueMask),
	}
	for _, f := range setup.PixmapFormats {
		if f.Depth == screen.RootDepth {
			pf.bitsPerPixel = int(f.BitsPerPixel)
			pf.scanlinePad = int(f.ScanlinePad)
		}
	}
	switch pf.bitsPerPixel {
	case 16, 24, 32:
	default:
		return pixelFormat{}, fmt.Errorf("%w: %d bits per pixel at depth %d",
			ErrUnsupportedVisual, pf.bitsPerPixel, screen.RootDepth)
	}
	if pf.red.max == 0 || pf.green.max == 0 || pf.blue.max == 0 {
		return pixelFormat{}, fmt.Errorf("%w: empty colour mask", ErrUnsupportedVisual)
	}
	return pf, nil
}

// pixel converts a colour to the visual's pixel value, ignoring alpha.
func (pf pixelFormat) pixel(c color.RGBA) uint32 {
	return pf.red.encode(c.R) | pf.green.encode(c.G) | pf.blue.encode(c.B)
}

// put stores the pixel value v in the first bytesPerPixel bytes of dst,
// in the server's image byte order: the inverse of what decode reads.
func (pf pixelFormat) put(dst []byte, v uint32) {
	n := pf.bitsPerPixel / 8
	if pf.msbFirst {
		for i := n - 1; i >= 0; i-- {
			dst[i] = byte(v)
			v >>= 8
		}
		return
	}
	for i := range n {
		dst[i] = byte(v)
		v >>= 8
	}
}

// stride returns the length in bytes of one ZPixmap scanline of width w.
func (pf pixelFormat) stride(w int) int {
	bitsPerLine := w * pf.bitsPerPixel
	return (bitsPerLine + pf.scanlinePad - 1) / pf.scanlinePad * pf.scanlinePad / 8
}

// decode converts ZPixmap bytes covering r into an opaque RGBA image
// whose bounds are r, so that it can be indexed in root coordinates.
func (pf pixelFormat) decode(data []byte, r image.Rectangle) (*image.RGBA, error) {
	w, h := r.Dx(), r.Dy()
	stride := pf.stride(w)
	if len(data) < stride*h {
		return nil, fmt.Errorf("xscene: GetImage returned %d bytes, want %d for %dx%d", len(data), stride*h, w, h)
	}
	img := image.NewRGBA(r)
	bytesPerPixel := pf.bitsPerPixel / 8
	for y := range h {
		row := data[y*stride:]
		out := img.Pix[y*img.Stride:]
		for x := range w {
			var v uint32
			px := row[x*bytesPerPixel : (x+1)*bytesPerPixel]
			for i := range bytesPerPixel {
				if pf.msbFirst {
					v = v<<8 | uint32(px[i])
				} else {
					v |= uint32(px[i]) << (8 * i)
				}
			}
			o := out[x*4 : x*4+4]
			o[0], o[1], o[2], o[3] = pf.red.decode(v), pf.green.decode(v), pf.blue.decode(v), 0xff
		}
	}
	return img, nil
}
