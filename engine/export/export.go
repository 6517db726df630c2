// Package export writes copies of recordings for other tools: a recording made of segments
// joined into one file (Join, a stream copy), and a constant-frame-rate copy for video
// editors, which handle the engine's variable frame rate badly (CFR).
//
// A constant frame rate needs a picture in every frame slot, also where the recording has
// none (a still screen is not encoded). Repeating a recorded packet does not give that
// picture: an inter-coded frame decoded twice adds its changes twice, and every frame after
// it is wrong as well. So CFR decodes the recording, repeats decoded pictures on the fixed
// grid and encodes them again, at a high quality (QualityCRF): the only export that
// re-encodes. Both write a progressive MP4 (index first), which editors open best.
package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/internal/avext"
	"github.com/screenrec/recorder/engine/pipeline"
)

// MetaCaptureFPS is the container tag that gives a recording's capture rate: the default
// rate of a constant-frame-rate export.
const MetaCaptureFPS = pipeline.MetaCaptureFPS

// MaxFPS bounds Options.FPS.
const MaxFPS = 120

// QualityCRF is the x264 quality of a constant-frame-rate export: visually lossless, so the
// second encoding costs no visible quality (the engine records at 23).
const QualityCRF = "18"

// Options say what to export.
type Options struct {
	// Inputs are the files to read, in the recording's order (its segments).
	Inputs []string
	// Output is the file to write.
	Output string
	// Join writes the inputs as one file, each starting where the one before ended.
	Join bool
	// CFR writes a constant frame rate of FPS frames per second.
	CFR bool
	// FPS is CFR's rate (0: the first input's capture_fps tag).
	FPS int
	// Overwrite replaces an existing output file.
	Overwrite bool
}

// Result describes a finished export.
type Result struct {
	Output string `json:"output"`
	// Inputs is how many files were read.
	Inputs int `json:"inputs"`
	// Duration is the output's length.
	Duration time.Duration `json:"duration"`
	// FPS is the constant frame rate written (CFR only).
	FPS int `json:"fps,omitempty"`
	// Frames is how many frames the first track has.
	Frames int64 `json:"frames"`
	// Reencoded is true when the pictures were encoded again (CFR).
	Reencoded bool `json:"reencoded"`
}

// Validate checks the options without reading any file but the output's folder.
func (o Options) Validate() error {
	switch {
	case len(o.Inputs) == 0:
		return fmt.Errorf("%w: no input", ErrOptions)
	case o.Output == "":
		return fmt.Errorf("%w: no output", ErrOptions)
	case !o.Join && !o.CFR:
		return fmt.Errorf("%w: nothing to do: ask for a joined copy, a constant-frame-rate copy or both", ErrOptions)
	case len(o.Inputs) > 1 && !o.Join:
		return fmt.Errorf("%w: %d inputs: joining them must be asked for", ErrOptions, len(o.Inputs))
	case o.FPS != 0 && !o.CFR:
		return fmt.Errorf("%w: a frame rate without a constant-frame-rate copy", ErrOptions)
	case o.FPS < 0 || o.FPS > MaxFPS:
		return fmt.Errorf("%w: frame rate %d: want 1 to %d", ErrOptions, o.FPS, MaxFPS)
	}
	outAbs, err := filepath.Abs(o.Output)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, o.Output, err)
	}
	for _, in := range o.Inputs {
		if a, err := filepath.Abs(in); err == nil && a == outAbs {
			return fmt.Errorf("%w: the output %s is one of the inputs", ErrOptions, o.Output)
		}
	}
	if fi, err := os.Stat(o.Output); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%w: %s is a folder", ErrOutput, o.Output)
		}
		if !o.Overwrite {
			return fmt.Errorf("%w: %s", ErrOutputExists, o.Output)
		}
	}
	return nil
}

// Run writes the export. The output appears complete or not at all: it is written beside
// under a temporary name and renamed at the end.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(o.Output), "."+filepath.Base(o.Output)+".part-*.mp4")
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s: %w", ErrOutput, o.Output, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // a no-op once renamed
	var res Result
	if o.CFR {
		res, err = writeCFR(ctx, o, tmp.Name())
	} else {
		res, err = writeJoined(ctx, o, tmp.Name())
	}
	if err != nil {
		return Result{}, err
	}
	if err := os.Rename(tmp.Name(), o.Output); err != nil {
		return Result{}, fmt.Errorf("%w: %s: %w", ErrOutput, o.Output, err)
	}
	res.Output, res.Inputs = o.Output, len(o.Inputs)
	return res, nil
}

