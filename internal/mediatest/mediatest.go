package mediatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Stream is the metadata ffprobe reports for one stream. Numeric fields
// are zero when ffprobe does not know them ("N/A" or absent).
type Stream struct {
	// Index is the stream's index among all streams of the file.
	Index     int
	CodecName string // e.g. "h264"
	CodecType string // "video", "audio", "subtitle", "data"
	PixFmt    string // e.g. "yuv420p"; empty for non-video streams
	Profile   string // e.g. "High"
	Width     int
	Height    int
	// NbFrames is the frame count stored in the container, if any.
	NbFrames int
	// NbReadFrames is the number of frames ffprobe actually decoded; it is
	// set by ProbeFile, which counts frames.
	NbReadFrames int
	// StartTime and Duration are in seconds.
	StartTime float64
	Duration  float64
	// BitRate is in bits per second.
	BitRate int64
	// AvgFrameRate and RFrameRate are rationals such as "30/1"; "0/0"
	// means unknown. See FrameRate.
	AvgFrameRate string
	RFrameRate   string
	Tags         map[string]string
}

// FrameRate returns AvgFrameRate as a number, or 0 if it is unknown.
func (s Stream) FrameRate() float64 {
	num, den, ok := strings.Cut(s.AvgFrameRate, "/")
	if !ok {
		v, _ := strconv.ParseFloat(s.AvgFrameRate, 64)
		return v
	}
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := strconv.ParseFloat(den, 64)
	if err1 != nil || err2 != nil || d == 0 {
		return 0
	}
	return n / d
}

// Format is the container-level metadata ffprobe reports.
type Format struct {
	// FormatName is ffprobe's comma-separated list of demuxer names, e.g.
	// "mov,mp4,m4a,3gp,3g2,mj2" for MP4.
	FormatName string
	NbStreams  int
	// StartTime and Duration are in seconds.
	StartTime float64
	Duration  float64
	// Size is in bytes and BitRate in bits per second.
	Size    int64
	BitRate int64
	Tags    map[string]string
}

// Probe is the result of ProbeFile.
type Probe struct {
	Streams []Stream
	Format  Format
}

// VideoStreams returns the video streams in file order, so that element
// N is the stream FrameAt and FrameTimes address as videoIndex N.
func (p *Probe) VideoStreams() []Stream {
	var vs []Stream
	for _, s := range p.Streams {
		if s.CodecType == "video" {
			vs = append(vs, s)
		}
	}
	return vs
}

// Available reports whether ffmpeg and ffprobe are on PATH; the error
// wraps ErrNotAvailable and names every missing program.
func Available() error {
	var missing []string
	for _, prog := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (on Debian: apt-get install ffmpeg)", ErrNotAvailable, strings.Join(missing, ", "))
	}
	return nil
}

// SkipIfUnavailable skips the test or benchmark in the short tier (go test -short runs
// without the ffmpeg and ffprobe programs) and when Available fails. Every test that runs
// those programs, directly or through this package, calls it first.
func SkipIfUnavailable(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping in -short mode: needs the ffmpeg and ffprobe programs")
	}
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// ProbeFile describes every stream and the container of the local file at
// path.
// It decodes the whole file to count frames (Stream.NbReadFrames), so it
// takes roughly as long as playing the file back at full speed.
func ProbeFile(ctx context.Context, path string) (*Probe, error) {
	return probe(ctx, path, true)
}

// probe runs ffprobe on path, optionally counting frames by decoding.
func probe(ctx context.Context, path string, countFrames bool) (*Probe, error) {
	p, _, err := probePackets(ctx, path, countFrames, false)
	return p, err
}

// packet is one packet ffprobe lists: its stream (by index among all streams) and its
// presentation time.
type packet struct {
	StreamIndex number `json:"stream_index"`
	PTS         number `json:"pts_time"`
}

