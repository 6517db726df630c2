package encoderbench

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// ffmpegQualityLog is the tail of a real `ffmpeg … -lavfi "…ssim…psnr…" -f null -` run.
const ffmpegQualityLog = `Output #0, null, to 'pipe:':
  Stream #0:0: Video: wrapped_avframe, yuv444p, 640x360, q=2-31, 200 kb/s, 15 fps, 15 tbn
frame=   30 fps=0.0 q=-0.0 Lq=-0.0 size=N/A time=00:00:02.00 bitrate=N/A speed=19.6x    
video:28kB audio:0kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown
[Parsed_psnr_7 @ 0x55aaa3fd80c0] PSNR y:52.836585 u:35.104803 v:32.227375 average:35.168096 min:34.989497 max:35.594093
[Parsed_ssim_6 @ 0x55aaa3fd72c0] SSIM Y:0.998646 (28.683508) U:0.965823 (14.662605) V:0.958194 (13.787663) All:0.974221 (15.887336)
`

func TestParseQuality(t *testing.T) {
	q, err := ParseQuality(ffmpegQualityLog)
	if err != nil {
		t.Fatal(err)
	}
	if q.SSIM != 0.974221 || q.PSNR != 35.168096 {
		t.Errorf("got SSIM %v PSNR %v, want 0.974221 and 35.168096", q.SSIM, q.PSNR)
	}
	if n := parseFramesDone(ffmpegQualityLog); n != 30 {
		t.Errorf("frames: got %d, want 30", n)
	}

	// RGB planes and identical pictures: PSNR is inf, SSIM's dB figure too.
	q, err = ParseQuality("[Parsed_ssim_0 @ 0x1] SSIM R:1.000000 (inf) G:1.000000 (inf) B:1.000000 (inf) All:1.000000 (inf)\n" +
		"[Parsed_psnr_1 @ 0x2] PSNR r:inf g:inf b:inf average:inf min:inf max:inf\n")
	if err != nil {
		t.Fatal(err)
	}
	if q.SSIM != 1 || !math.IsInf(float64(q.PSNR), 1) {
		t.Errorf("identical: got SSIM %v PSNR %v", q.SSIM, q.PSNR)
	}
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	var back Quality
	if err := json.Unmarshal(b, &back); err != nil || !math.IsInf(float64(back.PSNR), 1) {
		t.Errorf("inf PSNR round trip: %s → %v, %v", b, back.PSNR, err)
	}

	for name, log := range map[string]string{
		"empty":      "",
		"no psnr":    "[Parsed_ssim_0 @ 0x1] SSIM Y:0.9 (10) All:0.9 (10)\n",
		"no ssim":    "[Parsed_psnr_1 @ 0x2] PSNR y:40 average:40.5 min:39 max:41\n",
		"ssim > 1":   "SSIM Y:1.5 (1) All:1.5 (1)\nPSNR y:40 average:40.5 min:39 max:41\n",
		"ssim not #": "SSIM All:1.2.3 (1)\nPSNR average:40.5 min:39\n",
	} {
		if _, err := ParseQuality(log); !errors.Is(err, ErrQuality) {
			t.Errorf("%s: got %v, want ErrQuality", name, err)
		}
	}
}

func TestParseProgress(t *testing.T) {
	out := "frame=60\ndup_frames=0\ndrop_frames=0\nprogress=continue\n" +
		"frame=150\nfps=15.0\ndup_frames=3\ndrop_frames=2\nspeed=1x\nprogress=end\n"
	p := parseProgress([]byte(out))
	if p != (cliProgress{Frames: 150, Dup: 3, Dropped: 2}) {
		t.Errorf("got %+v", p)
	}
}

func TestParseRecorderSummary(t *testing.T) {
	s, err := parseRecorderSummary([]byte(`{"path":"x.mp4","frames":150,"dropped":2,"size":1000,"encoder":"libx264","width":1920,"height":1080}` + "\n"))
	if err != nil || s.Frames != 150 || s.Dropped != 2 || s.Encoder != "libx264" {
		t.Errorf("got %+v, %v", s, err)
	}
	if _, err := parseRecorderSummary([]byte("x.mp4: 10.0s, 150 frames\n")); !errors.Is(err, ErrRun) {
		t.Errorf("text summary: got %v, want ErrRun", err)
	}
}

func validConfig() Config {
	c := QuickConfig()
	c.Recorder = "/bin/true"
	c.EncodeChild = "/bin/true"
	c.Encoders = []string{"libx264"}
	return c
}

func TestConfigValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("quick config: %v", err)
	}
	d := DefaultConfig()
	d.Recorder = "/bin/true"
	d.EncodeChild = "/bin/true"
	if err := d.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*Config)
		target error
		says   []string // the field or name, and the valid values
	}{
		{"unknown scene", func(c *Config) { c.Scenes = []string{"idle", "gaming"} }, ErrUnknownScene, []string{`"gaming"`, "idle, typing, scrolling, video, spreadsheet, terminal, mixed-3"}},
		{"no scenes", func(c *Config) { c.Scenes = nil }, ErrInvalidConfig, []string{"scenes", "mixed-3"}},
		{"unknown resolution", func(c *Config) { c.Resolutions = []string{"8k"} }, ErrUnknownResolution, []string{`"8k"`, "720p, 1080p, 1440p, 4k"}},
		{"unknown encoder", func(c *Config) { c.Encoders = []string{"libx264", "h266"} }, ErrUnknownEncoder, []string{`"h266"`, "auto, all", "libx265"}},
		{"auto with names", func(c *Config) { c.Encoders = []string{"auto", "libx264"} }, ErrInvalidConfig, []string{"encoders", `"auto"`}},
		{"unknown preset", func(c *Config) { c.Presets = []string{"turbo"} }, ErrUnknownPreset, []string{`"turbo"`, "libx264", "ultrafast, superfast"}},
		{"short duration", func(c *Config) { c.Duration = 500 * time.Millisecond }, ErrInvalidConfig, []string{"duration"}},
		{"no rounds", func(c *Config) { c.Rounds = 0 }, ErrInvalidConfig, []string{"rounds"}},
		{"fps", func(c *Config) { c.FPS = 61 }, ErrInvalidConfig, []string{"fps", "1-60"}},
		{"mode", func(c *Config) { c.EncodeOnly = "sometimes" }, ErrInvalidConfig, []string{"encode-only", "also, only or off"}},
		{"clip", func(c *Config) { c.ClipDuration = 100 * time.Millisecond }, ErrInvalidConfig, []string{"clip"}},
		{"encode frames", func(c *Config) { c.EncodeFrames = 1 }, ErrInvalidConfig, []string{"encode-frames"}},
		{"recorder", func(c *Config) { c.Recorder = "" }, ErrInvalidConfig, []string{"recorder"}},
		{"encode child", func(c *Config) { c.EncodeChild = "" }, ErrInvalidConfig, []string{"encode-child"}},
	} {
		c := validConfig()
		tc.edit(&c)
		err := c.Validate()
		if !errors.Is(err, tc.target) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.target)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %q", tc.name, err, s)
			}
		}
	}
	// A preset is checked only against encoders that have a preset option.
	c := validConfig()
	c.Encoders, c.Presets = []string{"libvpx-vp9"}, []string{"turbo"}
	if err := c.Validate(); err != nil {
		t.Errorf("vp9 has no presets: %v", err)
	}
	if r, err := LookupResolution("2160P"); err != nil || r.Name != "4k" {
		t.Errorf("2160P: got %v, %v", r, err)
	}
}

func TestVariants(t *testing.T) {
	vs, err := variants([]string{"libx264", "libvpx-vp9"}, []string{"ultrafast", "veryfast"}, BaselineSameOptions)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, v := range vs {
		labels = append(labels, v.Label())
	}
	if got := strings.Join(labels, " "); got != "libx264/ultrafast libx264/veryfast libvpx-vp9" {
		t.Errorf("got %s", got)
	}
	// The registry's screen-content defaults stay; the preset goes on top.
	if o := vs[1].Options; o["preset"] != "veryfast" || o["mbtree"] != "1" || o["crf"] != "22" {
		t.Errorf("libx264/veryfast options: %v", o)
	}
	vs, _ = variants([]string{"libx264"}, nil, BaselineSameOptions)
	if len(vs) != 1 || vs[0].Preset != "superfast" {
		t.Errorf("default preset: %+v", vs)
	}
}