// input is one opened input file and its video streams.
type input struct {
	path  string
	fc    *astiav.FormatContext
	video []int // stream indexes of its video streams, in order
}

func openInput(path string) (*input, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, fmt.Errorf("%w: %s: cannot allocate", ErrInput, path)
	}
	if err := fc.OpenInput(path, nil, nil); err != nil {
		fc.Free()
		return nil, fmt.Errorf("%w: %s: %w", ErrInput, path, err)
	}
	in := &input{path: path, fc: fc}
	if err := fc.FindStreamInfo(nil); err != nil {
		in.close()
		return nil, fmt.Errorf("%w: %s: %w", ErrInput, path, err)
	}
	for i, st := range fc.Streams() {
		if st.CodecParameters().MediaType() == astiav.MediaTypeVideo {
			in.video = append(in.video, i)
		}
	}
	if len(in.video) == 0 {
		in.close()
		return nil, fmt.Errorf("%w: %s: no video track", ErrInput, path)
	}
	return in, nil
}

func (in *input) close() { in.fc.CloseInput(); in.fc.Free() }

// end is where in ends (µs from its start): the end of its longest video track, as the
// demuxer found it reading the fragments (call it once the packets are read).
func (in *input) end() int64 {
	var end int64
	for _, idx := range in.video {
		st := in.fc.Streams()[idx]
		if d := st.Duration(); d > 0 {
			end = max(end, astiav.RescaleQ(d, st.TimeBase(), micro))
		}
	}
	if end == 0 {
		end = max(0, in.fc.Duration()) // AV_TIME_BASE: µs
	}
	return end
}

// track returns the position among in's video streams of stream idx, or -1.
func (in *input) track(idx int) int { return slices.Index(in.video, idx) }

// tag is in's container tag key, or "".
func (in *input) tag(key string) string {
	if e := in.fc.Metadata().Get(key, nil, 0); e != nil {
		return e.Value()
	}
	return ""
}

// compatible checks that in's video tracks match first's, so they continue them in one
// file.
func compatible(first, in *input) error {
	if len(in.video) != len(first.video) {
		return fmt.Errorf("%w: %s has %d video tracks, %s %d", ErrIncompatible, in.path, len(in.video), first.path, len(first.video))
	}
	for t := range in.video {
		a := first.fc.Streams()[first.video[t]].CodecParameters()
		b := in.fc.Streams()[in.video[t]].CodecParameters()
		switch {
		case a.CodecID() != b.CodecID():
			return fmt.Errorf("%w: %s track %d is %s, %s's %s", ErrIncompatible, in.path, t+1, b.CodecID(), first.path, a.CodecID())
		case a.Width() != b.Width() || a.Height() != b.Height():
			return fmt.Errorf("%w: %s track %d is %dx%d, %s's %dx%d (the screen changed between them)",
				ErrIncompatible, in.path, t+1, b.Width(), b.Height(), first.path, a.Width(), a.Height())
		case !slices.Equal(a.ExtraData(), b.ExtraData()):
			return fmt.Errorf("%w: %s track %d was encoded with other settings than %s's", ErrIncompatible, in.path, t+1, first.path)
		}
	}
	return nil
}

// openAll opens the inputs, checking each against the first.
func openAll(paths []string) ([]*input, error) {
	var ins []*input
	for _, p := range paths {
		in, err := openInput(p)
		if err == nil && len(ins) > 0 {
			if err = compatible(ins[0], in); err != nil {
				in.close()
			}
		}
		if err != nil {
			for _, o := range ins {
				o.close()
			}
			return nil, err
		}
		ins = append(ins, in)
	}
	return ins, nil
}

// output is the file being written.
type output struct {
	path string
	fc   *astiav.FormatContext
	pb   *astiav.IOContext
}

func newOutput(path string) (*output, error) {
	fc, err := astiav.AllocOutputFormatContext(nil, "mp4", path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrOutput, path, err)
	}
	return &output{path: path, fc: fc}, nil
}

