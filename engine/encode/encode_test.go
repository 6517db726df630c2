package encode

import (
	"context"
	"errors"
	"fmt"
	"image"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/internal/avext"
)

func TestFitSize(t *testing.T) {
	tests := []struct {
		w, h, maxW, maxH int
		wantW, wantH     int
	}{
		{1920, 1080, 0, 0, 1920, 1080},        // no limits
		{1023, 767, 0, 0, 1022, 766},          // no limits, odd → even-cropped
		{4224, 1080, 1000, 1000, 1000, 254},   // 255.68 → 255 → 254
		{1920, 1080, 0, 720, 1280, 720},       // max height only
		{1920, 1080, 1280, 0, 1280, 720},      // max width only
		{1920, 1080, 1280, 720, 1280, 720},    // both, same aspect
		{1920, 1200, 1280, 720, 1152, 720},    // height is the binding limit
		{3840, 2160, 1920, 10000, 1920, 1080}, // width is the binding limit
		{1280, 720, 1920, 1080, 1280, 720},    // never upscales
		{1280, 720, 4000, 0, 1280, 720},       // never upscales
		{1280, 720, 1280, 720, 1280, 720},     // exactly at the limit
		{1, 1, 0, 0, 2, 2},                    // tiny
		{3, 1, 0, 0, 2, 2},                    // tiny
		{1000, 10, 100, 0, 100, 2},            // height would be 1
		{10, 1000, 0, 100, 2, 100},            // width would be 1
		{1025, 769, 513, 0, 512, 384},         // odd input, odd limit
		{1366, 768, 0, 720, 1280, 720},        // 1280.6 → 1280
		{2560, 1440, 1279, 0, 1278, 718},      // odd limit gives even output
		{5120, 1440, 1920, 1080, 1920, 540},   // ultra-wide
		{1080, 1920, 1280, 720, 404, 720},     // portrait: 405 → 404
		{4224, 1080, -1, -1, 4224, 1080},      // negative means no limit
		{640, 480, 320, 240, 320, 240},        // exact halving
		{1000, 1000, 999, 999, 998, 998},      // odd limits
		{1920, 1080, 1919, 1079, 1918, 1078},  // height binds: 1079/1080*1920 = 1918.2
		{2560, 1080, 1280, 1280, 1280, 540},   // 21:9
		{7680, 4320, 3840, 2160, 3840, 2160},  // 8K → 4K
		{3440, 1440, 0, 1080, 2580, 1080},     // 3440*0.75 = 2580
		{1024, 768, 800, 600, 800, 600},       // 4:3
		{1280, 1024, 640, 480, 600, 480},      // 5:4, height binds
		{1920, 1080, 854, 480, 854, 480},      // h = 1080*854/1920 = 480.375 → 480 fits: width binds
	}

	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d_max%dx%d", tc.w, tc.h, tc.maxW, tc.maxH), func(t *testing.T) {
			w, h := FitSize(tc.w, tc.h, tc.maxW, tc.maxH)
			if w != tc.wantW || h != tc.wantH {
				t.Errorf("FitSize(%d, %d, %d, %d) = %dx%d, want %dx%d", tc.w, tc.h, tc.maxW, tc.maxH, w, h, tc.wantW, tc.wantH)
			}
			if w%2 != 0 || h%2 != 0 || w < 2 || h < 2 {
				t.Errorf("FitSize result %dx%d is not even and at least 2x2", w, h)
			}
			if w > max(tc.w, 2) || h > max(tc.h, 2) {
				t.Errorf("FitSize upscaled %dx%d to %dx%d", tc.w, tc.h, w, h)
			}
			if tc.maxW > 0 && w > max(tc.maxW, 2) || tc.maxH > 0 && h > max(tc.maxH, 2) {
				t.Errorf("FitSize result %dx%d exceeds %dx%d", w, h, tc.maxW, tc.maxH)
			}
		})
	}
}

