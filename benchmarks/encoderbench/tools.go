package encoderbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/engine/encode"
	"github.com/screenrec/recorder/engine/mux"
)

// Tool names as they appear in runs and reports.
const (
	ToolRecorder = "recorder"
	ToolFFmpeg   = "ffmpeg"
)

// stopGrace is how long a child has, after SIGINT, to finish its file before it is killed.
var stopGrace = 5 * time.Second

// command prepares a child that ctx stops with SIGINT (both the recorder and ffmpeg then
// finish their file) and, if it lingers, SIGKILL.
func command(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = stopGrace
	return cmd
}

// measure runs cmd and returns its usage and standard output.
func measure(tool string, cmd *exec.Cmd) (benchmarks.Usage, []byte, error) {
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	u, err := benchmarks.RunCmd(tool, cmd)
	if err != nil {
		return u, nil, fmt.Errorf("%w: %s: %w", ErrRun, tool, err)
	}
	return u, stdout.Bytes(), nil
}

// gopFrames is the engine's keyframe interval in frames (encode.DefaultKeyframeInterval at the
// frame rate).
func gopFrames(fps int) int {
	return max(1, int(encode.DefaultKeyframeInterval.Seconds()*float64(fps)))
}

// fragmentMicros is the engine's MP4 fragment length, which the CLI is given too.
func fragmentMicros() string {
	return strconv.FormatInt(mux.DefaultFragmentDuration.Microseconds(), 10)
}

// cliHWArgs are global arguments a hardware encoder needs on the CLI (before the input).
func cliHWArgs(v Variant) []string {
	if v.Encoder == "h264_vaapi" {
		// The engine opens the first render node too (avext.NewHWFrames with no device name).
		nodes, _ := filepath.Glob("/dev/dri/renderD*")
		if len(nodes) > 0 {
			return []string{"-vaapi_device", nodes[0]}
		}
	}
	return nil
}

// cliEncodeArgs make the CLI's command line: the same encoder with the variant's CLI options
// (the CLI's own defaults, or the registry's screen-content defaults the recorder gets), the
// engine's keyframe interval when the variant says so, the same pixel format, FFmpeg's
// automatic thread count (the engine's encode.Params{Threads: 0}), and the same fragmented
// MP4 layout.
func cliEncodeArgs(v Variant, fps int) []string {
	args := []string{"-c:v", v.Encoder}
	for _, k := range sortedKeys(v.CLIOptions) {
		// The :v specifier makes every key a codec option, private (preset) or generic (b).
		args = append(args, "-"+k+":v", v.CLIOptions[k])
	}
	if v.CLIGOP {
		args = append(args, "-g", strconv.Itoa(gopFrames(fps)))
	}
	cand, _ := encode.Lookup(v.Encoder)
	switch {
	case v.Encoder == "h264_vaapi":
		args = append(args, "-vf", "format=nv12,hwupload")
	case cand.Hardware:
		args = append(args, "-pix_fmt", "nv12") // what the engine uploads hardware surfaces from
	default:
		args = append(args, "-pix_fmt", "yuv420p")
	}
	return append(args, "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", fragmentMicros())
}

// x11grabArgs grab the whole w×h screen of display at fps, pointer drawn (the recorder's
// --mouse default).
func x11grabArgs(display string, w, h, fps int) []string {
	return []string{"-f", "x11grab", "-framerate", strconv.Itoa(fps), "-video_size", fmt.Sprintf("%dx%d", w, h),
		"-grab_x", "0", "-grab_y", "0", "-draw_mouse", "1", "-i", display}
}

