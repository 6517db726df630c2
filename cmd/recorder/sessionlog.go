package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/screenrec/recorder/engine"
)

// sessionLookupTimeout bounds reading a session's details for its log line.
const sessionLookupTimeout = 2 * time.Second

// logSessions logs a line for each session that starts, is stopped, completes or fails, from
// the engine's events, until the engine closes (the last events of a shutdown included). Each
// line says who and what: session id, contact and interaction ids, owner, front end, display,
// and the reason or error where there is one. The returned func waits for the last line, up to
// ctx.
func logSessions(eng *engine.Engine, log *slog.Logger) (wait func(ctx context.Context)) {
	// Not the run's context: its end starts the shutdown, whose finalised sessions are worth
	// a line too. The channel closes when the engine does.
	events := eng.Events(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Who and what each session is, kept from its first line: a session finalised during
		// shutdown may no longer be readable from the closing engine.
		known := map[string][]any{}
		for ev := range events {
			if ev.Dropped > 0 {
				log.Warn("session log: engine events lost: the log fell behind", "dropped", ev.Dropped)
			}
			msg, level := sessionLine(ev)
			if msg == "" {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), sessionLookupTimeout)
			s, err := eng.Get(ctx, ev.SessionID)
			cancel()
			attrs := []any{"session", ev.SessionID}
			if err == nil {
				known[ev.SessionID] = []any{"contact_id", s.ContactID, "interaction_id", s.InteractionID, "owner", s.Owner,
					"frontend", s.Frontend, "display", s.Source.Display}
			}
			attrs = append(attrs, known[ev.SessionID]...)
			if err == nil {
				if s.Reason != "" {
					attrs = append(attrs, "reason", s.Reason)
				}
				if ev.Kind == engine.EventRecordingCompleted {
					attrs = append(attrs, "duration", s.Duration, "segments", len(s.Segments))
				}
			}
			switch {
			case ev.Reason == "":
			case ev.Kind == engine.EventRecordingFailed:
				attrs = append(attrs, "error", ev.Reason)
			default:
				attrs = append(attrs, "why", ev.Reason)
			}
			log.Log(context.Background(), level, msg, attrs...)
			if ev.Kind == engine.EventRecordingCompleted || ev.Kind == engine.EventRecordingFailed {
				delete(known, ev.SessionID)
			}
		}
	}()
	return func(ctx context.Context) {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
}

// sessionLine is the message and level of the line an event gets ("": none).
func sessionLine(ev engine.Event) (string, slog.Level) {
	switch ev.Kind {
	case engine.EventStateChanged:
		switch {
		case ev.From == engine.StateStarting && (ev.To == engine.StateRecording || ev.To == engine.StateMasked):
			return "session started", slog.LevelInfo
		case ev.To == engine.StateStopping:
			return "session stopping", slog.LevelInfo
		}
	case engine.EventRecordingCompleted:
		return "session completed", slog.LevelInfo
	case engine.EventRecordingFailed:
		return "session failed", slog.LevelError
	}
	return "", 0
}
