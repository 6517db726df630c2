package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

func TestParseGeometry(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]image.Rectangle{
		"1920x1080+0+0":    image.Rect(0, 0, 1920, 1080),
		"1280x1024+1920+0": image.Rect(1920, 0, 3200, 1024),
		"10x20":            image.Rect(0, 0, 10, 20),
	} {
		got, err := parseGeometry(in)
		if err != nil || got != want {
			t.Errorf("parseGeometry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1920", "0x10+0+0", "10x0", "10x10-5+0", "10x10+5", "axb", "99999x10"} {
		if got, err := parseGeometry(in); err == nil {
			t.Errorf("parseGeometry(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseColor(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]color.RGBA{
		"#ff0000": {0xff, 0, 0, 0xff},
		"1234AB":  {0x12, 0x34, 0xab, 0xff},
	} {
		if got, err := parseColor(in); err != nil || got != want {
			t.Errorf("parseColor(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "#fff", "#ggg000", "#12345678", "red", "#-12345"} {
		if got, err := parseColor(in); err == nil {
			t.Errorf("parseColor(%q) = %v, want an error", in, got)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-display", ":1", "-fps", "0"},
		{"-display", ":1", "-area", "nonsense"},
		{"-display", ":1", "-fill", "blue"},
		{"-display", ":1", "extra"},
		{"-display", "", "-fill", "#000000"},
		{"-nosuchflag"},
		{"-display", ":1", "-scene", "slideshow"},
		{"-display", ":1", "-scene", "idle", "-fill", "#000000"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &stderr); code != exitUsage {
			t.Errorf("run %q = %d, want %d", args, code, exitUsage)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			t.Errorf("run %q printed nothing", args)
		}
		t.Logf("run %q: %s", args, msg)
	}
}

func TestRunFillAndAnimate(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, xvfb.TwoMonitors)

	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-display", s.Display, "-fill", "#336699", "-area", "100x100+1280+0"}, io.Discard, &stderr); code != exitOK {
		t.Fatalf("fill: exit %d: %s", code, stderr.String())
	}
	p, err := xscene.Connect(s.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, _ := p.Pixel(1300, 50); got != (color.RGBA{0x33, 0x66, 0x99, 0xff}) {
		t.Errorf("filled pixel = %v, want #336699", got)
	}
	if got, _ := p.Pixel(1200, 50); got != (color.RGBA{A: 0xff}) {
		t.Errorf("pixel outside -area = %v, want untouched black", got)
	}

	// Animation runs until the context (SIGINT in real use) ends it.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if code := run(ctx, []string{"-display", s.Display, "-fps", "60"}, io.Discard, &stderr); code != exitOK {
		t.Fatalf("animate: exit %d: %s", code, stderr.String())
	}
	if got, _ := p.Pixel(5, 5); got != (color.RGBA{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("animated document margin pixel = %v, want white paper", got)
	}

	if code := run(context.Background(), []string{"-display", ":0.bogus", "-fill", "#000000"}, io.Discard, &stderr); code != exitFail {
		t.Errorf("bad display: exit %d, want %d", code, exitFail)
	}
}

func TestRunList(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	// No display is needed to list the scenes.
	if code := run(context.Background(), []string{"-display", "", "-list"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("-list: exit %d: %s", code, stderr.String())
	}
	want := strings.Join(xscene.Scenes(), "\n") + "\n"
	if stdout.String() != want {
		t.Errorf("-list printed %q, want %q", stdout.String(), want)
	}
}

func TestRunScene(t *testing.T) {
	t.Parallel()
	s := xvfb.StartForTest(t, []xvfb.Monitor{{Name: "M0", Width: 640, Height: 480}})
	p, err := xscene.Connect(s.Display)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// The typing scene is a window on a desktop; the default animation
	// would leave white paper in the corner instead.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var stderr bytes.Buffer
	if code := run(ctx, []string{"-display", s.Display, "-scene", xscene.SceneTyping, "-area", "320x240+0+0"}, io.Discard, &stderr); code != exitOK {
		t.Fatalf("-scene typing: exit %d: %s", code, stderr.String())
	}
	desk, err := p.Pixel(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if desk == (color.RGBA{A: 0xff}) || desk == (color.RGBA{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("corner pixel = %v, want the scene's desktop colour", desk)
	}
	if got, _ := p.Pixel(400, 300); got != (color.RGBA{A: 0xff}) {
		t.Errorf("pixel outside -area = %v, want untouched black", got)
	}
}
