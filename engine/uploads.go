package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/encode"
)

// Upload scheduling defaults (docs/api/rws-upload.md: 1 s doubling to 5 min).
const (
	DefaultUploadConcurrency = 2
	DefaultUploadBaseDelay   = time.Second
	DefaultUploadMaxDelay    = 5 * time.Minute
	// uploadPoll is how often due jobs are looked for when nothing wakes the scheduler.
	uploadPoll = time.Second
	// progressEvery bounds how often upload progress is written to the catalog.
	progressEvery = 500 * time.Millisecond
)

// errJobTaken: another scheduler loop claimed the job first.
var errJobTaken = errors.New("job no longer queued")

// UploadConfig tunes RunUploads. Zero fields take the defaults above.
type UploadConfig struct {
	// Concurrency is how many uploads run at once.
	Concurrency int
	// BaseDelay is the first retry's delay; each further one doubles, up to MaxDelay, with
	// ±20% jitter so that many recorders do not retry in step.
	BaseDelay, MaxDelay time.Duration
	// Keep keeps local files after the server confirmed them; by default they are deleted.
	Keep bool
}

// SetUploadAuth makes the owner's uploads use auth (nil: the uploader's own account again).
// It is never written anywhere.
func (e *Engine) SetUploadAuth(owner string, auth *UploadAuth) {
	e.authMu.Lock()
	defer e.authMu.Unlock()
	if auth == nil {
		delete(e.auth, owner)
		return
	}
	a := *auth
	e.auth[owner] = &a
}

func (e *Engine) uploadAuth(owner string) *UploadAuth {
	e.authMu.Lock()
	defer e.authMu.Unlock()
	return e.auth[owner]
}

// Uploads returns the upload jobs that match f, in the order they were queued: what each
// segment's upload has come to (state, attempts, bytes confirmed, last error).
func (e *Engine) Uploads(ctx context.Context, f UploadFilter) ([]UploadJob, error) {
	cf := catalog.UploadFilter{RecordingID: f.RecordingID, Limit: f.Limit}
	for _, st := range f.States {
		cf.States = append(cf.States, catalog.UploadState(st))
	}
	jobs, err := e.cat.UploadJobs(ctx, cf)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	out := make([]UploadJob, len(jobs))
	for i, j := range jobs {
		out[i] = UploadJob{ID: j.ID, RecordingID: j.Segment.RecordingID, SegmentIndex: j.Segment.Index,
			SegmentPath: j.Segment.Path, Target: j.Target, State: UploadState(j.State), Attempts: j.Attempts,
			Bytes: j.Segment.Bytes, Offset: j.RemoteOffset, Location: j.RemoteLocation, LastError: j.LastError,
			LastErrorKind: api.FailureKind(j.LastErrorKind),
			CreatedAt:     j.CreatedAt, UpdatedAt: j.UpdatedAt}
		if j.State == catalog.UploadQueued {
			out[i].NextTryAt = j.NextTryAt
		}
	}
	return out, nil
}

// wakeUploads tells RunUploads that jobs were queued.
func (e *Engine) wakeUploads() {
	select {
	case e.uploadWake <- struct{}{}:
	default:
	}
}

// RunUploads hands the catalog's due upload jobs, of every target, to up, with bounded
// concurrency and back-off, recording each job's remote location, confirmed offset and the
// uploader's resume state as they advance, until ctx ends. Jobs left running by a crash were
// put back in the queue by New, and resume where the server says they got to.
func (e *Engine) RunUploads(ctx context.Context, up api.Uploader, cfg UploadConfig) error {
	return e.runUploadQueue(ctx, "", up, e.uploadWake, cfg)
}