// probePackets runs ffprobe on path, optionally counting frames by decoding and listing every
// packet (no decoding): one program where a probe and PacketTimes would start two.
func probePackets(ctx context.Context, path string, countFrames, packets bool) (*Probe, []packet, error) {
	args := []string{"-v", "error", "-show_streams", "-show_format", "-of", "json"}
	if countFrames {
		args = append(args, "-count_frames")
	}
	if packets {
		args = append(args, "-show_entries", "packet=stream_index,pts_time")
	}
	out, err := run(ctx, "ffprobe", append(args, fileURL(path))...)
	if err != nil {
		return nil, nil, err
	}
	var raw struct {
		Streams []rawStream `json:"streams"`
		Format  rawFormat   `json:"format"`
		Packets []packet    `json:"packets"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, nil, fmt.Errorf("mediatest: parse ffprobe output for %s: %w", path, err)
	}
	p := &Probe{Streams: make([]Stream, 0, len(raw.Streams))}
	var errs []error
	for _, rs := range raw.Streams {
		s, err := rs.convert()
		errs = append(errs, err)
		p.Streams = append(p.Streams, s)
	}
	f, err := raw.Format.convert()
	p.Format = f
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, nil, fmt.Errorf("mediatest: parse ffprobe output for %s: %w", path, err)
	}
	return p, raw.Packets, nil
}

// packetTimes are the sorted presentation times of stream's packets among packets.
func packetTimes(path string, stream Stream, packets []packet) ([]float64, error) {
	var times []float64
	var c converter
	for _, k := range packets {
		if int(c.int(k.StreamIndex)) != stream.Index {
			continue
		}
		if k.PTS.unknown() {
			return nil, fmt.Errorf("%w: %s stream %d: a packet without a time", ErrNoTimestamp, path, stream.Index)
		}
		times = append(times, c.float(k.PTS))
	}
	if c.err != nil {
		return nil, fmt.Errorf("mediatest: packet times of %s: %w", path, c.err)
	}
	sort.Float64s(times)
	return times, nil
}

// rawStream mirrors the stream fields of ffprobe's JSON output. ffprobe
// writes some numbers as JSON numbers and others (durations, bit rates,
// frame counts) as strings, sometimes "N/A", hence number.
type rawStream struct {
	Index        number            `json:"index"`
	CodecName    string            `json:"codec_name"`
	CodecType    string            `json:"codec_type"`
	PixFmt       string            `json:"pix_fmt"`
	Profile      string            `json:"profile"`
	Width        number            `json:"width"`
	Height       number            `json:"height"`
	NbFrames     number            `json:"nb_frames"`
	NbReadFrames number            `json:"nb_read_frames"`
	StartTime    number            `json:"start_time"`
	Duration     number            `json:"duration"`
	BitRate      number            `json:"bit_rate"`
	AvgFrameRate string            `json:"avg_frame_rate"`
	RFrameRate   string            `json:"r_frame_rate"`
	Tags         map[string]string `json:"tags"`
}

// convert turns the raw stream into a Stream.
func (r rawStream) convert() (Stream, error) {
	var c converter
	s := Stream{
		Index:        int(c.int(r.Index)),
		CodecName:    r.CodecName,
		CodecType:    r.CodecType,
		PixFmt:       r.PixFmt,
		Profile:      r.Profile,
		Width:        int(c.int(r.Width)),
		Height:       int(c.int(r.Height)),
		NbFrames:     int(c.int(r.NbFrames)),
		NbReadFrames: int(c.int(r.NbReadFrames)),
		StartTime:    c.float(r.StartTime),
		Duration:     c.float(r.Duration),
		BitRate:      c.int(r.BitRate),
		AvgFrameRate: r.AvgFrameRate,
		RFrameRate:   r.RFrameRate,
		Tags:         r.Tags,
	}
	return s, c.err
}

// rawFormat mirrors the format fields of ffprobe's JSON output.
type rawFormat struct {
	FormatName string            `json:"format_name"`
	NbStreams  number            `json:"nb_streams"`
	StartTime  number            `json:"start_time"`
	Duration   number            `json:"duration"`
	Size       number            `json:"size"`
	BitRate    number            `json:"bit_rate"`
	Tags       map[string]string `json:"tags"`
}

// convert turns the raw format into a Format.
func (r rawFormat) convert() (Format, error) {
	var c converter
	f := Format{
		FormatName: r.FormatName,
		NbStreams:  int(c.int(r.NbStreams)),
		StartTime:  c.float(r.StartTime),
		Duration:   c.float(r.Duration),
		Size:       c.int(r.Size),
		BitRate:    c.int(r.BitRate),
		Tags:       r.Tags,
	}
	return f, c.err
}

// number holds a numeric ffprobe field as text, whether the JSON had it as
// a number or as a string.
type number string

// UnmarshalJSON accepts a JSON number or string.
func (n *number) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = number(s)
		return nil
	}
	if string(b) == "null" {
		*n = ""
		return nil
	}
	*n = number(b)
	return nil
}

// unknown reports whether ffprobe left the value out or marked it "N/A".
func (n number) unknown() bool {
	return n == "" || n == "N/A"
}

// converter parses numbers, remembering the first failure so that a whole
// struct can be converted before checking for errors once.
type converter struct {
	err error
}

// int parses n as an integer; unknown values are 0.
func (c *converter) int(n number) int64 {
	if n.unknown() {
		return 0
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil && c.err == nil {
		c.err = err
	}
	return v
}

// float parses n as a float; unknown values are 0.
func (c *converter) float(n number) float64 {
	if n.unknown() {
		return 0
	}
	v, err := strconv.ParseFloat(string(n), 64)
	if err != nil && c.err == nil {
		c.err = err
	}
	return v
}

// FrameAt decodes the frame of video stream videoIndex (counting video
// streams only, from 0) that is shown at the given time in seconds, and
// returns it as an RGBA image. Decoding is accurate to the frame: ffmpeg
// seeks to the preceding keyframe and decodes forward. Times past the end
// yield ErrNoFrame. The rotation metadata of the stream is ignored, so
// the image has the coded size.
func FrameAt(ctx context.Context, path string, videoIndex int, seconds float64) (*image.RGBA, error) {
	if seconds < 0 {
		return nil, fmt.Errorf("mediatest: negative time %g", seconds)
	}
	p, packets, vs, err := probeVideo(ctx, path, videoIndex)
	if err != nil {
		return nil, err
	}
	// ffmpeg -ss yields the first frame at or after the time; the frame shown then is the
	// last one at or before it, which differs when frames are far apart (a recording of a
	// still screen has a variable frame rate): seek to that frame's own time.
	if seconds > p.Format.Duration && p.Format.Duration > 0 {
		return nil, fmt.Errorf("%w: %s video stream %d at %gs: it ends at %gs", ErrNoFrame, path, videoIndex, seconds, p.Format.Duration)
	}
	times, err := packetTimes(path, vs, packets)
	if err != nil {
		return nil, err
	}
	at := seconds
	if i := sort.SearchFloat64s(times, seconds+1e-6); i > 0 {
		at = times[i-1] - 0.0005 // printed rounded to the microsecond
	}
	out, err := run(ctx, "ffmpeg", "-nostdin", "-v", "error",
		"-noautorotate",
		"-ss", strconv.FormatFloat(max(0, at), 'f', -1, 64),
		"-i", fileURL(path),
		"-map", "0:v:"+strconv.Itoa(videoIndex),
		"-frames:v", "1",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	if err != nil {
		return nil, err
	}
	want := vs.Width * vs.Height * 3
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s video stream %d at %gs", ErrNoFrame, path, videoIndex, seconds)
	}
	if len(out) != want {
		return nil, fmt.Errorf("mediatest: %s video stream %d at %gs: decoded %d bytes, want %d for %dx%d rgb24",
			path, videoIndex, seconds, len(out), want, vs.Width, vs.Height)
	}
	img := image.NewRGBA(image.Rect(0, 0, vs.Width, vs.Height))
	for i, j := 0, 0; i < len(out); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = out[i], out[i+1], out[i+2], 0xff
	}
	return img, nil
}

// videoStream returns video stream number videoIndex of p.
// probeVideo probes path with its packets and returns video stream videoIndex, checked to
// have a size.
func probeVideo(ctx context.Context, path string, videoIndex int) (*Probe, []packet, Stream, error) {
	p, packets, err := probePackets(ctx, path, false, true)
	if err != nil {
		return nil, nil, Stream{}, err
	}
	vs, err := videoStream(p, path, videoIndex)
	if err != nil {
		return nil, nil, Stream{}, err
	}
	if vs.Width <= 0 || vs.Height <= 0 {
		return nil, nil, Stream{}, fmt.Errorf("mediatest: %s video stream %d has unknown size %dx%d", path, videoIndex, vs.Width, vs.Height)
	}
	return p, packets, vs, nil
}

func videoStream(p *Probe, path string, videoIndex int) (Stream, error) {
	vs := p.VideoStreams()
	if videoIndex < 0 || videoIndex >= len(vs) {
		return Stream{}, fmt.Errorf("%w: %s has %d video streams, index %d requested", ErrNoVideoStream, path, len(vs), videoIndex)
	}
	return vs[videoIndex], nil
}

// PacketTimes returns the sorted presentation times of video stream videoIndex's packets
// (no decoding).
func PacketTimes(ctx context.Context, path string, videoIndex int) ([]float64, error) {
	out, err := run(ctx, "ffprobe", "-v", "error", "-select_streams", "v:"+strconv.Itoa(videoIndex),
		"-show_entries", "packet=pts_time", "-of", "csv=p=0", fileURL(path))
	if err != nil {
		return nil, err
	}
	var times []float64
	for _, f := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(strings.TrimSuffix(f, ","), 64)
		if err != nil {
			return nil, fmt.Errorf("mediatest: packet time %q of %s: %w", f, path, err)
		}
		times = append(times, v)
	}
	sort.Float64s(times)
	return times, nil
}

// FrameTimes returns the presentation time in seconds of every frame of
// video stream videoIndex (counting video streams only, from 0), in the
// order the decoder outputs them, which is presentation order. Frames
// without a pts fall back to ffmpeg's best-effort timestamp.
func FrameTimes(ctx context.Context, path string, videoIndex int) ([]float64, error) {
	if videoIndex < 0 {
		return nil, fmt.Errorf("%w: index %d", ErrNoVideoStream, videoIndex)
	}
	// JSON rather than CSV: CSV output gains extra columns for side data
	// on some frames, and names nothing, so it is fragile to parse.
	out, err := run(ctx, "ffprobe", "-v", "error",
		"-select_streams", "v:"+strconv.Itoa(videoIndex),
		"-show_entries", "frame=pts_time,best_effort_timestamp_time",
		"-of", "json", fileURL(path))
	if err != nil {
		return nil, err
	}
	var raw struct {
		Frames []struct {
			PTS        number `json:"pts_time"`
			BestEffort number `json:"best_effort_timestamp_time"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("mediatest: parse ffprobe frames of %s: %w", path, err)
	}
	if len(raw.Frames) == 0 {
		// ffprobe selects nothing, silently, for a missing stream; tell
		// that apart from a stream that has no frames.
		p, err := probe(ctx, path, false)
		if err != nil {
			return nil, err
		}
		if _, err := videoStream(p, path, videoIndex); err != nil {
			return nil, err
		}
		return []float64{}, nil
	}
	times := make([]float64, len(raw.Frames))
	var c converter
	for i, f := range raw.Frames {
		t := f.PTS
		if t.unknown() {
			t = f.BestEffort
		}
		if t.unknown() {
			return nil, fmt.Errorf("%w: %s video stream %d frame %d", ErrNoTimestamp, path, videoIndex, i)
		}
		times[i] = c.float(t)
	}
	if c.err != nil {
		return nil, fmt.Errorf("mediatest: parse ffprobe frames of %s: %w", path, c.err)
	}
	return times, nil
}

// Near reports whether a and b differ by at most tol in each of R, G and
// B; alpha is ignored. Lossy codecs and YUV round trips shift colours by
// a few levels, so exact comparison is rarely meaningful.
func Near(a, b color.RGBA, tol uint8) bool {
	diff := func(x, y uint8) uint8 {
		if x > y {
			return x - y
		}
		return y - x
	}
	return diff(a.R, b.R) <= tol && diff(a.G, b.G) <= tol && diff(a.B, b.B) <= tol
}

// fileURL makes ffmpeg treat path as a local file even if it contains a
// colon (which would otherwise select a protocol, e.g. "concat:") or
// starts with a dash.
func fileURL(path string) string {
	return "file:" + path
}

// run executes prog with args and returns its standard output. A failure
// includes prog's standard error, which is where ffmpeg explains itself.
func run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	if _, err := exec.LookPath(prog); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotAvailable, prog)
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("mediatest: %s %s: %w: %s",
			prog, strings.Join(args, " "), err, strings.Join(strings.Fields(stderr.String()), " "))
	}
	return stdout.Bytes(), nil
}
