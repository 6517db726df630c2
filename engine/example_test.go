package engine_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/xvfb"
)

// Example records a private virtual display for a second and stops.
func Example() {
	ctx := context.Background()
	display, err := xvfb.Start(ctx, xvfb.Options{Monitors: xvfb.TwoMonitors})
	if err != nil {
		log.Fatal(err)
	}
	defer display.Close()
	spool, err := os.MkdirTemp("", "engine-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(spool)

	eng, err := engine.New(ctx, engine.Config{SpoolDir: spool, MinFreeDisk: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)

	s, err := eng.Start(ctx, engine.StartRequest{
		Owner:    "agent42",
		Frontend: "example",
		Source:   engine.Source{Display: display.Display},
		Labels:   map[string]string{"place": "desk-7"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("started:", s.State)
	time.Sleep(time.Second)

	s, err = eng.Stop(ctx, s.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stopped:", s.State, "segments:", len(s.Segments), "checksummed:", len(s.Segments[0].SHA256) == 64)
}

// TestExample runs Example and checks what it prints. Example has no Output comment because
// it records a real display, which the short tier (go test -short) does without; go test runs
// every example with one.
func TestExample(t *testing.T) {
	xvfb.SkipIfUnavailable(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w // not parallel: no other test runs meanwhile
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	func() {
		defer func() { os.Stdout = stdout; w.Close() }()
		Example()
	}()
	const want = "started: recording\nstopped: completed segments: 1 checksummed: true\n"
	if got := <-out; got != want {
		t.Errorf("Example printed %q, want %q", got, want)
	}
}