func TestCLIEncodeArgsMatchEngine(t *testing.T) {
	vs, _ := variants([]string{"libx264"}, nil, BaselineSameOptions)
	got := strings.Join(cliEncodeArgs(vs[0], 15), " ")
	want := "-c:v libx264 -bf:v 0 -chromaoffset:v -6 -crf:v 22 -forced-idr:v 1 -mbtree:v 1 -motion-est:v hex -preset:v superfast -psy:v 0 " +
		"-qcomp:v 0.8 -rc-lookahead:v 2 -subq:v 2 -threads:v 1 -x264-params:v force-cfr=1 -g 150 -pix_fmt yuv420p " +
		"-movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 500000"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// With the cli-defaults baseline the CLI gets what `ffmpeg -c:v libx264 -preset superfast`
// does (crf 23, its own keyframe interval), while the recorder keeps the registry's options.
func TestCLIDefaultsBaseline(t *testing.T) {
	vs, _ := variants([]string{"libx264", "libvpx-vp9"}, nil, BaselineCLIDefaults)
	got := strings.Join(cliEncodeArgs(vs[0], 15), " ")
	want := "-c:v libx264 -crf:v 23 -preset:v superfast -pix_fmt yuv420p " +
		"-movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 500000"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if vs[0].Options["mbtree"] != "1" {
		t.Errorf("recorder options %v: want the registry's", vs[0].Options)
	}
	if !strings.Contains(strings.Join(cliEncodeArgs(vs[1], 15), " "), "-g 150") {
		t.Errorf("libvpx-vp9 has no CLI-defaults baseline: both get the registry's options and -g")
	}
}

func TestEvaluateGoals(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	v := Variant{Encoder: "libx264", Preset: "ultrafast"}
	live := []*LiveCell{
		{Scene: "idle", Resolution: "1080p", Variant: v, Ratios: LiveRatios{CPU: f(0.05), RSS: f(0.9), Kbps: f(1)}},
		{Scene: "typing", Resolution: "720p", Variant: v, Ratios: LiveRatios{CPU: f(0.5), RSS: f(0.7)}},
	}
	enc := []*EncodeCell{{Scene: "typing", Resolution: "1080p", Variant: v, Ratios: EncodeRatios{FPS: f(0.99), SSIMDelta: f(-0.01)}}}
	got := map[string][]string{}
	for _, g := range evaluateGoals(live, enc) {
		got[g.Name] = append(got[g.Name], g.Status)
	}
	want := map[string][]string{
		"idle 1080p CPU":            {StatusPass},
		"CPU":                       {StatusPass, StatusPass},
		"bytes, live":               {StatusMiss, StatusNA},
		"SSIM − CLI's, same frames": {StatusMiss},
		"bytes, same frames":        {StatusNA},
		"max RSS":                   {StatusMiss, StatusPass},
		"encode-only fps":           {StatusPass},
	}
	for name, w := range want {
		if strings.Join(got[name], ",") != strings.Join(w, ",") {
			t.Errorf("%s: got %v, want %v", name, got[name], w)
		}
	}
}

func TestChildConfig(t *testing.T) {
	if w, h, err := ParseSize("1920x1080"); err != nil || w != 1920 || h != 1080 {
		t.Errorf("got %d %d %v", w, h, err)
	}
	for _, s := range []string{"", "1920", "x1080", "1920x", "-2x4", "axb"} {
		if _, _, err := ParseSize(s); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%q: got %v", s, err)
		}
	}
	ok := ChildConfig{Raw: "a.raw", Width: 64, Height: 32, FPS: 15, Frames: 3, Encoder: "libx264", Out: "o.mp4"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Width = 63
	if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "size") {
		t.Errorf("odd width: %v", err)
	}
	bad = ok
	bad.Encoder = "nope"
	if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "encoder") {
		t.Errorf("encoder: %v", err)
	}
}

// TestPlanMixed3EncodeOnly: the three-monitor canvas is stored once and encoded by both tools
// like any scene; clip-bytes shortens its clip and the runs then encode that clip once, not
// looping over its cut, while a clip the user asked to be short still loops.
func TestPlanMixed3EncodeOnly(t *testing.T) {
	c := DefaultConfig()
	c.Scenes = []string{SceneMixed3, "idle"}
	c.Resolutions = []string{"1080p"}
	c.Encoders = []string{"libx264"}
	c.EncodeOnly = EncodeOnlyOnly
	c.EncodeChild, c.Recorder = "recorder-bench", "recorder" // only planned, not run
	p, err := NewPlan(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Skipped {
		t.Errorf("skipped %s", s)
	}
	if len(p.Stages) != 2 {
		t.Fatalf("stages %+v, want mixed-3 and idle", p.Stages)
	}
	m, idle := p.Stages[0], p.Stages[1]
	wantClip := int(int64(DefaultClipBytes) / (5760 * 1080 * 4)) // 172 frames of 5760x1080
	if !m.Encode || m.Width != 5760 || m.Height != 1080 || m.ClipFrames != wantClip || m.EncodeFrames != wantClip {
		t.Errorf("mixed-3: %+v, want encode-only of 5760x1080 with a %d-frame clip encoded once", m, wantClip)
	}
	if !idle.Encode || idle.ClipFrames != 300 || idle.EncodeFrames != 300 {
		t.Errorf("idle: %+v, want a 300-frame clip encoded once", idle)
	}

	c.ClipDuration = time.Second // the user's short clip: looped to encode-frames
	if clip, enc, ok := clipFrames(c, 1920, 1080); clip != 15 || enc != c.EncodeFrames || !ok {
		t.Errorf("1 s clip: %d frames encoded %d times (ok %v), want 15 looped to %d", clip, enc, ok, c.EncodeFrames)
	}
}
