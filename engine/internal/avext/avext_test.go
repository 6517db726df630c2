package avext

import (
	"encoding/json"
	"errors"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/asticode/go-astiav"
)

// errEinval is AVERROR(EINVAL), which go-astiav v0.16.0 does not name.
var errEinval = astiav.Error(-int(syscall.EINVAL))

func TestMain(m *testing.M) {
	astiav.SetLogLevel(astiav.LogLevelError) // keep libx264's statistics out of the test log
	os.Exit(m.Run())
}

// TestLayout guards the unsafe first-field trick of formatContextPtr and codecContextPtr: the
// astiav wrappers must keep the C pointer as their first field.
func TestLayout(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeOf(astiav.FormatContext{}), reflect.TypeOf(astiav.CodecContext{})} {
		if typ.NumField() == 0 {
			t.Errorf("%s has no fields", typ)
			continue
		}
		f := typ.Field(0)
		if f.Name != "c" || f.Type.Kind() != reflect.Pointer || f.Offset != 0 {
			t.Errorf("%s's first field is %s %s at offset %d, want c, a pointer, at 0", typ, f.Name, f.Type, f.Offset)
		}
	}
}

// TestFormatContextPtr checks that the pointer the trick yields is the real context: metadata
// set through it is what astiav reads back.
func TestFormatContextPtr(t *testing.T) {
	fc, err := astiav.AllocOutputFormatContext(nil, "mp4", "x.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Free()
	for i := 0; i < 2; i++ { // two streams, so stream metadata has an index to miss
		if fc.NewStream(nil) == nil {
			t.Fatal("NewStream failed")
		}
	}
	if err := SetFormatMetadata(fc, "title", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := SetFormatMetadata(fc, "title", "replaced"); err != nil {
		t.Fatal(err)
	}
	if err := SetStreamMetadata(fc, 1, "handler_name", "second"); err != nil {
		t.Fatal(err)
	}
	md := fc.Metadata()
	if md == nil {
		t.Fatal("format metadata is still empty")
	}
	if e := md.Get("title", nil, 0); e == nil || e.Value() != "replaced" {
		t.Errorf("format title = %v, want replaced", e)
	}
	ss := fc.Streams()
	if ss[0].Metadata() != nil {
		t.Errorf("stream 0 got metadata meant for stream 1")
	}
	if m := ss[1].Metadata(); m == nil || m.Get("handler_name", nil, 0) == nil || m.Get("handler_name", nil, 0).Value() != "second" {
		t.Errorf("stream 1 handler_name not set")
	}
	for _, idx := range []int{-1, 2, 100} {
		if err := SetStreamMetadata(fc, idx, "handler_name", "x"); !errors.Is(err, errEinval) {
			t.Errorf("SetStreamMetadata(%d) error = %v, want EINVAL", idx, err)
		}
	}
}

func newFrame(t *testing.T, w, h int, pf astiav.PixelFormat) *astiav.Frame {
	t.Helper()
	f := astiav.AllocFrame()
	t.Cleanup(f.Free)
	f.SetWidth(w)
	f.SetHeight(h)
	f.SetPixelFormat(pf)
	if err := f.AllocBuffer(0); err != nil {
		t.Fatal(err)
	}
	if err := f.ImageFillBlack(); err != nil {
		t.Fatal(err)
	}
	return f
}

// yuvAt returns the Y, U and V samples of pixel (x,y) of a packed (align 1) yuv420p or nv12
// image of w×h.
func yuvAt(b []byte, pf astiav.PixelFormat, w, h, x, y int) (Y, U, V byte) {
	Y = b[y*w+x]
	c := b[w*h:]
	cx, cy := x/2, y/2
	if pf == astiav.PixelFormatNv12 {
		return Y, c[cy*w+2*cx], c[cy*w+2*cx+1]
	}
	cw, ch := w/2, h/2
	return Y, c[cy*cw+cx], c[cw*ch+cy*cw+cx]
}

func TestFillRect(t *testing.T) {
	const w, h = 16, 12
	c := YUV{200, 50, 60}
	tests := []struct {
		name string
		r    image.Rectangle
		// chroma is the area, in luma pixels, whose chroma must change.
		luma, chroma image.Rectangle
	}{
		{"odd corners", image.Rect(3, 3, 9, 7), image.Rect(3, 3, 9, 7), image.Rect(4, 4, 8, 6)},
		{"even corners", image.Rect(2, 4, 10, 8), image.Rect(2, 4, 10, 8), image.Rect(2, 4, 10, 8)},
		{"one pixel", image.Rect(5, 5, 6, 6), image.Rect(5, 5, 6, 6), image.Rectangle{}},
		{"one chroma cell", image.Rect(4, 6, 6, 8), image.Rect(4, 6, 6, 8), image.Rect(4, 6, 6, 8)},
		{"whole frame", image.Rect(0, 0, w, h), image.Rect(0, 0, w, h), image.Rect(0, 0, w, h)},
		{"clipped", image.Rect(-5, -3, 100, 100), image.Rect(0, 0, w, h), image.Rect(0, 0, w, h)},
		{"clipped odd", image.Rect(-5, 9, 7, 100), image.Rect(0, 9, 7, h), image.Rect(0, 10, 6, h)},
		{"outside", image.Rect(20, 20, 30, 30), image.Rectangle{}, image.Rectangle{}},
		{"empty", image.Rect(4, 4, 4, 8), image.Rectangle{}, image.Rectangle{}},
		{"inverted", image.Rectangle{Min: image.Pt(8, 8), Max: image.Pt(2, 2)}, image.Rectangle{}, image.Rectangle{}},
	}
	for _, pf := range []astiav.PixelFormat{astiav.PixelFormatYuv420P, astiav.PixelFormatNv12} {
		for _, tc := range tests {
			t.Run(pf.String()+"/"+tc.name, func(t *testing.T) {
				f := newFrame(t, w, h, pf)
				if err := FillRect(f, tc.r, c); err != nil {
					t.Fatalf("FillRect: %v", err)
				}
				if f.Width() != w || f.Height() != h || f.PixelFormat() != pf {
					t.Fatalf("frame became %dx%d %s", f.Width(), f.Height(), f.PixelFormat())
				}
				b, err := f.Data().Bytes(1)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) != w*h*3/2 {
					t.Fatalf("packed image is %d bytes, want %d", len(b), w*h*3/2)
				}
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						Y, U, V := yuvAt(b, pf, w, h, x, y)
						wantY := Black.Y
						if image.Pt(x, y).In(tc.luma) {
							wantY = c.Y
						}
						wantU, wantV := Black.U, Black.V
						if image.Pt(x, y).In(tc.chroma) {
							wantU, wantV = c.U, c.V
						}
						if Y != wantY || U != wantU || V != wantV {
							t.Fatalf("pixel (%d,%d) = %d,%d,%d, want %d,%d,%d", x, y, Y, U, V, wantY, wantU, wantV)
						}
					}
				}
			})
		}
	}
}

