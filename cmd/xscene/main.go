// Command xscene draws test content into the root window of an X display.
//
// Usage:
//
//	xscene -display :N [-fps 30] [-area WxH+X+Y] [-scene name]
//	xscene -display :N -fill '#rrggbb' [-area WxH+X+Y]
//	xscene -list
//
// Without -fill it animates until it receives SIGINT or SIGTERM: the
// named benchmark scene (see xscene.Play) with -scene, and otherwise a
// scrolling document with a moving block (xscene.Animate). -fps is the
// animation's update rate. With -fill it paints the area with one colour
// and exits. -list prints the scene names, one per line, and exits. The
// area defaults to the whole root window; -display defaults to $DISPLAY.
//
// Exit status is 0 on success, 1 when drawing fails and 2 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/screenrec/recorder/internal/xscene"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// usage is the one-line synopsis printed with usage errors.
const usage = "usage: xscene [-display :N] [-fps 30] [-area WxH+X+Y] [-scene name | -fill '#rrggbb' | -list]"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process-global parts, so it can be tested. It
// returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xscene", flag.ContinueOnError)
	// Silence flag's own reporting, which prints the error and then a
	// multi-line usage; errors are reported below on one line instead.
	fs.SetOutput(io.Discard)
	display := fs.String("display", os.Getenv("DISPLAY"), "X display to draw on, e.g. :57")
	fps := fs.Int("fps", 30, "animation frame rate, 1.."+strconv.Itoa(xscene.MaxFPS))
	areaFlag := fs.String("area", "", "region as WxH+X+Y in root coordinates (default: whole root)")
	fill := fs.String("fill", "", "fill the area with this colour (#rrggbb) once and exit")
	scene := fs.String("scene", "", "play this scene (see -list) instead of the default scrolling document with a moving block")
	list := fs.Bool("list", false, "print the scene names and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, usage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintf(stderr, "xscene: %v (%s)\n", err, usage)
		return exitUsage
	}

	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "xscene: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *list {
		for _, name := range xscene.Scenes() {
			fmt.Fprintln(stdout, name)
		}
		return exitOK
	}
	if *scene != "" {
		if !slices.Contains(xscene.Scenes(), *scene) {
			return usageErr("unknown -scene %q: want one of %s", *scene, strings.Join(xscene.Scenes(), ", "))
		}
		if *fill != "" {
			return usageErr("-scene and -fill are exclusive")
		}
	}
	if *display == "" {
		return usageErr("no display: use -display :N or set DISPLAY")
	}
	if *fps < 1 || *fps > xscene.MaxFPS {
		return usageErr("invalid -fps %d: want 1..%d", *fps, xscene.MaxFPS)
	}
	var area image.Rectangle // zero means the whole root window
	if *areaFlag != "" {
		var err error
		if area, err = parseGeometry(*areaFlag); err != nil {
			return usageErr("invalid -area: %v", err)
		}
	}
	var fillColor color.RGBA
	if *fill != "" {
		var err error
		if fillColor, err = parseColor(*fill); err != nil {
			return usageErr("invalid -fill: %v", err)
		}
	}

	p, err := xscene.Connect(*display)
	if err != nil {
		fmt.Fprintf(stderr, "xscene: %v\n", err)
		return exitFail
	}
	defer p.Close()
	if *fill != "" {
		if area == (image.Rectangle{}) {
			area = p.Bounds()
		}
		err = p.Fill(area, fillColor)
	} else if *scene != "" {
		err = p.Play(ctx, *scene, area, *fps)
	} else {
		err = p.Animate(ctx, area, *fps)
	}
	if err != nil {
		fmt.Fprintf(stderr, "xscene: %v\n", err)
		return exitFail
	}
	return exitOK
}

// geometryRE matches X geometry strings: WxH optionally followed by +X+Y.
var geometryRE = regexp.MustCompile(`^(\d+)x(\d+)(?:\+(\d+)\+(\d+))?$`)

// parseGeometry parses "WxH+X+Y" (or "WxH", meaning +0+0) into a
// rectangle. Negative offsets, which in X geometry mean "from the right or
// bottom edge", are not supported.
func parseGeometry(s string) (image.Rectangle, error) {
	m := geometryRE.FindStringSubmatch(s)
	if m == nil {
		return image.Rectangle{}, fmt.Errorf("%q: want WxH+X+Y, e.g. 1920x1080+0+0", s)
	}
	var v [4]int
	for i, field := range m[1:] {
		if field == "" {
			continue // offsets omitted
		}
		n, err := strconv.Atoi(field)
		if err != nil || n > 1<<15-1 {
			return image.Rectangle{}, fmt.Errorf("%q: number %s out of range", s, field)
		}
		v[i] = n
	}
	w, h, x, y := v[0], v[1], v[2], v[3]
	if w == 0 || h == 0 {
		return image.Rectangle{}, fmt.Errorf("%q: width and height must be positive", s)
	}
	return image.Rect(x, y, x+w, y+h), nil
}

// parseColor parses "#rrggbb" (the '#' is optional) into an opaque colour.
func parseColor(s string) (color.RGBA, error) {
	hex := strings.TrimPrefix(s, "#")
	if len(hex) != 6 {
		return color.RGBA{}, fmt.Errorf("%q: want #rrggbb", s)
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return color.RGBA{}, fmt.Errorf("%q: want #rrggbb", s)
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}, nil
}
