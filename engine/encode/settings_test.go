package encode

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/asticode/go-astiav"
)

// encodeBlack encodes n black frames of 320x240 at fps, 1/fps apart, forcing a keyframe on
// the frames in forced, and returns the packets in the order the encoder gave them.
func encodeBlack(t *testing.T, e *Encoder, n, fps int, forced ...int) []pktInfo {
	t.Helper()
	f := newFrame(t, 320, 240, e.PixelFormat())
	var pkts []pktInfo
	emit := func(p *astiav.Packet) error {
		pkts = append(pkts, pktInfo{p.Pts(), p.Dts(), p.Flags().Has(astiav.PacketFlagKey), p.Size()})
		return nil
	}
	for i := range n {
		f.SetPts(int64(i) * 1000 / int64(fps))
		if err := e.Encode(f, slices.Contains(forced, i), emit); err != nil {
			t.Fatalf("Encode frame %d: %v", i, err)
		}
	}
	if err := e.Flush(emit); err != nil {
		t.Fatal(err)
	}
	return pkts
}

// keyFrames lists the frame numbers (pts × fps / 1000) of the keyframes, in display order.
func keyFrames(pkts []pktInfo, fps int) []int {
	var keys []int
	for _, p := range pkts {
		if p.key {
			keys = append(keys, int((p.pts*int64(fps)+999)/1000))
		}
	}
	slices.Sort(keys)
	return keys
}

// With the registry's libx264 defaults, keyframes come where forced (a segment cut, a joining
// recording) and otherwise once per DefaultKeyframeInterval, counted from the last one, not
// every 2 s as with the old defaults.
func TestLibx264KeyframesWhereForcedAndEveryInterval(t *testing.T) {
	const fps = 15
	e, err := Open("libx264", Params{Width: 320, Height: 240, FPS: fps})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pkts := encodeBlack(t, e, 400, fps, 37)
	if len(pkts) != 400 {
		t.Fatalf("%d packets for 400 frames", len(pkts))
	}
	every := int(DefaultKeyframeInterval.Seconds() * fps)
	want := []int{0, 37, 37 + every, 37 + 2*every}
	if got := keyFrames(pkts, fps); !slices.Equal(got, want) {
		t.Errorf("keyframes at frames %v, want %v (the first, the forced one, then every %d frames)", got, want, every)
	}
}

// x264Options reads the settings libx264 writes into its first packet ("options: cabac=1 …").
func x264Options(t *testing.T, name string, opts map[string]string) string {
	t.Helper()
	e, err := Open(name, Params{Width: 320, Height: 240, FPS: 15, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := newFrame(t, 320, 240, e.PixelFormat())
	var first []byte
	emit := func(p *astiav.Packet) error {
		if first == nil {
			first = bytes.Clone(p.Data())
		}
		return nil
	}
	for i := range 3 {
		f.SetPts(int64(i) * 66)
		if err := e.Encode(f, false, emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Flush(emit); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`options: [ -~]*`).Find(first)
	if m == nil {
		t.Fatalf("no x264 options in the first packet (%d bytes)", len(first))
	}
	return " " + string(m) + " "
}

// The registry's defaults reach x264, and options given in the configuration
// (engine.encoder_options → Params.Options) override them one by one, leaving the others.
func TestLibx264DefaultsAndOverrides(t *testing.T) {
	def := x264Options(t, "libx264", nil)
	for _, want := range []string{"crf=22.0", "chroma_qp_offset=-6", "mbtree=1", "rc_lookahead=2", "bframes=0", "threads=1", "me=hex", "subme=2", "psy=0",
		"qcomp=0.80", "keyint=150", "sliced_threads=0"} {
		if !strings.Contains(def, " "+want+" ") {
			t.Errorf("defaults: x264 options lack %s:%s", want, def)
		}
	}
	got := x264Options(t, "libx264", map[string]string{"crf": "30", "bf": "3", "rc-lookahead": "10"})
	for _, want := range []string{"crf=30.0", "bframes=3", "rc_lookahead=10", "me=hex", "psy=0", "mbtree=1", "keyint=150"} {
		if !strings.Contains(got, " "+want+" ") {
			t.Errorf("overridden: x264 options lack %s:%s", want, got)
		}
	}
}

// HoldsUntil tells the pipeline whether a frame is still inside the encoder's lookahead; it is
// false once enough frames followed, and after Flush.
func TestHoldsUntil(t *testing.T) {
	e, err := Open("libx264", Params{Width: 320, Height: 240, FPS: 15})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := newFrame(t, 320, 240, e.PixelFormat())
	emit := func(*astiav.Packet) error { return nil }
	f.SetPts(0)
	if err := e.Encode(f, false, emit); err != nil {
		t.Fatal(err)
	}
	if !e.HoldsUntil(0) || e.HoldsUntil(-1) {
		t.Fatalf("after one frame: HoldsUntil(0) = %v, HoldsUntil(-1) = %v, held %d", e.HoldsUntil(0), e.HoldsUntil(-1), e.Held())
	}
	n := 1
	for ; e.HoldsUntil(0) && n < 100; n++ {
		f.SetPts(int64(n) * 66)
		if err := e.Encode(f, false, emit); err != nil {
			t.Fatal(err)
		}
	}
	if n >= 100 {
		t.Fatalf("frame 0 still held after %d frames", n)
	}
	t.Logf("frame 0 came out after %d frames; %d held", n, e.Held())
	if err := e.Flush(emit); err != nil {
		t.Fatal(err)
	}
	if e.Held() != 0 || e.HoldsUntil(int64(n)*66) {
		t.Errorf("after Flush %d frames held", e.Held())
	}
}
