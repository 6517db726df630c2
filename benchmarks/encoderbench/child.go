package encoderbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/mux"
)

// ChildConfig is one encode-only run of the engine: a stored raw clip, looped, through the
// engine's converter, encoder and muxer — what `recorder-bench encode-child` does.
type ChildConfig struct {
	// Raw is the clip: bgr0 rawvideo frames of Width×Height.
	Raw string
	// Width and Height are the clip's frame size.
	Width, Height int
	// FPS is the nominal frame rate; frames are timestamped 1/FPS apart.
	FPS int
	// Frames is how many frames to encode, looping the clip.
	Frames int
	// Encoder is the registry encoder to use.
	Encoder string
	// Options are its private options (as for `recorder record --encoder-opt`).
	Options map[string]string
	// Out is the MP4 file written.
	Out string
}

// ChildResult is what the child reports on its standard output, as JSON.
type ChildResult struct {
	// Frames is how many frames were encoded.
	Frames int `json:"frames"`
	// Encoder is the encoder used.
	Encoder string `json:"encoder"`
	// LoopSeconds is the wall time of the read-convert-encode-write loop alone, without
	// process start-up and encoder opening; reported, not compared (the CLI has no equivalent).
	LoopSeconds float64 `json:"loop_s"`
}

func parseChildResult(out []byte) (ChildResult, error) {
	var r ChildResult
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("%w: encode child result: %w: %q", ErrRun, err, tail(string(out), 200))
	}
	return r, nil
}

// ParseSize reads "WxH".
func ParseSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("%w: size %q: want WxH, e.g. 1920x1080", ErrInvalidConfig, s)
	}
	return w, h, nil
}

// Validate checks the fields, naming the one at fault.
func (c ChildConfig) Validate() error {
	switch {
	case c.Raw == "":
		return fmt.Errorf("%w: raw: no clip given", ErrInvalidConfig)
	case c.Width <= 0 || c.Height <= 0 || c.Width%2 != 0 || c.Height%2 != 0:
		return fmt.Errorf("%w: size: %dx%d must be positive and even", ErrInvalidConfig, c.Width, c.Height)
	case c.FPS <= 0:
		return fmt.Errorf("%w: fps: %d must be positive", ErrInvalidConfig, c.FPS)
	case c.Frames <= 0:
		return fmt.Errorf("%w: frames: %d must be positive", ErrInvalidConfig, c.Frames)
	case c.Out == "":
		return fmt.Errorf("%w: out: no output file", ErrInvalidConfig)
	}
	if _, err := encode.Lookup(c.Encoder); err != nil {
		return fmt.Errorf("%w: encoder: %w", ErrInvalidConfig, err)
	}
	return nil
}

// EncodeChild encodes c.Frames frames of the clip with the engine's own stages: encode.Open
// with the options given, encode.NewConverter from bgr0 (as the live pipeline converts
// x11grab's frames) and mux.Create for the fragmented MP4. Timestamps are the engine's:
// milliseconds, 1/FPS apart. The file is not fsynced every second as recordings are, because
// the CLI it is compared with does not sync either.
func EncodeChild(ctx context.Context, c ChildConfig) (ChildResult, error) {
	if err := c.Validate(); err != nil {
		return ChildResult{}, err
	}
	enc, err := encode.Open(c.Encoder, encode.Params{Width: c.Width, Height: c.Height, FPS: c.FPS, Options: c.Options})
	if err != nil {
		return ChildResult{}, err
	}
	defer enc.Close()
	conv, err := encode.NewConverter(c.Width, c.Height, astiav.PixelFormatBgr0, c.Width, c.Height, enc.PixelFormat(), nil)
	if err != nil {
		return ChildResult{}, err
	}
	defer conv.Close()
	src, err := openRaw(c)
	if err != nil {
		return ChildResult{}, err
	}
	defer src.close()
	out, err := mux.Create(c.Out, []mux.Stream{{Codec: enc.CodecContext(), TimeBase: encode.TimeBase, FPS: c.FPS}}, nil,
		mux.Options{SyncInterval: -1})
	if err != nil {
		return ChildResult{}, err
	}
	intervalMs := int64(1000 / c.FPS)
	emit := func(p *astiav.Packet) error {
		if p.Duration() <= 0 { // as the live pipeline does: the muxer needs a last duration
			p.SetDuration(intervalMs)
		}
		return out.WritePacket(0, p)
	}
	raw := astiav.AllocFrame()
	defer raw.Free()
	start := time.Now()
	res := ChildResult{Encoder: enc.Name()}
	for i := 0; i < c.Frames; i++ {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(err, out.Close())
		}
		if err := src.read(raw); err != nil {
			return res, errors.Join(err, out.Close())
		}
		f, err := conv.Convert(raw)
		raw.Unref()
		if err != nil {
			return res, errors.Join(err, out.Close())
		}
		f.SetPts(int64(i) * 1000 / int64(c.FPS))
		if err := enc.Encode(f, false, emit); err != nil {
			return res, errors.Join(err, out.Close())
		}
		res.Frames++
	}
	if err := enc.Flush(emit); err != nil {
		return res, errors.Join(err, out.Close())
	}
	if err := out.Close(); err != nil {
		return res, err
	}
	res.LoopSeconds = time.Since(start).Seconds()
	return res, nil
}