// TestFillRectLinesize paints a frame whose rows are padded (linesize > width) and checks that
// the padding and the rows outside the rectangle are untouched.
func TestFillRectLinesize(t *testing.T) {
	f := newFrame(t, 10, 6, astiav.PixelFormatYuv420P)
	if ls := f.Linesize(); ls[0] <= 10 {
		t.Skipf("linesize %d has no padding", ls[0])
	}
	if err := FillRect(f, image.Rect(0, 2, 10, 4), YUV{235, 128, 128}); err != nil {
		t.Fatal(err)
	}
	b, err := f.Data().Bytes(1)
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 6; y++ {
		for x := 0; x < 10; x++ {
			want := byte(16)
			if y >= 2 && y < 4 {
				want = 235
			}
			if got := b[y*10+x]; got != want {
				t.Fatalf("Y(%d,%d) = %d, want %d", x, y, got, want)
			}
		}
	}
}

// TestFillRectMakesWritable: a frame sharing its buffer with another is copied before painting,
// so the other frame keeps its pixels.
func TestFillRectMakesWritable(t *testing.T) {
	a := newFrame(t, 8, 8, astiav.PixelFormatYuv420P)
	b := a.Clone()
	if b == nil {
		t.Fatal("Clone failed")
	}
	defer b.Free()
	if err := FillRect(b, image.Rect(0, 0, 8, 8), YUV{235, 128, 128}); err != nil {
		t.Fatal(err)
	}
	ab, _ := a.Data().Bytes(1)
	bb, _ := b.Data().Bytes(1)
	if ab[0] != 16 || bb[0] != 235 {
		t.Errorf("after painting the clone: original Y=%d (want 16), clone Y=%d (want 235)", ab[0], bb[0])
	}
}

