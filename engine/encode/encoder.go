package encode

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/internal/avext"
	"github.com/screenrec/recorder/engine/internal/avlog"
)

// TimeBase is the time base of frames given to and packets taken from an Encoder: milliseconds.
// Frames are timestamped with their capture time, so the output is variable frame rate and a
// late or skipped frame never shifts the ones after it.
var TimeBase = astiav.NewRational(1, 1000)

// DefaultKeyframeInterval bounds how far a player must decode back when seeking: the seek
// granularity of a recording. Keyframes also start every file and segment and every joining
// recording (the pipeline forces them there), so this only bounds the gaps between those. A
// keyframe of a text-filled screen costs as much as a few hundred frames of typing: every 2 s
// they made up about 40 % of a typing recording, every 10 s under 10 % (make bench).
const DefaultKeyframeInterval = 10 * time.Second

// Params configures an encoder.
type Params struct {
	// Width and Height are the frame size; both must be even.
	Width, Height int
	// FPS is the nominal frame rate, used for rate control and the keyframe interval.
	FPS int
	// KeyframeInterval is the maximum distance between keyframes (default
	// DefaultKeyframeInterval); the encoder may add keyframes at scene cuts.
	KeyframeInterval time.Duration
	// Threads is the encoder's thread count; 0 lets FFmpeg choose, as the ffmpeg CLI does.
	Threads int
	// Options override the candidate's private option defaults (e.g. "preset": "superfast").
	Options map[string]string
}

// Encoder is one opened encoder. It is not safe for concurrent use.
type Encoder struct {
	cand   Candidate
	cc     *astiav.CodecContext
	pkt    *astiav.Packet
	pixFmt astiav.PixelFormat
	hw     *avext.HWFrames
	once   sync.Once
	// held are the timestamps of the frames sent and not yet out as packets, oldest first:
	// encoders with lookahead or B-frames keep a few.
	held []int64
}

// Open opens the named encoder for p.
func Open(name string, p Params) (*Encoder, error) {
	cand, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if p.Width <= 0 || p.Height <= 0 || p.Width%2 != 0 || p.Height%2 != 0 {
		return nil, fmt.Errorf("%w: %s: size %dx%d must be positive and even", ErrOpen, name, p.Width, p.Height)
	}
	if p.FPS <= 0 {
		return nil, fmt.Errorf("%w: %s: fps %d must be positive", ErrOpen, name, p.FPS)
	}
	avlog.Ensure()
	codec := astiav.FindEncoderByName(name)
	if codec == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotCompiled, name)
	}
	e := &Encoder{cand: cand, cc: astiav.AllocCodecContext(codec), pixFmt: pickPixelFormat(codec)}
	if e.cc == nil {
		return nil, fmt.Errorf("%w: %s: cannot allocate context", ErrOpen, name)
	}
	if err := e.open(codec, p); err != nil {
		e.Close()
		return nil, err
	}
	e.pkt = astiav.AllocPacket()
	return e, nil
}

func (e *Encoder) open(codec *astiav.Codec, p Params) error {
	name := e.cand.Name
	cc := e.cc
	cc.SetWidth(p.Width)
	cc.SetHeight(p.Height)
	cc.SetTimeBase(TimeBase)
	cc.SetFramerate(astiav.NewRational(p.FPS, 1))
	ki := p.KeyframeInterval
	if ki <= 0 {
		ki = DefaultKeyframeInterval
	}
	cc.SetGopSize(max(1, int(ki.Seconds()*float64(p.FPS))))
	cc.SetThreadCount(p.Threads)
	// MP4 keeps SPS/PPS in the sample description; without this flag they are only in-band and
	// a fragmented MP4 written with empty_moov is unplayable.
	cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	cc.SetPixelFormat(e.pixFmt)
	if e.cand.device != "" {
		e.pixFmt = astiav.PixelFormatNv12 // what the surfaces are uploaded from
		if e.cand.device == "vaapi" {
			// FFmpeg says only "Generic error in an external library" when there is no GPU.
			if nodes, _ := filepath.Glob("/dev/dri/renderD*"); len(nodes) == 0 {
				return fmt.Errorf("%w: %s: no VA-API render node (/dev/dri/renderD*): no GPU or driver", ErrOpen, name)
			}
		}
		why := avlog.Collect(nil)
		hw, err := avext.NewHWFrames(cc, e.cand.device, p.Width, p.Height)
		if msgs := why(); err != nil {
			if msgs != "" {
				return fmt.Errorf("%w: %s: %s (%w)", ErrOpen, name, msgs, err)
			}
			return fmt.Errorf("%w: %s: %w", ErrOpen, name, err)
		}
		e.hw = hw
		cc.SetPixelFormat(hw.PixelFormat())
	}

	opts := map[string]string{}
	for k, v := range e.cand.Defaults {
		opts[k] = v
	}
	for k, v := range p.Options {
		opts[k] = v
	}
	dict := astiav.NewDictionary()
	defer dict.Free()
	for _, k := range sortedKeys(opts) {
		if err := dict.Set(k, opts[k], 0); err != nil {
			return fmt.Errorf("%w: %s: option %s: %w", ErrOpen, name, k, err)
		}
	}
	why := avlog.Collect(cc)
	err := cc.Open(codec, dict)
	msgs := why()
	if err != nil {
		if msgs != "" {
			return fmt.Errorf("%w: %s: %s (%w)", ErrOpen, name, msgs, err)
		}
		return fmt.Errorf("%w: %s: %w", ErrOpen, name, err)
	}
	// avcodec_open2 leaves the options it did not consume in the dictionary.
	var unknown []string
	for en := dict.Get("", nil, astiav.NewDictionaryFlags(astiav.DictionaryFlagIgnoreSuffix)); en != nil; en = dict.Get("", en, astiav.NewDictionaryFlags(astiav.DictionaryFlagIgnoreSuffix)) {
		unknown = append(unknown, en.Key())
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: %s does not know %s", ErrBadOption, name, strings.Join(unknown, ", "))
	}
	return nil
}

