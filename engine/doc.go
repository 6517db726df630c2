// Package engine is the screen-recording engine that OEMs embed and every front end drives:
// recording sessions with a guarded state machine, shared capture and encode for recordings
// of the same screen, masking, limits, a durable catalog, uploads, and recovery after a crash.
//
// # Sessions
//
// New opens an Engine on a spool folder (Config; zero fields take the defaults). Start starts
// a session and returns once it records; Stop ends it and returns once its files are
// finalised; Wait waits for a session to end however it ends (Stop, its maximum duration, a
// failure, Close); Get and List give snapshots (Session), running or ended; Mask masks an
// owner's or a display's recordings from now on. A session's state moves
//
//	idle → starting → recording ⇄ masked → stopping → finalizing → completed
//
// and any state that has not ended can move to failed (see State). A stop while a session is
// starting or already stopping is ErrBusy.
//
// A session records Source.Display, or Config.Display when the request names none, or
// $DISPLAY of the process when neither does. Long recordings are cut into standalone
// segment files (Config.SegmentDuration), numbered from 1 everywhere (file names, catalog,
// events, upload jobs and metadata). Each file's container tags say what it is on its own:
// its segment index, its own start_time, and the recording's id, contact id and interaction
// id.
//
// # Events
//
// Events streams what happens (Event): state changes, segments closed, recordings completed
// or failed, warnings, pipelines opened and closed. Delivery is asynchronous: a session's
// last events may reach a subscriber after the Stop or Wait that saw it end has returned, so
// a program that needs both waits for the event it wants, not for Stop.
//
// # Uploads
//
// A recording that ends — completed, or failed with media kept up to its last complete
// fragment — queues one upload job per segment in the catalog, in the transaction that records
// its end. RunUploads hands
// due jobs to an Uploader, retrying with back-off, until its context ends.
//
// # Names
//
// The API's plain types, constants and errors live in package engine/api (no cgo, for
// adapters and plugins); this package re-exports every one of them, so an embedder needs
// only this import, and engine.Session and api.Session are the same type.
//
//	eng, err := engine.New(ctx, engine.Config{SpoolDir: "/var/spool/recorder"})
//	s, err := eng.Start(ctx, engine.StartRequest{Owner: "agent7", Frontend: "cli"})
//	…
//	s, err = eng.Stop(ctx, s.ID)
package engine
