package mux

import (
	"context"
	"errors"
	"image"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/internal/avext"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/tmpfs"
)

// noiseFrame fills f's planes with random bytes: frames that barely compress, so a small
// file system fills fast.
func noiseFrame(t *testing.T, f *astiav.Frame, rng *rand.Rand) {
	t.Helper()
	const block = 4
	for y := 0; y < f.Height(); y += block {
		for x := 0; x < f.Width(); x += block {
			c := avext.YUV{Y: byte(rng.Uint32()), U: byte(rng.Uint32()), V: byte(rng.Uint32())}
			if err := avext.FillRect(f, image.Rect(x, y, x+block, y+block), c); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFileDiskFull: a write that fails for want of space reports the operating system's
// error (not FFmpeg's "Unknown error occurred"), and the file is cut back to its last
// complete fragment at once: it decodes with no errors and Repair has nothing to cut.
func TestFileDiskFull(t *testing.T) {
	mediatest.SkipIfUnavailable(t)
	dir := tmpfs.MountForTest(t, 3<<20)
	const w, h = 320, 180
	e := openEncoder(t, w, h)
	path := filepath.Join(dir, "full.mp4")
	m, err := Create(path, []Stream{{Codec: e.CodecContext(), TimeBase: encode.TimeBase, FPS: 10}}, nil,
		Options{SyncInterval: -1, FragmentDuration: 300 * 1e6})
	if err != nil {
		t.Fatal(err)
	}
	f := blackFrame(t, w, h)
	rng := rand.New(rand.NewPCG(1, 2))
	var werr error
	emit := func(p *astiav.Packet) error {
		if werr == nil {
			werr = m.WritePacket(0, p)
		} else {
			p.Unref()
		}
		return nil
	}
	for i := 0; werr == nil && i < 100_000; i++ {
		noiseFrame(t, f, rng)
		f.SetPts(int64(i) * 100)
		if err := e.Encode(f, false, emit); err != nil {
			t.Fatal(err)
		}
	}
	if !errors.Is(werr, syscall.ENOSPC) || !errors.Is(werr, ErrWrite) {
		t.Fatalf("write on a full disk = %v, want ErrWrite wrapping ENOSPC", werr)
	}
	if msg := werr.Error(); !strings.Contains(msg, "no space left on device") || strings.Contains(msg, "Unknown error") {
		t.Errorf("error %q, want the real cause", msg)
	}
	// Cut at once, before Close: the file ends at a complete fragment now.
	res, err := Inspect(path)
	if err != nil || res.Truncated != 0 || res.Fragments == 0 {
		t.Fatalf("after the failed write: %+v, %v; want complete fragments and nothing to cut", res, err)
	}
	if got := fileSize(t, path); m.Bytes() != got {
		t.Errorf("Bytes() = %d, file is %d", m.Bytes(), got)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close after the reported failure = %v, want nil", err)
	}
	if res2, err := Inspect(path); err != nil || res2.Size != res.Size {
		t.Errorf("Close changed the cut file: %+v → %+v (%v)", res, res2, err)
	}
	if msgs, err := mediatest.DecodeErrors(context.Background(), path); err != nil || msgs != "" {
		t.Errorf("the cut file does not decode cleanly: %v %s", err, msgs)
	}
	t.Logf("file cut at %d bytes, %d fragments, %v", res.Size, res.Fragments, res.Duration)
}
