// Package encode turns raw frames into compressed video: it picks an encoder (hardware first,
// software as the fallback), converts pixels to what that encoder takes, and drives it.
package encode

import (
	"context"
	"fmt"
	"strings"
)

// Candidate is an encoder the registry knows how to configure.
type Candidate struct {
	// Name is FFmpeg's encoder name.
	Name string `json:"name"`
	// Codec is the compression standard it produces ("h264", "hevc", "vp9", "av1").
	Codec string `json:"codec"`
	// Hardware reports whether it needs a GPU or media engine.
	Hardware bool `json:"hardware"`
	// Defaults are private options tuned for screen content; Params.Options override them.
	Defaults map[string]string `json:"-"`
	// device names the hardware device type the encoder needs a context of ("vaapi"), if any.
	device string
}

// Candidates lists every encoder the registry offers, hardware H.264 first.
var Candidates = []Candidate{
	{Name: "h264_nvenc", Codec: "h264", Hardware: true,
		Defaults: map[string]string{"preset": "p2", "forced-idr": "1"}},
	{Name: "h264_qsv", Codec: "h264", Hardware: true,
		Defaults: map[string]string{"preset": "veryfast", "forced_idr": "1"}},
	{Name: "h264_vaapi", Codec: "h264", Hardware: true, device: "vaapi"},
	{Name: "h264_videotoolbox", Codec: "h264", Hardware: true, Defaults: map[string]string{"realtime": "1"}},
	{Name: "h264_mf", Codec: "h264", Hardware: true, Defaults: map[string]string{"scenario": "display_remoting"}},
	// Screen content: mostly static, sharp edges; unchanged frames are not encoded at all
	// (capture.MethodXShm). Chosen with recorder bench against the ffmpeg CLI's defaults
	// (-preset superfast -crf 23: keyframes every 250 frames, 3 B-frames, no mbtree) on the
	// same raw frames (benchmarks/README.md has the table):
	//   - superfast: veryfast saves 5-10 % more for 25-40 % more CPU.
	//   - mbtree with a short lookahead: the static parts of the screen, which every later
	//     frame references, are coded once at a higher quality and then skipped; typing and
	//     scrolling −15 %. qcomp 0.8 (x264's 0.6 lets mbtree starve full-motion areas: the
	//     video scene lost 0.004 SSIM).
	//   - crf 22 with chromaoffset −6: on screens the quality lost is in the colour planes
	//     (a spreadsheet's coloured cells and small text: SSIM U 0.964 against the CLI's 0.972
	//     while luma was equal), which crf alone buys back at a high price; six steps finer
	//     chroma quantisation, with one coarser luma step paying for it, bring the spreadsheet
	//     from −0.0035 to +0.0003 SSIM of the CLI's at 0.41× its bytes, video 12 % smaller at
	//     the same SSIM, typing and idle unchanged (crf 21, chromaoffset 0 before).
	//   - rc-lookahead 2, no B-frames, one thread: the encoder holds only 2 frames (threads
	//     add one each, B-frames reorder), which a still screen must push out (see below).
	//     Lookahead 4 came out a little smaller, but a moving screen then had up to 1.12 s
	//     on its way to the disk at 10 fps (4 frames, the sample the muxer holds until the
	//     next one, the open 0.5 s fragment), over the promised second for kill -9; lookahead
	//     15 with 3 B-frames and frame threads saved nothing more. One thread also costs the least CPU and memory; a busy
	//     4K or three-monitor canvas may want "threads": "0" (FFmpeg's choice).
	//   - motion-est hex, subq 2: scrolling text is found at its new place (−5 %).
	//   - psy 0: psychovisual tuning adds grain-like detail; text has none (−2…5 %).
	//   - no tune zerolatency: it turns mbtree and the lookahead off and cuts frames into
	//     slices (+30…45 % bytes with the 2 s keyframes). The lookahead delays packets by 2
	//     frames, which a recording does not mind; while the encoder holds a changed frame the
	//     pipeline encodes a still screen every 350 ms, so what is on disk lags ≤ 1 s (crash
	//     safety); the still frames after it the muxer covers by extending the last one.
	//   - force-cfr: x264 weighs each frame's quality by its duration; with the engine's
	//     variable frame rate a frame before a still second would be coded at a much higher
	//     quality than the same frame in a CLI recording. Rate control then sees a constant
	//     rate, as with the CLI and with zerolatency before (which set it). Give it again
	//     when overriding x264-params.
	//   - forced-idr: forced keyframes (segment cuts, joining recordings) are IDR frames.
	{Name: "libx264", Codec: "h264",
		Defaults: map[string]string{"preset": "superfast", "crf": "22", "chromaoffset": "-6", "mbtree": "1", "rc-lookahead": "2", "bf": "0",
			"threads": "1", "qcomp": "0.8", "motion-est": "hex", "subq": "2", "psy": "0", "x264-params": "force-cfr=1", "forced-idr": "1"}},
	{Name: "libx265", Codec: "hevc",
		Defaults: map[string]string{"preset": "ultrafast", "crf": "28", "forced-idr": "1", "x265-params": "log-level=error"}},
	{Name: "libvpx-vp9", Codec: "vp9",
		Defaults: map[string]string{"deadline": "realtime", "cpu-used": "8", "crf": "35", "b": "0"}},
	// libsvtav1 is left out: with Debian 12's SVT-AV1 1.4.1 and FFmpeg 5.1 an encoder closed
	// before its first frame hangs in avcodec_free_context, which a probe or a failed start does.
}

