package main

import (
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/pkg/config"
)

// parseConfig parses lines as x.yaml with environ, failing the test on error.
func parseConfig(t *testing.T, environ []string, lines ...string) *config.Config {
	t.Helper()
	c, err := config.Parse("x.yaml", []byte(strings.Join(lines, "\n")+"\n"), environ)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestEngineConfig(t *testing.T) {
	c := parseConfig(t, nil,
		"spool_dir: /srv/spool",
		"engine:",
		"  fps: 15",
		"  max_sessions: 3",
		"  max_duration: 1h",
		"  segment_duration: 5m",
		"  spool_quota: 10GiB",
		"  min_free_disk: 1GB",
		"  encoders: [h264_vaapi, libx264]",
		"  encoder_options: {crf: '28'}",
		"  max_width: 1280",
		"  max_height: 720",
		"  draw_mouse: false",
		"  mask_color: '#FF8000'",
		"uploaders: [{name: rws}, {name: s3}, {name: noop}]",
		"upload:",
		"  targets: [s3, rws]",
		"display: ':5'",
	)
	got, err := engineConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Config{
		SpoolDir: "/srv/spool", Display: ":5", MaxSessions: 3, SpoolQuota: 10 << 30, MinFreeDisk: 1e9,
		MaxDuration: time.Hour, SegmentDuration: 5 * time.Minute, FPS: 15, MaxWidth: 1280, MaxHeight: 720,
		HideMouse: true, Encoders: []string{"h264_vaapi", "libx264"}, EncoderOptions: map[string]string{"crf": "28"},
		MaskColor: color.RGBA{R: 0xff, G: 0x80, B: 0, A: 0xff}, UploadTargets: []string{"s3", "rws"},
		CaptureMethod: capture.MethodAuto, MaxFrameGap: engine.DefaultMaxFrameGap,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("engineConfig\n got %+v\nwant %+v", got, want)
	}
	// The map is a copy.
	got.EncoderOptions["crf"] = "1"
	if c.Engine.EncoderOptions["crf"] != "28" {
		t.Error("engineConfig shares EncoderOptions")
	}

	d, err := engineConfig(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if d.Encoders != nil {
		t.Errorf("encoders [auto] → %v, want nil (the engine's default order)", d.Encoders)
	}
	if d.MaskColor != (color.RGBA{A: 255}) || d.HideMouse || d.MinFreeDisk != 256<<20 || d.SpoolQuota != 0 ||
		d.FPS != 10 || d.MaxSessions != 16 || d.SegmentDuration != 10*time.Minute || !reflect.DeepEqual(d.UploadTargets, []string{"default"}) ||
		d.SpoolDir != config.DefaultSpoolDir {
		t.Errorf("engineConfig(Default()) = %+v", d)
	}
	// min_free_disk 0 means no check, which the engine spells -1.
	z, err := engineConfig(parseConfig(t, nil, "engine:", "  min_free_disk: 0"))
	if err != nil || z.MinFreeDisk != -1 {
		t.Errorf("min_free_disk 0 → %d, %v; want -1", z.MinFreeDisk, err)
	}
}

// The top-level display (or RECORDER_DISPLAY) is the engine's default display.
func TestEngineConfigDisplay(t *testing.T) {
	got, err := engineConfig(parseConfig(t, []string{"RECORDER_DISPLAY=:9"}, "log:", "  level: info"))
	if err != nil || got.Display != ":9" {
		t.Errorf("RECORDER_DISPLAY=:9 → display %q, %v; want :9", got.Display, err)
	}
	d, err := engineConfig(config.Default())
	if err != nil || d.Display != "" {
		t.Errorf("no display → %q, %v; want empty ($DISPLAY)", d.Display, err)
	}
}

// An encoder this build does not know is named with its place, in the file or the
// environment, like every other config problem.
func TestEngineConfigUnknownEncoder(t *testing.T) {
	const names = `choose auto or one of h264_nvenc, h264_qsv, h264_vaapi, h264_videotoolbox, h264_mf, libx264, libx265, libvpx-vp9`
	for _, tc := range []struct {
		c    *config.Config
		want string
	}{
		{parseConfig(t, nil, "engine:", "  encoders:", "    - libx264", "    - h265_magic"),
			`x.yaml:4: engine.encoders[1]: unknown encoder "h265_magic": ` + names},
		{parseConfig(t, []string{"RECORDER_ENGINE_ENCODERS=libx264,nope"}, "log:", "  level: info"),
			`$RECORDER_ENGINE_ENCODERS: engine.encoders[1]: unknown encoder "nope": ` + names},
	} {
		_, err := engineConfig(tc.c)
		if err == nil || err.Error() != tc.want {
			t.Errorf("engineConfig error\n got %v\nwant %s", err, tc.want)
		}
		if !errors.Is(err, config.ErrBadValue) || !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%v: not ErrBadValue and ErrInvalid", err)
		}
	}
}

// Every shipped config (the samples and the package's) maps onto an engine config the
// engine accepts.
func TestShippedConfigsMapOntoTheEngine(t *testing.T) {
	paths, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no configs: %v", err)
	}
	paths = append(paths, "../../packaging/recorder.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := config.Parse(p, data, nil)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if _, err := engineConfig(c); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