// copyTags copies in's container tags but the segment index (the output is the recording)
// and its streams' handler names (the monitors).
func (o *output) copyTags(in *input) error {
	var prev *astiav.DictionaryEntry
	for {
		e := in.fc.Metadata().Get("", prev, astiav.NewDictionaryFlags(astiav.DictionaryFlagIgnoreSuffix))
		if e == nil {
			break
		}
		prev = e
		switch e.Key() {
		case "segment", "major_brand", "minor_version", "compatible_brands", "encoder":
			continue
		}
		if err := avext.SetFormatMetadata(o.fc, e.Key(), e.Value()); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrOutput, o.path, err)
		}
	}
	for t, idx := range in.video {
		if e := in.fc.Streams()[idx].Metadata().Get("handler_name", nil, 0); e != nil {
			if err := avext.SetStreamMetadata(o.fc, t, "handler_name", e.Value()); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrOutput, o.path, err)
			}
		}
	}
	return nil
}

func (o *output) start() error {
	pb, err := astiav.OpenIOContext(o.path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, o.path, err)
	}
	o.pb = pb
	o.fc.SetPb(pb)
	opts := astiav.NewDictionary()
	defer opts.Free()
	// faststart: the index before the data, as editors and players on the web prefer;
	// use_metadata_tags: keep the recording's own tag keys.
	if err := opts.Set("movflags", "faststart+use_metadata_tags", 0); err != nil {
		return fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if err := o.fc.WriteHeader(opts); err != nil {
		return fmt.Errorf("%w: %s: header: %w", ErrOutput, o.path, err)
	}
	return nil
}

func (o *output) write(p *astiav.Packet) error {
	if err := o.fc.WriteInterleavedFrame(p); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, o.path, err)
	}
	return nil
}

func (o *output) finish() error {
	if err := o.fc.WriteTrailer(); err != nil {
		return fmt.Errorf("%w: %s: trailer: %w", ErrOutput, o.path, err)
	}
	return nil
}

func (o *output) close() {
	if o.pb != nil {
		o.pb.Close()
	}
	o.fc.Free()
}

var micro = astiav.NewRational(1, 1_000_000)

// readPackets calls fn with every packet of in's video tracks (its track index, the packet
// in the stream's time base) until the end of the file or ctx ends.
func readPackets(ctx context.Context, in *input, fn func(track int, p *astiav.Packet) error) error {
	p := astiav.AllocPacket()
	defer p.Free()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := in.fc.ReadFrame(p); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("%w: %s: %w", ErrInput, in.path, err)
		}
		t := in.track(p.StreamIndex())
		var err error
		if t >= 0 {
			err = fn(t, p)
		}
		p.Unref()
		if err != nil {
			return err
		}
	}
}

// writeJoined copies the inputs' packets into one file, each input starting where the one
// before ended (the end of its longest track: a segment lasts until the next one's cut).
func writeJoined(ctx context.Context, o Options, path string) (Result, error) {
	ins, err := openAll(o.Inputs)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		for _, in := range ins {
			in.close()
		}
	}()
	out, err := newOutput(path)
	if err != nil {
		return Result{}, err
	}
	defer out.close()
	first := ins[0]
	for _, idx := range first.video {
		ist := first.fc.Streams()[idx]
		st := out.fc.NewStream(nil)
		if st == nil {
			return Result{}, fmt.Errorf("%w: %s: cannot add a stream", ErrOutput, path)
		}
		if err := ist.CodecParameters().Copy(st.CodecParameters()); err != nil {
			return Result{}, fmt.Errorf("%w: %s: %w", ErrOutput, path, err)
		}
		st.CodecParameters().SetCodecTag(0)
		st.SetTimeBase(ist.TimeBase())
	}
	if err := out.copyTags(first); err != nil {
		return Result{}, err
	}
	if err := out.start(); err != nil {
		return Result{}, err
	}
	var offset int64 // µs: where the current input starts in the output
	var frames int64
	// FFmpeg's demuxer does not give a fragmented file's sample durations: each packet is
	// held until the next one's time (or the input's end) gives its own.
	held := make([]*astiav.Packet, len(first.video))
	holds := make([]bool, len(held))
	for i := range held {
		held[i] = astiav.AllocPacket()
		defer held[i].Free()
	}
	release := func(t int, next int64) error {
		if !holds[t] {
			return nil
		}
		holds[t] = false
		if t == 0 {
			frames++
		}
		held[t].SetDuration(max(1, next-held[t].Dts()))
		return out.write(held[t])
	}
	for _, in := range ins {
		err := readPackets(ctx, in, func(t int, p *astiav.Packet) error {
			ost := out.fc.Streams()[t]
			p.RescaleTs(in.fc.Streams()[in.video[t]].TimeBase(), ost.TimeBase())
			shift := astiav.RescaleQ(offset, micro, ost.TimeBase())
			p.SetPts(p.Pts() + shift)
			p.SetDts(p.Dts() + shift)
			p.SetStreamIndex(t)
			p.SetPos(-1)
			if err := release(t, p.Dts()); err != nil {
				return err
			}
			held[t].MoveRef(p)
			holds[t] = true
			return nil
		})
		if err != nil {
			return Result{}, err
		}
		offset += in.end()
		for t := range held {
			if err := release(t, astiav.RescaleQ(offset, micro, out.fc.Streams()[t].TimeBase())); err != nil {
				return Result{}, err
			}
		}
	}
	if err := out.finish(); err != nil {
		return Result{}, err
	}
	return Result{Duration: time.Duration(offset) * time.Microsecond, Frames: frames}, nil
}