// TestFitSizeExactFits: when the scaled edge is exactly an even integer, FitSize must return
// it. A float scale once made 1680x1050 into 862x540 (1680*(540/1050) = 863.999…) instead of
// the exact 864x540.
func TestFitSizeExactFits(t *testing.T) {
	tests := []struct {
		w, h, maxW, maxH int
		wantW, wantH     int
	}{
		{1680, 1050, 0, 540, 864, 540},  // 1680*540/1050 = 864 exactly
		{1600, 900, 854, 0, 854, 480},   // 854 fits and 900*854/1600 = 480.375 → 480
		{2560, 1600, 0, 854, 1366, 854}, // 1600*(854/1600) = 853.999… → 852
	}
	for _, tc := range tests {
		if w, h := FitSize(tc.w, tc.h, tc.maxW, tc.maxH); w != tc.wantW || h != tc.wantH {
			t.Errorf("FitSize(%d, %d, %d, %d) = %dx%d, want %dx%d", tc.w, tc.h, tc.maxW, tc.maxH, w, h, tc.wantW, tc.wantH)
		}
	}
}

func TestParseOrder(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr error
	}{
		{in: "auto", want: DefaultOrder},
		{in: "", want: DefaultOrder},
		{in: "  auto ", want: DefaultOrder},
		{in: "libx264", want: []string{"libx264"}},
		{in: "h264_nvenc,libx264", want: []string{"h264_nvenc", "libx264"}},
		{in: " libvpx-vp9 , libx265 ", want: []string{"libvpx-vp9", "libx265"}},
		{in: "bogus", wantErr: ErrUnknownEncoder},
		{in: "libx264,bogus", wantErr: ErrUnknownEncoder},
		{in: "libx264,", wantErr: ErrUnknownEncoder},
		{in: "auto,libx264", wantErr: ErrUnknownEncoder},
		{in: "LIBX264", wantErr: ErrUnknownEncoder},
		{in: "libsvtav1", wantErr: ErrUnknownEncoder},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseOrder(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseOrder(%q) error = %v, want %v", tc.in, err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("ParseOrder(%q) = %v with an error", tc.in, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseOrder(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseOrderAutoDoesNotAlias(t *testing.T) {
	before := append([]string(nil), DefaultOrder...)
	got, err := ParseOrder("auto")
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = "mutated"
	}
	_ = append(got[:1], "appended") // would write into DefaultOrder's array if aliased
	if !reflect.DeepEqual(DefaultOrder, before) {
		t.Fatalf("mutating ParseOrder(auto)'s result changed DefaultOrder to %v", DefaultOrder)
	}
	if want := []string{"h264_nvenc", "h264_qsv", "h264_vaapi", "h264_videotoolbox", "h264_mf", "libx264"}; !reflect.DeepEqual(before, want) {
		t.Errorf("DefaultOrder = %v, want %v", before, want)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name     string
		codec    string
		hardware bool
		device   string
	}{
		{"libx264", "h264", false, ""},
		{"libx265", "hevc", false, ""},
		{"libvpx-vp9", "vp9", false, ""},
		{"h264_nvenc", "h264", true, ""},
		{"h264_vaapi", "h264", true, "vaapi"},
		{"h264_videotoolbox", "h264", true, ""},
	}
	for _, tc := range tests {
		c, err := Lookup(tc.name)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tc.name, err)
			continue
		}
		if c.Name != tc.name || c.Codec != tc.codec || c.Hardware != tc.hardware || c.device != tc.device {
			t.Errorf("Lookup(%q) = %+v, want codec %s hardware %v device %q", tc.name, c, tc.codec, tc.hardware, tc.device)
		}
	}
	c, err := Lookup("libx264")
	if err != nil || c.Defaults["preset"] != "superfast" || c.Defaults["forced-idr"] != "1" {
		t.Errorf("libx264 defaults = %v, %v", c.Defaults, err)
	}
	for _, bad := range []string{"", "bogus", "libsvtav1", "LIBX264"} {
		c, err := Lookup(bad)
		if !errors.Is(err, ErrUnknownEncoder) {
			t.Errorf("Lookup(%q) error = %v, want ErrUnknownEncoder", bad, err)
			continue
		}
		if c.Name != "" {
			t.Errorf("Lookup(%q) returned %+v with an error", bad, c)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) || !strings.Contains(err.Error(), "libx264") {
			t.Errorf("Lookup(%q) error %q should quote the name and list candidates", bad, err)
		}
	}
	// Every name in DefaultOrder must be a candidate.
	for _, n := range DefaultOrder {
		if _, err := Lookup(n); err != nil {
			t.Errorf("DefaultOrder names %q: %v", n, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		enc     string
		p       Params
		wantErr error
		mention string
	}{
		{"odd width", "libx264", Params{Width: 641, Height: 360, FPS: 10}, ErrOpen, "641x360"},
		{"odd height", "libx264", Params{Width: 640, Height: 361, FPS: 10}, ErrOpen, "640x361"},
		{"zero size", "libx264", Params{Width: 0, Height: 0, FPS: 10}, ErrOpen, "0x0"},
		{"negative size", "libx264", Params{Width: -2, Height: 2, FPS: 10}, ErrOpen, "-2x2"},
		{"zero fps", "libx264", Params{Width: 640, Height: 360, FPS: 0}, ErrOpen, "fps 0"},
		{"negative fps", "libx264", Params{Width: 640, Height: 360, FPS: -5}, ErrOpen, "fps -5"},
		{"unknown encoder", "bogus", Params{Width: 640, Height: 360, FPS: 10}, ErrUnknownEncoder, "bogus"},
		{"not compiled", "h264_videotoolbox", Params{Width: 640, Height: 360, FPS: 10}, ErrNotCompiled, "h264_videotoolbox"},
		{"unknown private option", "libx264", Params{Width: 64, Height: 64, FPS: 10,
			Options: map[string]string{"no_such_opt": "1"}}, ErrBadOption, "no_such_opt"},
		{"bad option value", "libx264", Params{Width: 64, Height: 64, FPS: 10,
			Options: map[string]string{"preset": "no-such-preset"}}, ErrOpen, "libx264"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Open(tc.enc, tc.p)
			if e != nil {
				e.Close()
				t.Fatalf("Open(%s, %+v) succeeded", tc.enc, tc.p)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestOpenBadOptionNamesOnlyUnknownKeys(t *testing.T) {
	_, err := Open("libx264", Params{Width: 64, Height: 64, FPS: 10,
		Options: map[string]string{"zz_unknown": "1", "aa_unknown": "2", "preset": "superfast"}})
	if !errors.Is(err, ErrBadOption) {
		t.Fatalf("error = %v, want ErrBadOption", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "aa_unknown, zz_unknown") {
		t.Errorf("error %q should list both unknown keys in order", msg)
	}
	for _, known := range []string{"preset", "crf", "forced-idr"} {
		if strings.Contains(msg, known) {
			t.Errorf("error %q names the known option %q", msg, known)
		}
	}
}

// newFrame allocates a black w×h frame of pf.
func newFrame(t testing.TB, w, h int, pf astiav.PixelFormat) *astiav.Frame {
	t.Helper()
	f := astiav.AllocFrame()
	t.Cleanup(f.Free)
	f.SetWidth(w)
	f.SetHeight(h)
	f.SetPixelFormat(pf)
	if err := f.AllocBuffer(0); err != nil {
		t.Fatalf("AllocBuffer: %v", err)
	}
	if err := f.ImageFillBlack(); err != nil {
		t.Fatalf("ImageFillBlack: %v", err)
	}
	return f
}

type pktInfo struct {
	pts, dts int64
	key      bool
	size     int
}

func TestEncodeLibx264(t *testing.T) {
	e, err := Open("libx264", Params{Width: 640, Height: 360, FPS: 10})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer e.Close()
	if e.Name() != "libx264" || e.Hardware() || e.PixelFormat() != astiav.PixelFormatYuv420P {
		t.Errorf("encoder = %s hardware=%v pixfmt=%s", e.Name(), e.Hardware(), e.PixelFormat())
	}
	cc := e.CodecContext()
	if cc.Width() != 640 || cc.Height() != 360 || cc.TimeBase() != TimeBase || cc.GopSize() != 100 {
		t.Errorf("codec context %dx%d tb %s gop %d, want 640x360 1/1000 gop 100 (10 s)", cc.Width(), cc.Height(), cc.TimeBase(), cc.GopSize())
	}
	if !cc.Flags().Has(astiav.CodecContextFlagGlobalHeader) || len(cc.ExtraData()) == 0 {
		t.Errorf("global header flag %v, extradata %d bytes; want SPS/PPS in extradata",
			cc.Flags().Has(astiav.CodecContextFlagGlobalHeader), len(cc.ExtraData()))
	}

	const frames = 25
	f := newFrame(t, 640, 360, e.PixelFormat())
	var pkts []pktInfo
	emit := func(p *astiav.Packet) error {
		pkts = append(pkts, pktInfo{p.Pts(), p.Dts(), p.Flags().Has(astiav.PacketFlagKey), p.Size()})
		return nil
	}
	for i := 0; i < frames; i++ {
		f.SetPts(int64(i) * 100)
		if err := e.Encode(f, i == 12, emit); err != nil {
			t.Fatalf("Encode frame %d: %v", i, err)
		}
		if f.PictureType() != astiav.PictureTypeNone {
			t.Fatalf("Encode left picture type %v on the caller's frame", f.PictureType())
		}
	}
	if err := e.Flush(emit); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if len(pkts) != frames {
		t.Fatalf("got %d packets for %d frames", len(pkts), frames)
	}
	var keys, pts []int64
	for _, p := range pkts {
		pts = append(pts, p.pts)
		if p.key {
			keys = append(keys, p.pts)
		}
		if p.size <= 0 {
			t.Errorf("packet pts %d is empty", p.pts)
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i] < pts[j] })
	for i, p := range pts {
		if p != int64(i)*100 {
			t.Fatalf("packet pts = %v, want 0,100,…,2400", pts)
		}
	}
	if want := []int64{0, 1200}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keyframes at pts %v, want %v (frame 0 and the forced frame 12)", keys, want)
	}
	// A second Flush at EOF is harmless and yields nothing.
	n := len(pkts)
	if err := e.Flush(emit); err != nil || len(pkts) != n {
		t.Errorf("second Flush: %v, %d new packets", err, len(pkts)-n)
	}
}

func TestEncodeEmitErrorStops(t *testing.T) {
	e, err := Open("libx264", Params{Width: 64, Height: 64, FPS: 10, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := newFrame(t, 64, 64, e.PixelFormat())
	boom := errors.New("boom")
	calls := 0
	for i := 0; i < 5; i++ {
		f.SetPts(int64(i) * 100)
		if err := e.Encode(f, false, func(*astiav.Packet) error { calls++; return boom }); err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("Encode error = %v, want the emit error", err)
			}
			if calls != 1 {
				t.Errorf("emit called %d times before the error surfaced", calls)
			}
			return
		}
	}
	err = e.Flush(func(*astiav.Packet) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("Flush error = %v after %d emit calls, want the emit error after 1", err, calls)
	}
}

func TestEncoderCloseIdempotent(t *testing.T) {
	e, err := Open("libx264", Params{Width: 64, Height: 64, FPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	e.Close()
}

func TestProbe(t *testing.T) {
	got := Probe(context.Background(), "libx264", "h264_nvenc", "h264_videotoolbox", "bogus")
	if len(got) != 4 {
		t.Fatalf("Probe returned %d statuses, want 4: %+v", len(got), got)
	}
	x264, nvenc, vt, bogus := got[0], got[1], got[2], got[3]
	if x264 != (Status{Name: "libx264", Codec: "h264", Usable: true}) {
		t.Errorf("libx264 status = %+v, want usable", x264)
	}
	if nvenc.Name != "h264_nvenc" || nvenc.Codec != "h264" || !nvenc.Hardware || nvenc.Usable || nvenc.Reason == "" {
		t.Errorf("h264_nvenc status = %+v, want hardware, unusable, with a reason", nvenc)
	}
	if !strings.Contains(nvenc.Reason, ErrOpen.Error()) && !strings.Contains(nvenc.Reason, ErrNotCompiled.Error()) {
		t.Errorf("h264_nvenc reason %q names neither ErrOpen nor ErrNotCompiled", nvenc.Reason)
	}
	if vt.Name != "h264_videotoolbox" || !vt.Hardware || vt.Usable || !strings.Contains(vt.Reason, "not available in this FFmpeg build") {
		t.Errorf("h264_videotoolbox status = %+v, want unusable: not available in this FFmpeg build", vt)
	}
	if bogus.Name != "bogus" || bogus.Usable || !strings.Contains(bogus.Reason, "unknown encoder") {
		t.Errorf("bogus status = %+v", bogus)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := Probe(ctx, "libx264"); len(got) != 0 {
		t.Errorf("Probe with a cancelled context = %+v, want none", got)
	}
}

func TestOpenFirst(t *testing.T) {
	p := Params{Width: 64, Height: 64, FPS: 10}
	e, tried, err := OpenFirst(context.Background(), []string{"h264_videotoolbox", "libx264", "libx265"}, p)
	if err != nil {
		t.Fatalf("OpenFirst: %v", err)
	}
	defer e.Close()
	if e.Name() != "libx264" {
		t.Errorf("opened %s, want libx264", e.Name())
	}
	if len(tried) != 2 || tried[0].Name != "h264_videotoolbox" || tried[0].Usable || tried[0].Reason == "" ||
		tried[1] != (Status{Name: "libx264", Codec: "h264", Usable: true}) {
		t.Errorf("tried = %+v", tried)
	}

	_, tried, err = OpenFirst(context.Background(), []string{"h264_videotoolbox"}, p)
	if !errors.Is(err, ErrNoEncoder) || len(tried) != 1 || !strings.Contains(err.Error(), "not available") {
		t.Errorf("all failing: err = %v, tried = %+v; want ErrNoEncoder with reasons", err, tried)
	}
	_, _, err = OpenFirst(context.Background(), []string{"bogus", "libx264"}, p)
	if !errors.Is(err, ErrUnknownEncoder) {
		t.Errorf("unknown name: err = %v, want ErrUnknownEncoder", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e, _, err := OpenFirst(ctx, []string{"libx264"}, p); !errors.Is(err, context.Canceled) || e != nil {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

// planes returns the Y, U and V planes of a yuv420p frame, packed.
func planes(t *testing.T, f *astiav.Frame) (y, u, v []byte) {
	t.Helper()
	b, err := f.Data().Bytes(1)
	if err != nil {
		t.Fatal(err)
	}
	w, h := f.Width(), f.Height()
	cw, ch := (w+1)/2, (h+1)/2
	if len(b) != w*h+2*cw*ch {
		t.Fatalf("packed yuv420p %dx%d is %d bytes, want %d", w, h, len(b), w*h+2*cw*ch)
	}
	return b[:w*h], b[w*h : w*h+cw*ch], b[w*h+cw*ch:]
}

func TestConverterBlank(t *testing.T) {
	const w, h = 64, 32
	src := newFrame(t, w, h, astiav.PixelFormatYuv420P)
	white := avext.YUV{Y: 235, U: 100, V: 150}
	if err := avext.FillRect(src, image.Rect(0, 0, w, h), white); err != nil {
		t.Fatal(err)
	}
	blank := image.Rect(0, 0, 16, 16)
	c, err := NewConverter(w, h, astiav.PixelFormatYuv420P, w, h, astiav.PixelFormatYuv420P, []image.Rectangle{blank})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for round := 0; round < 2; round++ { // the output frame is reused
		pts := int64(777 + 111*round)
		src.SetPts(pts)
		out, err := c.Convert(src)
		if err != nil {
			t.Fatal(err)
		}
		if out.Width() != w || out.Height() != h || out.PixelFormat() != astiav.PixelFormatYuv420P || out.Pts() != pts {
			t.Fatalf("out %dx%d %s pts %d", out.Width(), out.Height(), out.PixelFormat(), out.Pts())
		}
		y, u, v := planes(t, out)
		for py := 0; py < h; py++ {
			for px := 0; px < w; px++ {
				want := byte(235)
				if image.Pt(px, py).In(blank) {
					want = 16
				}
				if got := y[py*w+px]; got != want {
					t.Fatalf("round %d: Y(%d,%d) = %d, want %d", round, px, py, got, want)
				}
			}
		}
		for cy := 0; cy < h/2; cy++ {
			for cx := 0; cx < w/2; cx++ {
				wu, wv := byte(100), byte(150)
				if cx < 8 && cy < 8 {
					wu, wv = 128, 128
				}
				if u[cy*w/2+cx] != wu || v[cy*w/2+cx] != wv {
					t.Fatalf("round %d: UV(%d,%d) = %d,%d, want %d,%d", round, cx, cy, u[cy*w/2+cx], v[cy*w/2+cx], wu, wv)
				}
			}
		}
	}
	// The source is untouched.
	y, _, _ := planes(t, src)
	if y[0] != 235 {
		t.Errorf("Convert painted the source: Y(0,0) = %d", y[0])
	}
}

func TestConverterScaledBlank(t *testing.T) {
	// bgr0 → yuv420p at half size: the blank rectangle is scaled with the frame.
	src := newFrame(t, 64, 32, astiav.PixelFormatBgr0)
	c, err := NewConverter(64, 32, astiav.PixelFormatBgr0, 32, 16, astiav.PixelFormatYuv420P,
		[]image.Rectangle{image.Rect(32, 0, 64, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if want := []image.Rectangle{image.Rect(16, 0, 32, 16)}; !reflect.DeepEqual(c.blank, want) {
		t.Errorf("scaled blank = %v, want %v", c.blank, want)
	}
	out, err := c.Convert(src)
	if err != nil {
		t.Fatal(err)
	}
	if out.Width() != 32 || out.Height() != 16 || out.PixelFormat() != astiav.PixelFormatYuv420P {
		t.Fatalf("out %dx%d %s", out.Width(), out.Height(), out.PixelFormat())
	}
	y, _, _ := planes(t, out)
	for i, b := range y {
		if b != 16 {
			t.Fatalf("Y[%d] = %d, want 16 (black source, black blank)", i, b)
		}
	}
}

func TestNewConverterBlankRounding(t *testing.T) {
	tests := []struct {
		name        string
		srcW, srcH  int
		dstW, dstH  int
		blank, want image.Rectangle
	}{
		{"1:1", 64, 32, 64, 32, image.Rect(0, 0, 16, 16), image.Rect(0, 0, 16, 16)},
		{"half, exact", 100, 100, 50, 50, image.Rect(10, 20, 30, 40), image.Rect(5, 10, 15, 20)},
		{"half, rounds outwards", 100, 100, 50, 50, image.Rect(1, 1, 3, 3), image.Rect(0, 0, 2, 2)},
		{"third", 90, 90, 30, 30, image.Rect(31, 31, 59, 59), image.Rect(10, 10, 20, 20)},
		{"clipped to the output", 64, 32, 32, 16, image.Rect(60, 30, 80, 40), image.Rect(30, 15, 32, 16)},
		{"4224x1080 → 1000x254 strip", 4224, 1080, 1000, 254, image.Rect(3200, 768, 4224, 1080), image.Rect(757, 180, 1000, 254)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConverter(tc.srcW, tc.srcH, astiav.PixelFormatBgr0, tc.dstW, tc.dstH, astiav.PixelFormatYuv420P, []image.Rectangle{tc.blank})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if len(c.blank) != 1 || c.blank[0] != tc.want {
				t.Errorf("blank %v scaled to %v, want %v", tc.blank, c.blank, tc.want)
			}
		})
	}
}

func TestNewConverterError(t *testing.T) {
	c, err := NewConverter(0, 0, astiav.PixelFormatBgr0, 64, 64, astiav.PixelFormatYuv420P, nil)
	if err == nil {
		c.Close()
		t.Fatal("NewConverter with a 0x0 source succeeded")
	}
	if !errors.Is(err, ErrConvert) {
		t.Errorf("error = %v, want ErrConvert", err)
	}
}

func TestConverterCloseIdempotent(t *testing.T) {
	c, err := NewConverter(64, 64, astiav.PixelFormatBgr0, 64, 64, astiav.PixelFormatYuv420P, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
}