// RunUploadTargets is RunUploads with an uploader per target: each target's jobs go to its
// own uploader, with cfg.Concurrency uploads at once per target, so that a target that is
// down does not hold up the others. Jobs for a target missing from targets wait in the queue
// (and are said to, once).
func (e *Engine) RunUploadTargets(ctx context.Context, targets map[string]api.Uploader, cfg UploadConfig) error {
	for _, t := range e.cfg.UploadTargets {
		if targets[t] == nil {
			e.log.WarnContext(ctx, "upload target has no uploader: its jobs wait", "target", t)
		}
	}
	if len(targets) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	// One wake-up reaches every target's loop.
	wakes := make([]chan struct{}, 0, len(targets))
	var wg sync.WaitGroup
	errs := make(chan error, len(targets))
	for name, up := range targets {
		wake := make(chan struct{}, 1)
		wakes = append(wakes, wake)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.runUploadQueue(ctx, name, up, wake, cfg)
		}()
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-e.uploadWake:
				for _, w := range wakes {
					select {
					case w <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	wg.Wait()
	return <-errs
}

// runUploadQueue is one scheduler loop: the due jobs of target (every target when empty) go
// to up.
func (e *Engine) runUploadQueue(ctx context.Context, target string, up api.Uploader, wake <-chan struct{}, cfg UploadConfig) error {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultUploadConcurrency
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultUploadBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultUploadMaxDelay
	}
	var only []string
	if target != "" {
		only = []string{target}
	}
	running := make(chan struct{}, cfg.Concurrency)
	finished := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if free := cfg.Concurrency - len(running); free > 0 {
			jobs, err := e.cat.DueUploads(ctx, time.Now(), free, only...)
			if err != nil && ctx.Err() == nil {
				e.log.ErrorContext(ctx, "upload queue", "target", target, "err", err)
			}
			for _, j := range jobs {
				claimed, err := e.cat.UpdateUpload(ctx, j.ID, func(u *catalog.UploadJob) error {
					if u.State != catalog.UploadQueued {
						return errJobTaken
					}
					u.State = catalog.UploadRunning
					u.Attempts++
					return nil
				})
				if err != nil {
					// Still queued: the next round tries it again.
					if ctx.Err() == nil && !errors.Is(err, errJobTaken) {
						e.log.WarnContext(ctx, "upload queue: claim a job", "job", j.ID, "err", err)
					}
					continue
				}
				running <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.upload(ctx, up, claimed, cfg)
					<-running
					finished <- struct{}{}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-finished:
		case <-time.After(uploadPoll):
		}
	}
}

// upload runs one job to its outcome: uploaded, failed for good, or queued again for later.
func (e *Engine) upload(ctx context.Context, up api.Uploader, job catalog.UploadJob, cfg UploadConfig) {
	ctx, span := e.startUploadSpan(ctx, job)
	// Catalog writes must land even when ctx ends mid-upload (shutdown): the job goes back
	// to the queue with what the server confirmed so far.
	wctx := context.WithoutCancel(ctx)
	req, err := e.uploadRequest(ctx, job)
	if err != nil {
		e.finishJob(wctx, job, err, cfg)
		endSpan(span, err)
		return
	}
	var mu sync.Mutex
	last := time.Time{}
	lastLoc, lastState := job.RemoteLocation, job.RemoteState
	progress := func(p api.Progress) {
		mu.Lock()
		defer mu.Unlock()
		// A new location or resume state is written at once: it is what keeps the next
		// attempt from starting a second upload of the same segment.
		if p.Location == lastLoc && (p.State == "" || p.State == lastState) && time.Since(last) < progressEvery {
			return
		}
		last, lastLoc = time.Now(), p.Location
		if p.State != "" {
			lastState = p.State
		}
		// Losing this write loses no data (a resume asks the server where it got to), but it
		// is said.
		if _, err := e.cat.UpdateUpload(wctx, job.ID, func(u *catalog.UploadJob) error {
			u.RemoteLocation, u.RemoteOffset = p.Location, p.Offset
			if p.State != "" {
				u.RemoteState = p.State
			}
			return nil
		}); err != nil {
			e.log.WarnContext(ctx, "upload progress", "job", job.ID, "err", err)
		}
	}
	res, err := up.Upload(ctx, req, progress)
	if err == nil {
		_, err = e.cat.UpdateUpload(wctx, job.ID, func(u *catalog.UploadJob) error {
			u.State, u.RemoteLocation, u.RemoteOffset, u.LastError, u.LastErrorKind = catalog.UploadUploaded, res.Location, res.Bytes, "", ""
			return nil
		})
		if err != nil {
			e.log.ErrorContext(ctx, "upload queue", "job", job.ID, "err", err)
		} else if !cfg.Keep {
			e.removeUploaded(wctx, job)
		}
		e.log.InfoContext(ctx, "segment uploaded", "recording", req.RecordingID, "segment", req.SegmentIndex, "target", job.Target, "location", res.Location)
		endSpan(span, err)
		return
	}
	e.finishJob(wctx, job, err, cfg)
	span.SetAttributes(attribute.String("error.type", string(api.ClassifyFailure(err))))
	endSpan(span, err)
}

// finishJob records a failed attempt: failed for good, or queued for a retry after back-off.
func (e *Engine) finishJob(ctx context.Context, job catalog.UploadJob, cause error, cfg UploadConfig) {
	permanent := errors.Is(cause, api.ErrPermanent)
	kind := api.ClassifyFailure(cause)
	delay := backoff(job.Attempts+1, cfg.BaseDelay, cfg.MaxDelay)
	if errors.Is(cause, context.Canceled) {
		delay = 0 // a shutdown, not the server's fault
	}
	_, err := e.cat.UpdateUpload(ctx, job.ID, func(u *catalog.UploadJob) error {
		u.LastError, u.LastErrorKind = cause.Error(), string(kind)
		if permanent {
			u.State = catalog.UploadFailed
			return nil
		}
		u.State, u.NextTryAt = catalog.UploadQueued, time.Now().Add(delay)
		return nil
	})
	if err != nil {
		e.log.ErrorContext(ctx, "upload queue", "job", job.ID, "err", err)
	}
	attrs := metric.WithAttributes(attribute.String("recorder.upload.target", job.Target),
		attribute.String("error.type", string(kind)))
	if permanent {
		e.tel.failures.Add(ctx, 1, attrs)
		e.log.ErrorContext(ctx, "upload failed for good", "job", job.ID, "target", job.Target, "segment", job.Segment.Path, "kind", kind, "err", cause)
	} else if !errors.Is(cause, context.Canceled) {
		e.tel.retries.Add(ctx, 1, attrs)
		e.log.WarnContext(ctx, "upload failed; will retry", "job", job.ID, "target", job.Target, "in", delay, "kind", kind, "err", cause)
	}
}

// backoff is the delay before retry number attempt (1 for the first retry).
func backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// removeUploaded deletes a confirmed segment's local file.
func (e *Engine) removeUploaded(ctx context.Context, job catalog.UploadJob) {
	// Two targets confirming the same segment at once both see the other's job done.
	e.removeMu.Lock()
	defer e.removeMu.Unlock()
	others, err := e.cat.UploadJobs(ctx, catalog.UploadFilter{RecordingID: job.Segment.RecordingID})
	if err != nil {
		e.log.WarnContext(ctx, "remove uploaded segment", "path", job.Segment.Path, "err", err)
		return
	}
	for _, o := range others {
		if o.Segment.ID == job.Segment.ID && o.State != catalog.UploadUploaded {
			return // another target still needs it
		}
	}
	if err := os.Remove(job.Segment.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		e.log.WarnContext(ctx, "remove uploaded segment", "path", job.Segment.Path, "err", err)
		return
	}
	if err := e.cat.MarkSegmentRemoved(ctx, job.Segment.ID); err != nil {
		// The spool's size then counts a file that is gone, until the write succeeds.
		e.log.WarnContext(ctx, "remove uploaded segment", "path", job.Segment.Path, "err", err)
	}
	// The recording's folder, once empty; a folder still holding files stays, as it should.
	if err := os.Remove(filepath.Dir(job.Segment.Path)); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		e.log.WarnContext(ctx, "remove a recording's folder", "path", filepath.Dir(job.Segment.Path), "err", err)
	}
}

