package engine_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/screenrec/recorder/engine"
)

// Example records the display the program runs on ($DISPLAY; set Config.Display when the
// program has none) for a second, and waits for the recording to end.
func Example() {
	ctx := context.Background()
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
		Labels:   map[string]string{"place": "desk-7"},
		Limits:   engine.Limits{MaxDuration: time.Second}, // or end it with eng.Stop(ctx, s.ID)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("started:", s.State)

	s, err = eng.Wait(ctx, s.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ended:", s.State, "segments:", len(s.Segments), "checksummed:", len(s.Segments[0].SHA256) == 64)
}
