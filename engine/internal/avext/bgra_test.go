package avext

import (
	"errors"
	"image"
	"testing"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// bgr0Frame is a w×h bgr0 frame whose pixel (x, y) is px(x, y) as R, G, B.
func bgr0Frame(t *testing.T, w, h int, px func(x, y int) (r, g, b uint8)) *astiav.Frame {
	t.Helper()
	f := astiav.AllocFrame()
	t.Cleanup(f.Free)
	f.SetWidth(w)
	f.SetHeight(h)
	f.SetPixelFormat(astiav.PixelFormatBgr0)
	if err := f.AllocBuffer(0); err != nil {
		t.Fatal(err)
	}
	stride := f.Linesize()[0]
	data := unsafe.Slice((*byte)(frameData(f)), stride*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := px(x, y)
			copy(data[y*stride+4*x:], []byte{b, g, r, 0})
		}
	}
	return f
}

func yuvFrame(t *testing.T, w, h int) *astiav.Frame {
	t.Helper()
	f := astiav.AllocFrame()
	t.Cleanup(f.Free)
	f.SetWidth(w)
	f.SetHeight(h)
	f.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := f.AllocBuffer(0); err != nil {
		t.Fatal(err)
	}
	return f
}

// planes returns the Y, U and V bytes of a yuv420p frame, without padding.
func planes(t *testing.T, f *astiav.Frame) [3][]byte {
	t.Helper()
	b, err := f.Data().Bytes(1)
	if err != nil {
		t.Fatal(err)
	}
	w, h := f.Width(), f.Height()
	return [3][]byte{b[:w*h], b[w*h : w*h+w*h/4], b[w*h+w*h/4:]}
}

// The area conversion agrees with swscale, which converts whole frames elsewhere (and for
// the CLI), to within rounding on flat colours and smooth gradients. (At sharp edges the
// chroma differs more: swscale filters chroma across cells, this averages each 2x2 cell.)
func TestBGR0ToYUV420PMatchesSwscale(t *testing.T) {
	const w, h = 96, 64
	images := map[string]func(x, y int) (uint8, uint8, uint8){
		"gradients": func(x, y int) (uint8, uint8, uint8) {
			return uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) * 255 / (w + h))
		},
		"red":   func(int, int) (uint8, uint8, uint8) { return 200, 40, 40 },
		"white": func(int, int) (uint8, uint8, uint8) { return 255, 255, 255 },
		"black": func(int, int) (uint8, uint8, uint8) { return 0, 0, 0 },
		"teal":  func(int, int) (uint8, uint8, uint8) { return 20, 160, 170 },
	}
	sws, err := astiav.CreateSoftwareScaleContext(w, h, astiav.PixelFormatBgr0, w, h, astiav.PixelFormatYuv420P,
		astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBilinear))
	if err != nil {
		t.Fatal(err)
	}
	defer sws.Free()
	for name, px := range images {
		src := bgr0Frame(t, w, h, px)
		ours := yuvFrame(t, w, h)
		if err := BGR0ToYUV420P(src, ours, image.Rect(0, 0, w, h)); err != nil {
			t.Fatal(err)
		}
		ref := yuvFrame(t, w, h)
		if err := sws.ScaleFrame(src, ref); err != nil {
			t.Fatal(err)
		}
		a, b := planes(t, ours), planes(t, ref)
		for p, plane := range []string{"Y", "U", "V"} {
			worst := 0
			for i := range a[p] {
				worst = max(worst, abs(int(a[p][i])-int(b[p][i])))
			}
			if worst > 2 {
				t.Errorf("%s: %s differs from swscale by up to %d", name, plane, worst)
			}
		}
	}
}

// Only the area asked for changes, widened to whole chroma cells.
func TestBGR0ToYUV420PArea(t *testing.T) {
	const w, h = 32, 16
	src := bgr0Frame(t, w, h, func(x, y int) (uint8, uint8, uint8) { return 255, 255, 255 })
	dst := yuvFrame(t, w, h)
	if err := dst.ImageFillBlack(); err != nil {
		t.Fatal(err)
	}
	if err := BGR0ToYUV420P(src, dst, image.Rect(3, 5, 8, 8)); err != nil { // → [2,8)x[4,8)
		t.Fatal(err)
	}
	y := planes(t, dst)[0]
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			inside := px >= 2 && px < 8 && py >= 4 && py < 8
			if got := y[py*w+px]; (got == 235) != inside {
				t.Fatalf("Y(%d,%d) = %d, inside the widened area: %v", px, py, got, inside)
			}
		}
	}
	if err := BGR0ToYUV420P(src, yuvFrame(t, w, h+2), image.Rect(0, 0, 2, 2)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("size mismatch: %v, want ErrUnsupported", err)
	}
}

func abs(v int) int { return max(v, -v) }

// BenchmarkConvert1080p compares a whole-frame area conversion with swscale's.
func BenchmarkConvert1080p(b *testing.B) {
	t := &testing.T{}
	const w, h = 1920, 1080
	src := bgr0Frame(t, w, h, func(x, y int) (uint8, uint8, uint8) { return uint8(x), uint8(y), uint8(x + y) })
	dst := yuvFrame(t, w, h)
	b.Run("area", func(b *testing.B) {
		for range b.N {
			if err := BGR0ToYUV420P(src, dst, image.Rect(0, 0, w, h)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("swscale", func(b *testing.B) {
		sws, err := astiav.CreateSoftwareScaleContext(w, h, astiav.PixelFormatBgr0, w, h, astiav.PixelFormatYuv420P,
			astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBilinear))
		if err != nil {
			b.Fatal(err)
		}
		defer sws.Free()
		for range b.N {
			if err := sws.ScaleFrame(src, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}
