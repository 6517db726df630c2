package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/mux"
)

// recover finalises the recordings that a crash left in a non-terminal state: each open
// segment is cut back to its last complete fragment and checksummed, and a recording with
// anything playable is marked completed (interrupted) and queued for upload; one with nothing
// playable is marked failed.
func (e *Engine) recover(ctx context.Context) error {
	var open []string
	for st := StateIdle; st < StateCompleted; st++ {
		open = append(open, st.String())
	}
	recs, err := e.cat.ListRecordings(ctx, catalog.RecordingFilter{States: open})
	if err != nil {
		return fmt.Errorf("engine: recovery: %w", err)
	}
	if _, err := e.cat.RequeueRunningUploads(ctx); err != nil {
		return fmt.Errorf("engine: recovery: %w", err)
	}
	for _, r := range recs {
		if err := e.recoverOne(ctx, r); err != nil {
			return fmt.Errorf("engine: recovery of %s: %w", r.ID, err)
		}
	}
	return nil
}

// recoverOne finalises one recording: its files are repaired first, then everything the
// catalog learns of its end (seals, spans, state, upload jobs) is written in one transaction,
// so a crash during recovery leaves it to the next one.
func (e *Engine) recoverOne(ctx context.Context, r catalog.Recording) error {
	segs, err := e.cat.Segments(ctx, r.ID)
	if err != nil {
		return err
	}
	var (
		end      catalog.Ending
		kept     int
		duration time.Duration
		ended    time.Time
	)
	for _, sg := range segs {
		if !sg.RemovedAt.IsZero() {
			continue
		}
		if sg.Closed {
			kept++
			if fi, err := os.Stat(sg.Path); err == nil && fi.ModTime().After(ended) {
				ended = fi.ModTime()
			}
			// The recording never completed, so no span was recorded: it follows the others.
			if res, err := mux.Inspect(sg.Path); err == nil {
				end.Spans = append(end.Spans, catalog.SegmentSpan{ID: sg.ID, Start: duration, Duration: res.Duration})
				duration += res.Duration
			}
			continue
		}
		res, err := mux.Repair(sg.Path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, mux.ErrNotFragmentedMP4) || (err == nil && res.Fragments == 0) {
			// Nothing playable: the file never got past its header (or was never created).
			if err := os.Remove(sg.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				e.log.Warn("remove an empty segment", "session", r.ID, "path", sg.Path, "err", err)
			}
			end.Removed = append(end.Removed, sg.ID)
			continue
		}
		if err != nil {
			return err
		}
		sum, err := mux.SHA256File(sg.Path)
		if err != nil {
			return err
		}
		end.Seals = append(end.Seals, catalog.SegmentSeal{ID: sg.ID, Bytes: res.Size, SHA256: sum})
		end.Spans = append(end.Spans, catalog.SegmentSpan{ID: sg.ID, Start: duration, Duration: res.Duration})
		kept++
		duration += res.Duration
		if fi, err := os.Stat(sg.Path); err == nil && fi.ModTime().After(ended) {
			ended = fi.ModTime()
		}
	}
	masks := r.MaskedIntervals
	var masked time.Duration
	for i := range masks { // a mask open at the crash ends with the recording
		if masks[i].End == 0 {
			masks[i].End = max(masks[i].Start, duration)
		}
		masked += masks[i].End - masks[i].Start
	}
	state, reason := StateCompleted, ""
	if kept == 0 {
		state, reason = StateFailed, "interrupted by a crash before the first complete fragment"
	}
	if ended.IsZero() {
		ended = time.Now()
	}
	end.Update = func(rec *catalog.Recording) error {
		rec.State, rec.Error, rec.Interrupted, rec.EndedAt = state.String(), reason, true, ended
		rec.MaskedIntervals, rec.Masked = masks, masked
		if rec.Duration < duration {
			rec.Duration = duration
		}
		return nil
	}
	end.UploadTargets = e.cfg.UploadTargets
	if _, _, err := e.cat.FinishRecording(ctx, r.ID, end); err != nil {
		return err
	}
	e.log.Warn("recovered a recording interrupted by a crash", "session", r.ID, "state", state, "segments", kept, "duration", duration)
	return nil
}