// uploadRequest describes a job's segment with the metadata the RWS protocol asks for.
func (e *Engine) uploadRequest(ctx context.Context, job catalog.UploadJob) (api.UploadRequest, error) {
	seg := job.Segment
	rec, err := e.cat.GetRecording(ctx, seg.RecordingID)
	if err != nil {
		return api.UploadRequest{}, fmt.Errorf("engine: upload: %w", err)
	}
	segs, err := e.cat.Segments(ctx, seg.RecordingID)
	if err != nil {
		return api.UploadRequest{}, fmt.Errorf("engine: upload: %w", err)
	}
	final := true
	for _, o := range segs {
		if o.Index > seg.Index && o.RemovedAt.IsZero() && o.Closed {
			final = false
		}
	}
	var g geometry
	_ = json.Unmarshal(rec.Geometry, &g)
	monitors, width, height := 0, 0, 0
	for i, t := range g.Tracks {
		monitors += t.Monitors
		if i == 0 {
			width, height = t.Width, t.Height
		}
	}
	codec := ""
	if c, err := encode.Lookup(rec.Encoder); err == nil {
		codec = c.Codec
	}
	start := rec.StartedAt.Add(seg.Start)
	meta := map[string]string{
		"filename":      filepath.Base(seg.Path),
		"filetype":      "video/mp4",
		"recordingId":   rec.ID,
		"segment":       strconv.Itoa(seg.Index), // from 1, as everywhere
		"final":         strconv.FormatBool(final),
		"agent":         rec.Owner,
		"userId":        rec.Owner,
		"contactId":     strconv.FormatInt(api.ContactIDOf(rec.ContactID, rec.Labels), 10),
		"interactionId": rec.InteractionID,
		"place":         rec.Labels["place"],
		"startTime":     start.UTC().Format(time.RFC3339),
		"stopTime":      start.Add(seg.Duration).UTC().Format(time.RFC3339),
		"durationMs":    strconv.FormatInt(seg.Duration.Milliseconds(), 10),
		"monitors":      strconv.Itoa(monitors),
		"width":         strconv.Itoa(width),
		"height":        strconv.Itoa(height),
		"codec":         codec,
		"encoder":       rec.Encoder,
		"sha256":        seg.SHA256,
		"masked":        strconv.FormatInt(rec.Masked.Milliseconds(), 10),
		"state":         rec.State, // completed or failed: a failed recording is delivered too
		"reason":        rec.Error, // why it failed; empty when completed
	}
	req := api.UploadRequest{JobID: job.ID, RecordingID: rec.ID, SegmentIndex: seg.Index, SegmentPath: seg.Path,
		Size: seg.Bytes, SHA256: seg.SHA256, Metadata: meta, Target: job.Target,
		Resume: api.Resume{Location: job.RemoteLocation, Offset: job.RemoteOffset, State: job.RemoteState}}
	if a := e.uploadAuth(rec.Owner); a != nil {
		c := a.Credentials
		req.Credentials = &c
		if a.Server != "" {
			meta["server"], meta["peer_server"] = a.Server, a.PeerServer
		}
	}
	return req, nil
}