// captureFPS is the rate a recording was captured at, from its tag.
func captureFPS(in *input) (int, error) {
	v := in.tag(MetaCaptureFPS)
	if v == "" {
		return 0, fmt.Errorf("%w: %s has no %s tag: give the rate", ErrNoFrameRate, in.path, MetaCaptureFPS)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxFPS {
		return 0, fmt.Errorf("%w: %s: %s tag %q", ErrNoFrameRate, in.path, MetaCaptureFPS, v)
	}
	return n, nil
}

// cfrTrack is one track of a constant-frame-rate export.
type cfrTrack struct {
	dec  *astiav.CodecContext
	enc  *encode.Encoder
	conv *encode.Converter
	last *astiav.Frame // the picture shown now
	has  bool
	next int64 // the next frame slot to fill
	out  int   // output stream index
}

func (t *cfrTrack) close() {
	if t.dec != nil {
		t.dec.Free()
	}
	if t.enc != nil {
		t.enc.Close()
	}
	if t.conv != nil {
		t.conv.Close()
	}
	t.last.Free()
}

// writeCFR decodes the inputs (joined, when there are several) and encodes a picture for
// every slot of a fixed rate: the last picture shown at the slot's time.
func writeCFR(ctx context.Context, o Options, path string) (Result, error) {
	ins, err := openAll(o.Inputs)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		for _, in := range ins {
			in.close()
		}
	}()
	first := ins[0]
	fps := o.FPS
	if fps == 0 {
		if fps, err = captureFPS(first); err != nil {
			return Result{}, err
		}
	}
	out, err := newOutput(path)
	if err != nil {
		return Result{}, err
	}
	defer out.close()
	slotTB := astiav.NewRational(1, fps)
	tracks := make([]*cfrTrack, len(first.video))
	defer func() {
		for _, t := range tracks {
			if t != nil {
				t.close()
			}
		}
	}()
	for i, idx := range first.video {
		cp := first.fc.Streams()[idx].CodecParameters()
		t := &cfrTrack{last: astiav.AllocFrame(), out: i}
		tracks[i] = t
		t.enc, err = encode.Open("libx264", encode.Params{Width: cp.Width(), Height: cp.Height(), FPS: fps,
			Options: map[string]string{"crf": QualityCRF}})
		if err != nil {
			return Result{}, fmt.Errorf("%w: %s: %w", ErrOutput, path, err)
		}
		st := out.fc.NewStream(nil)
		if st == nil {
			return Result{}, fmt.Errorf("%w: %s: cannot add a stream", ErrOutput, path)
		}
		if err := st.CodecParameters().FromCodecContext(t.enc.CodecContext()); err != nil {
			return Result{}, fmt.Errorf("%w: %s: %w", ErrOutput, path, err)
		}
		st.SetTimeBase(slotTB)
		st.SetAvgFrameRate(astiav.NewRational(fps, 1))
		st.SetRFrameRate(astiav.NewRational(fps, 1))
	}
	if err := out.copyTags(first); err != nil {
		return Result{}, err
	}
	if err := out.start(); err != nil {
		return Result{}, err
	}
	var frames int64
	// put writes an encoded packet of t, each lasting one slot.
	put := func(t *cfrTrack, p *astiav.Packet) error {
		// Back to slots (exact: a slot is longer than the encoder's tick), then to the
		// muxer's time base, a multiple of the slot's.
		p.RescaleTs(encode.TimeBase, slotTB)
		p.SetDuration(1)
		p.RescaleTs(slotTB, out.fc.Streams()[t.out].TimeBase())
		p.SetStreamIndex(t.out)
		if t.out == 0 {
			frames++
		}
		return out.write(p)
	}
	// emit encodes t's picture for slot k.
	emit := func(t *cfrTrack, k int64) error {
		f := t.last
		if t.conv != nil {
			var err error
			if f, err = t.conv.Convert(f); err != nil {
				return err
			}
		}
		f.SetPts(astiav.RescaleQ(k, slotTB, encode.TimeBase))
		// The decoder's picture type would force the type of every repeat (a keyframe each).
		f.SetPictureType(astiav.PictureTypeNone)
		return t.enc.Encode(f, false, func(p *astiav.Packet) error { return put(t, p) })
	}
	// fill encodes t's picture for the slots before slot.
	fill := func(t *cfrTrack, slot int64) error {
		for ; t.has && t.next < slot; t.next++ {
			if err := emit(t, t.next); err != nil {
				return err
			}
		}
		return nil
	}
	frame := astiav.AllocFrame()
	defer frame.Free()
	var offset int64 // µs: where the current input starts
	for _, in := range ins {
		for i, t := range tracks {
			if t.dec, err = openDecoder(in, i); err != nil {
				return Result{}, err
			}
		}
		// shown takes the decoded frames of track t: each is shown from its slot on.
		shown := func(i int) error {
			t := tracks[i]
			ist := in.fc.Streams()[in.video[i]]
			for {
				err := t.dec.ReceiveFrame(frame)
				if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("%w: %s: decode: %w", ErrInput, in.path, err)
				}
				// Shown from the first slot at or after its time: at every slot's time the
				// copy shows what the recording shows then.
				us := offset + astiav.RescaleQ(frame.Pts(), ist.TimeBase(), micro)
				slot := ceilDiv(us*int64(fps), 1_000_000)
				if err := fill(t, slot); err != nil {
					frame.Unref()
					return err
				}
				if t.conv == nil && frame.PixelFormat() != t.enc.PixelFormat() {
					if t.conv, err = encode.NewConverter(frame.Width(), frame.Height(), frame.PixelFormat(),
						frame.Width(), frame.Height(), t.enc.PixelFormat(), nil); err != nil {
						frame.Unref()
						return err
					}
				}
				t.last.Unref()
				t.last.MoveRef(frame)
				t.has = true
			}
		}
		err := readPackets(ctx, in, func(i int, p *astiav.Packet) error {
			if err := tracks[i].dec.SendPacket(p); err != nil {
				return fmt.Errorf("%w: %s: decode: %w", ErrInput, in.path, err)
			}
			return shown(i)
		})
		if err != nil {
			return Result{}, err
		}
		for i, t := range tracks {
			if err := t.dec.SendPacket(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
				return Result{}, fmt.Errorf("%w: %s: decode: %w", ErrInput, in.path, err)
			}
			if err := shown(i); err != nil {
				return Result{}, err
			}
			t.dec.Free()
			t.dec = nil
		}
		offset += in.end()
	}
	endSlot := ceilDiv(offset*int64(fps), 1_000_000)
	for _, t := range tracks {
		if err := fill(t, max(endSlot, 1)); err != nil {
			return Result{}, err
		}
		if err := t.enc.Flush(func(p *astiav.Packet) error { return put(t, p) }); err != nil {
			return Result{}, err
		}
	}
	if err := out.finish(); err != nil {
		return Result{}, err
	}
	return Result{Duration: time.Duration(endSlot) * time.Second / time.Duration(fps), FPS: fps, Frames: frames, Reencoded: true}, nil
}

// ceilDiv is a/b rounded up, for a ≥ 0 and b > 0.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// openDecoder opens a decoder for video track i of in.
func openDecoder(in *input, i int) (*astiav.CodecContext, error) {
	st := in.fc.Streams()[in.video[i]]
	codec := astiav.FindDecoder(st.CodecParameters().CodecID())
	if codec == nil {
		return nil, fmt.Errorf("%w: %s: no decoder for %s", ErrInput, in.path, st.CodecParameters().CodecID())
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, fmt.Errorf("%w: %s: cannot allocate a decoder", ErrInput, in.path)
	}
	if err := cc.FromCodecParameters(st.CodecParameters()); err != nil {
		cc.Free()
		return nil, fmt.Errorf("%w: %s: %w", ErrInput, in.path, err)
	}
	cc.SetTimeBase(st.TimeBase())
	if err := cc.Open(codec, nil); err != nil {
		cc.Free()
		return nil, fmt.Errorf("%w: %s: decoder: %w", ErrInput, in.path, err)
	}
	return cc, nil
}