// rawSource reads a bgr0 rawvideo file through FFmpeg's rawvideo demuxer and decoder — the
// same stages `ffmpeg -f rawvideo -i` uses — and starts over at its end.
type rawSource struct {
	c   ChildConfig
	fc  *astiav.FormatContext
	dec *astiav.CodecContext
	pkt *astiav.Packet
}

func openRaw(c ChildConfig) (*rawSource, error) {
	s := &rawSource{c: c, pkt: astiav.AllocPacket()}
	if err := s.openInput(); err != nil {
		s.close()
		return nil, err
	}
	par := s.fc.Streams()[0].CodecParameters()
	codec := astiav.FindDecoder(par.CodecID())
	if codec == nil {
		s.close()
		return nil, fmt.Errorf("%w: no decoder for %s", ErrRun, par.CodecID())
	}
	s.dec = astiav.AllocCodecContext(codec)
	if err := par.ToCodecContext(s.dec); err != nil {
		s.close()
		return nil, fmt.Errorf("%w: decoder parameters: %w", ErrRun, err)
	}
	if err := s.dec.Open(codec, nil); err != nil {
		s.close()
		return nil, fmt.Errorf("%w: open rawvideo decoder: %w", ErrRun, err)
	}
	return s, nil
}

func (s *rawSource) openInput() error {
	ifmt := astiav.FindInputFormat("rawvideo")
	if ifmt == nil {
		return fmt.Errorf("%w: FFmpeg has no rawvideo demuxer", ErrRun)
	}
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return fmt.Errorf("%w: alloc format context", ErrRun)
	}
	opts := astiav.NewDictionary()
	defer opts.Free()
	for k, v := range map[string]string{
		"video_size":   fmt.Sprintf("%dx%d", s.c.Width, s.c.Height),
		"pixel_format": rawPixFmt,
		"framerate":    strconv.Itoa(s.c.FPS),
	} {
		if err := opts.Set(k, v, 0); err != nil {
			fc.Free()
			return fmt.Errorf("%w: option %s: %w", ErrRun, k, err)
		}
	}
	if err := fc.OpenInput(s.c.Raw, ifmt, opts); err != nil {
		fc.Free()
		return fmt.Errorf("%w: open %s: %w", ErrRun, s.c.Raw, err)
	}
	if len(fc.Streams()) != 1 {
		fc.CloseInput()
		fc.Free()
		return fmt.Errorf("%w: %s: not one video stream", ErrRun, s.c.Raw)
	}
	s.fc = fc
	return nil
}

// read decodes the next frame into f, reopening the clip at its end.
func (s *rawSource) read(f *astiav.Frame) error {
	reopened := false
	for {
		err := s.dec.ReceiveFrame(f)
		if err == nil {
			return nil
		}
		if !errors.Is(err, astiav.ErrEagain) {
			return fmt.Errorf("%w: decode: %w", ErrRun, err)
		}
		err = s.fc.ReadFrame(s.pkt)
		if errors.Is(err, astiav.ErrEof) && !reopened {
			s.fc.CloseInput()
			s.fc.Free()
			s.fc = nil
			if err := s.openInput(); err != nil {
				return err
			}
			reopened = true // an empty clip must not loop forever
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: read %s: %w", ErrRun, s.c.Raw, err)
		}
		err = s.dec.SendPacket(s.pkt)
		s.pkt.Unref()
		if err != nil {
			return fmt.Errorf("%w: decode: %w", ErrRun, err)
		}
	}
}

func (s *rawSource) close() {
	if s.dec != nil {
		s.dec.Free()
	}
	if s.fc != nil {
		s.fc.CloseInput()
		s.fc.Free()
	}
	s.pkt.Free()
}
