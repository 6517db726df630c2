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

func (e *Engine) recoverOne(ctx context.Context, r catalog.Recording) error {
	segs, err := e.cat.Segments(ctx, r.ID)
	if err != nil {
		return err
	}
	var kept int
	var duration time.Duration
	var ended time.Time
	for _, sg := range segs {
		if sg.Closed {
			kept++
			if fi, err := os.Stat(sg.Path); err == nil && fi.ModTime().After(ended) {
				ended = fi.ModTime()
			}
			// The recording never completed, so no span was recorded: it follows the others.
			if res, err := mux.Inspect(sg.Path); err == nil {
				if err := e.cat.SetSegmentSpan(ctx, sg.ID, duration, res.Duration); err != nil {
					return err
				}
				duration += res.Duration
			}
			continue
		}
		res, err := mux.Repair(sg.Path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, mux.ErrNotFragmentedMP4) || (err == nil && res.Fragments == 0) {
			// Nothing playable: the file never got past its header (or was never created).
			_ = os.Remove(sg.Path)
			if err := e.cat.MarkSegmentRemoved(ctx, sg.ID); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		sum, err := mux.SHA256File(sg.Path)
		if err != nil {
			return err
		}
		if err := e.cat.CloseSegment(ctx, sg.ID, res.Size, sum); err != nil {
			return err
		}
		if err := e.cat.SetSegmentSpan(ctx, sg.ID, duration, res.Duration); err != nil {
			return err
		}
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
	if _, err := e.cat.UpdateRecording(ctx, r.ID, func(rec *catalog.Recording) error {
		rec.State, rec.Error, rec.Interrupted, rec.EndedAt = state.String(), reason, true, ended
		rec.MaskedIntervals, rec.Masked = masks, masked
		if rec.Duration < duration {
			rec.Duration = duration
		}
		return nil
	}); err != nil {
		return err
	}
	e.log.Warn("recovered a recording interrupted by a crash", "session", r.ID, "state", state, "segments", kept, "duration", duration)
	if state == StateCompleted {
		if _, err := e.cat.EnqueueUploads(ctx, r.ID, e.cfg.UploadTarget); err != nil {
			return err
		}
	}
	return nil
}
