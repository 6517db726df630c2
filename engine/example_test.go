package engine_test

import (
	"context"
	"fmt"
	"log"
	"os"
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
	// Output:
	// started: recording
	// stopped: completed segments: 1 checksummed: true
}
