// Command virtualdisplay runs a command on a display: the caller's own when DISPLAY is set,
// otherwise a private Xvfb with two side-by-side monitors and moving content, which it stops
// when the command ends. `make run` uses it so the recorder works on a headless machine.
//
//	virtualdisplay [-always] [-fps 30] -- COMMAND [ARGS...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/screenrec/recorder/internal/xscene"
	"github.com/screenrec/recorder/internal/xvfb"
)

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "virtualdisplay: %v\n", err)
	}
	os.Exit(code)
}

func run() (int, error) {
	always := flag.Bool("always", false, "start a private display even when DISPLAY is set")
	fps := flag.Int("fps", 30, "frame rate of the moving content")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		return 2, errors.New("usage: virtualdisplay [-always] [-fps N] -- COMMAND [ARGS...]")
	}
	// The command gets the terminal's signals itself; we only wait for it to finish.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)

	env := os.Environ()
	if os.Getenv("DISPLAY") == "" || *always {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		srv, err := xvfb.Start(ctx, xvfb.Options{Monitors: xvfb.TwoMonitors})
		if err != nil {
			return 1, err
		}
		defer srv.Close()
		fmt.Fprintf(os.Stderr, "virtualdisplay: private display %s with monitors %v\n", srv.Display, srv.Monitors)
		animated := make(chan error, 1)
		go func() { animated <- xscene.Animate(ctx, srv.Display, image.Rectangle{}, *fps) }()
		defer func() { cancel(); <-animated }()
		env = srv.Env()
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}