// pickPixelFormat prefers yuv420p, then nv12 (what hardware encoders take), then the codec's first.
func pickPixelFormat(c *astiav.Codec) astiav.PixelFormat {
	fmts := c.PixelFormats()
	for _, want := range []astiav.PixelFormat{astiav.PixelFormatYuv420P, astiav.PixelFormatNv12} {
		for _, f := range fmts {
			if f == want {
				return f
			}
		}
	}
	return astiav.PixelFormatYuv420P
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Name is the FFmpeg encoder name.
func (e *Encoder) Name() string { return e.cand.Name }

// Hardware reports whether the encoder runs on a GPU or media engine.
func (e *Encoder) Hardware() bool { return e.cand.Hardware }

// PixelFormat is the software pixel format frames must have when given to Encode.
func (e *Encoder) PixelFormat() astiav.PixelFormat { return e.pixFmt }

// CodecContext exposes the opened context, for muxers to copy stream parameters from.
func (e *Encoder) CodecContext() *astiav.CodecContext { return e.cc }

// Encode sends f (timestamped in TimeBase) and hands every packet the encoder returns to emit.
// keyframe forces f to be coded as an IDR frame. emit must not keep the packet; it may take its
// reference with MoveRef. Encode does not keep f.
func (e *Encoder) Encode(f *astiav.Frame, keyframe bool, emit func(*astiav.Packet) error) error {
	in := f
	if keyframe {
		f.SetPictureType(astiav.PictureTypeI)
		defer f.SetPictureType(astiav.PictureTypeNone)
	}
	if e.hw != nil {
		hf, err := e.hw.Upload(e.cc, f)
		if err != nil {
			return fmt.Errorf("%w: %s: upload: %w", ErrEncode, e.cand.Name, err)
		}
		in = hf
	}
	if err := e.cc.SendFrame(in); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrEncode, e.cand.Name, err)
	}
	e.held = append(e.held, f.Pts())
	return e.drain(emit)
}

// HoldsUntil reports whether a frame timestamped at or before pts has been sent and is not
// out yet: the encoder keeps frames for its lookahead and B-frames, and only more frames (or
// Flush) bring them out.
func (e *Encoder) HoldsUntil(pts int64) bool { return len(e.held) > 0 && e.held[0] <= pts }

// Held is how many frames sent to the encoder are not out yet.
func (e *Encoder) Held() int { return len(e.held) }

// out notes that the packet of the frame timestamped pts came out.
func (e *Encoder) out(pts int64) {
	for i, h := range e.held {
		if h == pts {
			e.held = append(e.held[:i], e.held[i+1:]...)
			return
		}
	}
	if len(e.held) > 0 { // an encoder that rewrote the timestamp: packets leave in order
		e.held = e.held[1:]
	}
}

// Flush drains the encoder at the end of the stream.
func (e *Encoder) Flush(emit func(*astiav.Packet) error) error {
	if err := e.cc.SendFrame(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
		return fmt.Errorf("%w: %s: flush: %w", ErrEncode, e.cand.Name, err)
	}
	return e.drain(emit)
}

func (e *Encoder) drain(emit func(*astiav.Packet) error) error {
	for {
		err := e.cc.ReceivePacket(e.pkt)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrEncode, e.cand.Name, err)
		}
		e.out(e.pkt.Pts())
		err = emit(e.pkt)
		e.pkt.Unref()
		if err != nil {
			return err
		}
	}
}

// Close frees the encoder; it is idempotent.
func (e *Encoder) Close() {
	e.once.Do(func() {
		if e.pkt != nil {
			e.pkt.Free()
		}
		if e.hw != nil {
			e.hw.Free()
		}
		if e.cc != nil {
			e.cc.Free()
		}
	})
}