func TestFillRectUnsupportedFormat(t *testing.T) {
	for _, pf := range []astiav.PixelFormat{astiav.PixelFormatRgba, astiav.PixelFormatBgr0, astiav.PixelFormatYuv444P} {
		f := newFrame(t, 8, 8, pf)
		before, _ := f.Data().Bytes(1)
		err := FillRect(f, image.Rect(0, 0, 4, 4), Black)
		if !errors.Is(err, errEinval) {
			t.Errorf("FillRect on %s: error = %v, want EINVAL", pf, err)
		}
		after, _ := f.Data().Bytes(1)
		if !reflect.DeepEqual(before, after) {
			t.Errorf("FillRect on %s changed the frame", pf)
		}
	}
}

// writeTinyMP4 writes three black 64x64 frames with libx264 into path, calling meta between
// setting up the stream and writing the header.
func writeTinyMP4(t *testing.T, path string, meta func(fc *astiav.FormatContext)) {
	t.Helper()
	codec := astiav.FindEncoderByName("libx264")
	if codec == nil {
		t.Skip("no libx264")
	}
	fc, err := astiav.AllocOutputFormatContext(nil, "mp4", path)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Free()
	cc := astiav.AllocCodecContext(codec)
	defer cc.Free()
	cc.SetWidth(64)
	cc.SetHeight(64)
	cc.SetPixelFormat(astiav.PixelFormatYuv420P)
	cc.SetTimeBase(astiav.NewRational(1, 25))
	cc.SetFramerate(astiav.NewRational(25, 1))
	cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	opts := astiav.NewDictionary()
	defer opts.Free()
	_ = opts.Set("preset", "ultrafast", 0)
	if err := cc.Open(codec, opts); err != nil {
		t.Fatal(err)
	}
	st := fc.NewStream(nil)
	if err := st.CodecParameters().FromCodecContext(cc); err != nil {
		t.Fatal(err)
	}
	st.SetTimeBase(cc.TimeBase())
	pb, err := astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		t.Fatal(err)
	}
	fc.SetPb(pb)
	meta(fc)
	hopts := astiav.NewDictionary()
	defer hopts.Free()
	_ = hopts.Set("movflags", "use_metadata_tags", 0)
	if err := fc.WriteHeader(hopts); err != nil {
		t.Fatal(err)
	}
	f := newFrame(t, 64, 64, astiav.PixelFormatYuv420P)
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	drain := func() {
		for cc.ReceivePacket(pkt) == nil {
			pkt.SetStreamIndex(0)
			pkt.RescaleTs(cc.TimeBase(), st.TimeBase())
			if err := fc.WriteInterleavedFrame(pkt); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < 3; i++ {
		f.SetPts(int64(i))
		if err := cc.SendFrame(f); err != nil {
			t.Fatal(err)
		}
		drain()
	}
	if err := cc.SendFrame(nil); err != nil {
		t.Fatal(err)
	}
	drain()
	if err := fc.WriteTrailer(); err != nil {
		t.Fatal(err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
}

type probeOut struct {
	Streams []struct {
		CodecName string            `json:"codec_name"`
		Tags      map[string]string `json:"tags"`
	} `json:"streams"`
	Format struct {
		Tags map[string]string `json:"tags"`
	} `json:"format"`
}

func ffprobe(t *testing.T, path string) probeOut {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probeOut
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	return p
}

func TestMetadataInMP4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.mp4")
	writeTinyMP4(t, path, func(fc *astiav.FormatContext) {
		for k, v := range map[string]string{"recording_id": "0123abcd", "owner": "tester", "title": "Tiny"} {
			if err := SetFormatMetadata(fc, k, v); err != nil {
				t.Fatalf("SetFormatMetadata(%s): %v", k, err)
			}
		}
		if err := SetStreamMetadata(fc, 0, "handler_name", "DP-1 left"); err != nil {
			t.Fatalf("SetStreamMetadata: %v", err)
		}
		if err := SetStreamMetadata(fc, 1, "handler_name", "nope"); err == nil {
			t.Errorf("SetStreamMetadata on stream 1 of 1 succeeded")
		}
	})
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("output: %v", err)
	}
	p := ffprobe(t, path)
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "h264" {
		t.Fatalf("streams = %+v, want one h264", p.Streams)
	}
	for k, v := range map[string]string{"recording_id": "0123abcd", "owner": "tester", "title": "Tiny"} {
		if got := p.Format.Tags[k]; got != v {
			t.Errorf("format tag %s = %q, want %q (tags %v)", k, got, v, p.Format.Tags)
		}
	}
	if got := p.Streams[0].Tags["handler_name"]; got != "DP-1 left" {
		t.Errorf("stream handler_name = %q, want %q (tags %v)", got, "DP-1 left", p.Streams[0].Tags)
	}
}