// DefaultOrder is the selection order for "auto": hardware H.264 encoders, then libx264.
var DefaultOrder = []string{"h264_nvenc", "h264_qsv", "h264_vaapi", "h264_videotoolbox", "h264_mf", "libx264"}

// Lookup returns the candidate called name.
func Lookup(name string) (Candidate, error) {
	for _, c := range Candidates {
		if c.Name == name {
			return c, nil
		}
	}
	names := make([]string, len(Candidates))
	for i, c := range Candidates {
		names[i] = c.Name
	}
	return Candidate{}, fmt.Errorf("%w %q: choose auto or one of %s", ErrUnknownEncoder, name, strings.Join(names, ", "))
}

// ParseOrder turns "auto", a single name or a comma-separated list into an encoder order,
// rejecting unknown names.
func ParseOrder(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "auto" {
		return append([]string(nil), DefaultOrder...), nil
	}
	var order []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if _, err := Lookup(n); err != nil {
			return nil, err
		}
		order = append(order, n)
	}
	return order, nil
}

// Status is the outcome of trying one encoder.
type Status struct {
	// Name is the encoder's name.
	Name string `json:"name"`
	// Codec is the compression standard.
	Codec string `json:"codec"`
	// Hardware reports whether it needs a GPU or media engine.
	Hardware bool `json:"hardware"`
	// Usable reports whether it opened.
	Usable bool `json:"usable"`
	// Reason says why it is not usable; empty when usable.
	Reason string `json:"reason,omitempty"`
}

// ProbeSize is the frame size encoders are test-opened at.
const ProbeSize = 1280

// Probe test-opens every candidate (or those named) and reports which can be used here.
func Probe(ctx context.Context, names ...string) []Status {
	if len(names) == 0 {
		for _, c := range Candidates {
			names = append(names, c.Name)
		}
	}
	out := make([]Status, 0, len(names))
	for _, n := range names {
		if ctx.Err() != nil {
			break
		}
		c, err := Lookup(n)
		if err != nil {
			out = append(out, Status{Name: n, Reason: err.Error()})
			continue
		}
		st := Status{Name: c.Name, Codec: c.Codec, Hardware: c.Hardware, Usable: true}
		e, err := Open(c.Name, Params{Width: ProbeSize, Height: ProbeSize * 9 / 16, FPS: 10})
		if err != nil {
			st.Usable, st.Reason = false, err.Error()
		} else {
			e.Close()
		}
		out = append(out, st)
	}
	return out
}

// OpenFirst opens the first encoder of order that works with p. It returns the statuses of
// those tried, so callers can report why earlier ones were skipped.
func OpenFirst(ctx context.Context, order []string, p Params) (*Encoder, []Status, error) {
	var tried []Status
	for _, n := range order {
		if err := ctx.Err(); err != nil {
			return nil, tried, err
		}
		c, err := Lookup(n)
		if err != nil {
			return nil, tried, err
		}
		e, err := Open(n, p)
		st := Status{Name: n, Codec: c.Codec, Hardware: c.Hardware, Usable: err == nil}
		if err != nil {
			st.Reason = err.Error()
		}
		tried = append(tried, st)
		if err == nil {
			return e, tried, nil
		}
	}
	reasons := make([]string, len(tried))
	for i, t := range tried {
		reasons[i] = t.Reason
	}
	return nil, tried, fmt.Errorf("%w: %s", ErrNoEncoder, strings.Join(reasons, "; "))
}