// liveFFmpegArgv records the screen for d with the CLI.
func liveFFmpegArgv(display string, w, h, fps int, d time.Duration, v Variant, out string) []string {
	argv := []string{"ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-y"}
	argv = append(argv, cliHWArgs(v)...)
	argv = append(argv, x11grabArgs(display, w, h, fps)...)
	argv = append(argv, "-t", strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
	argv = append(argv, cliEncodeArgs(v, fps)...)
	return append(argv, out)
}

// liveRecorderArgv records the whole screen as one canvas for d with `recorder record`.
func liveRecorderArgv(recorder, display string, fps int, d time.Duration, v Variant, out string) []string {
	argv := []string{recorder, "record", "--log-level", "error", "--out", out, "--duration", d.String(),
		"--fps", strconv.Itoa(fps), "--display", display, "--monitors", "all", "--layout", "canvas",
		"--mouse=true", "--encoder", v.Encoder, "--json"}
	for _, k := range sortedKeys(v.Options) {
		argv = append(argv, "--encoder-opt", k+"="+v.Options[k])
	}
	return argv
}

// captureClipArgv stores n frames of the screen as x11grab delivers them (bgr0 rawvideo).
func captureClipArgv(display string, w, h, fps, n int, raw string) []string {
	argv := []string{"ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-y"}
	argv = append(argv, x11grabArgs(display, w, h, fps)...)
	return append(argv, "-frames:v", strconv.Itoa(n), "-c:v", "rawvideo", "-pix_fmt", rawPixFmt, "-f", "rawvideo", raw)
}

// rawPixFmt is x11grab's pixel format on a 24-bit display, and the stored clips'.
const rawPixFmt = "bgr0"

// rawInputArgs read a stored clip, looped as often as needed.
func rawInputArgs(raw string, w, h, fps int) []string {
	return []string{"-stream_loop", "-1", "-f", "rawvideo", "-pixel_format", rawPixFmt, "-video_size", fmt.Sprintf("%dx%d", w, h),
		"-framerate", strconv.Itoa(fps), "-i", raw}
}

// encodeFFmpegArgv encodes n frames of the looped clip with the CLI.
func encodeFFmpegArgv(raw string, w, h, fps, n int, v Variant, out string) []string {
	argv := []string{"ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-y"}
	argv = append(argv, cliHWArgs(v)...)
	argv = append(argv, rawInputArgs(raw, w, h, fps)...)
	argv = append(argv, "-frames:v", strconv.Itoa(n))
	argv = append(argv, cliEncodeArgs(v, fps)...)
	return append(argv, out)
}

// encodeRecorderArgv encodes n frames of the looped clip with the engine's converter, encoder
// and muxer, in recorder-bench's hidden child mode.
func encodeRecorderArgv(child, raw string, w, h, fps, n int, v Variant, out string) []string {
	argv := []string{child, "encode-child", "--log-level", "error", "--raw", raw,
		"--size", fmt.Sprintf("%dx%d", w, h), "--fps", strconv.Itoa(fps), "--frames", strconv.Itoa(n),
		"--encoder", v.Encoder, "--out", out}
	for _, k := range sortedKeys(v.Options) {
		argv = append(argv, "--encoder-opt", k+"="+v.Options[k])
	}
	return argv
}

// recorderSummary is the part of `recorder record --json`'s summary the suite reads.
type recorderSummary struct {
	Frames  int64  `json:"frames"`
	Dropped int64  `json:"dropped"`
	Size    int64  `json:"size"`
	Encoder string `json:"encoder"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
}

func parseRecorderSummary(out []byte) (recorderSummary, error) {
	var s recorderSummary
	if err := json.Unmarshal(out, &s); err != nil {
		return s, fmt.Errorf("%w: recorder summary: %w: %q", ErrRun, err, tail(string(out), 200))
	}
	return s, nil
}

// cliProgress is the last report of `ffmpeg -progress`: frames written, and frames the CLI
// duplicated or dropped to keep its constant output rate.
type cliProgress struct {
	Frames  int64
	Dup     int64
	Dropped int64
}

// parseProgress reads the key=value blocks of `ffmpeg -progress` and keeps the last values.
func parseProgress(out []byte) cliProgress {
	var p cliProgress
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "frame":
			p.Frames = n
		case "dup_frames":
			p.Dup = n
		case "drop_frames":
			p.Dropped = n
		}
	}
	return p
}

// countFrames counts the video packets of a file (one per frame) without decoding it.
func countFrames(ctx context.Context, path string) (int, error) {
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path).Output()
	if err != nil {
		return 0, fmt.Errorf("%w: ffprobe %s: %w", ErrRun, path, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(out)), ",")))
	if err != nil {
		return 0, fmt.Errorf("%w: ffprobe %s: frame count %q", ErrRun, path, out)
	}
	return n, nil
}

// cliEncoders lists the encoders the ffmpeg CLI was built with.
func cliEncoders(ctx context.Context) (map[string]bool, error) {
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-encoders").Output()
	if err != nil {
		return nil, fmt.Errorf("%w: ffmpeg -encoders: %w", ErrToolMissing, err)
	}
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// " V....D libx264   libx264 H.264 …": flags, name, description.
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && len(f[0]) == 6 && f[0][0] == 'V' {
			have[f[1]] = true
		}
	}
	return have, nil
}

// checkTools fails, naming every missing one, when a program the suite runs is not on PATH.
func checkTools() error {
	var missing []string
	for _, p := range []string{"ffmpeg", "ffprobe", "Xvfb", "xrandr"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (on Debian: apt-get install ffmpeg xvfb x11-xserver-utils)", ErrToolMissing, strings.Join(missing, ", "))
	}
	return nil
}

// freeBytes is the space available to an unprivileged user in dir's file system.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
