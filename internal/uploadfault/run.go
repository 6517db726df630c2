// Package uploadfault runs upload jobs through an uploader as the engine's upload queue does
// — the job's Resume (location, offset, the uploader's State) kept across attempts, a failed
// attempt retried after a pause — while a test injects faults into real servers, and measures
// what the servers got. It is the harness of the randomized fault runs (RWS now; other
// targets such as S3 plug in their own servers and checks): Run drives the jobs, Chaos fires
// faults at random, Report counts attempts and failure kinds.
package uploadfault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/screenrec/recorder/engine/api"
)

// Job is one segment's upload job: the request, and what the engine would keep of it.
type Job struct {
	Req api.UploadRequest

	mu        sync.Mutex
	resume    api.Resume
	locations map[string]bool // every location a progress named
	attempts  int
	errs      []error
	result    api.UploadResult
	done      bool
}

// progress keeps a Progress as the engine does: location and offset, State when not empty.
func (j *Job) progress(p api.Progress) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.resume.Location, j.resume.Offset = p.Location, p.Offset
	if j.locations == nil {
		j.locations = map[string]bool{}
	}
	j.locations[p.Location] = true
	if p.State != "" {
		j.resume.State = p.State
	}
}

// Done reports whether the uploader confirmed the job, and with what.
func (j *Job) Done() (api.UploadResult, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.result, j.done
}

// Attempts is how many times the job was tried, and the errors of the failed tries.
func (j *Job) Attempts() (int, []error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.attempts, append([]error(nil), j.errs...)
}

// Knows reports whether a progress of the job named location.
func (j *Job) Knows(location string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.locations[location]
}

// Resume is the job's Resume as the engine would hand it to the next attempt.
func (j *Job) Resume() api.Resume {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.resume
}

// Segments writes n segment files of random sizes in [minSize, maxSize] into dir, with
// seeded random content, and returns a job for each (recording "rec-<i>", segment 1, sha256
// and the metadata the RWS protocol asks for).
func Segments(dir string, n int, minSize, maxSize int64, seed uint64) ([]*Job, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	jobs := make([]*Job, 0, n)
	for i := range n {
		size := minSize + r.Int64N(maxSize-minSize+1)
		b := make([]byte, size)
		for k := range b {
			b[k] = byte(r.Uint32())
		}
		path := filepath.Join(dir, fmt.Sprintf("rec-%03d-001.mp4", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		hexSum := hex.EncodeToString(sum[:])
		id := fmt.Sprintf("rec-%03d", i)
		jobs = append(jobs, &Job{Req: api.UploadRequest{
			JobID: int64(i + 1), RecordingID: id, SegmentIndex: 1, SegmentPath: path, Size: size, SHA256: hexSum,
			Metadata: map[string]string{"recordingId": id, "segment": "1", "final": "true", "sha256": hexSum},
		}})
	}
	return jobs, nil
}

// Config tunes Run.
type Config struct {
	// Concurrency is how many jobs run at once (default 3).
	Concurrency int
	// Retry is the pause after a failed attempt (default 50 ms).
	Retry time.Duration
	// MaxAttempts bounds each job's attempts (default 200): a job still failing then is
	// reported, not retried for ever.
	MaxAttempts int
	// AttemptTimeout bounds each attempt (default 30 s).
	AttemptTimeout time.Duration
}

// Report is what a run did.
type Report struct {
	// Attempts counts every Upload call, Failures those that returned an error.
	Attempts, Failures int
	// Kinds counts the failures by kind.
	Kinds map[api.FailureKind]int
	// Elapsed is the run's wall time.
	Elapsed time.Duration
}

// ErrUnfinished: a job used up its attempts, or a permanent failure ended it.
var ErrUnfinished = errors.New("uploadfault: job not uploaded")

// Run uploads every job with up until each is confirmed, a permanent failure ends it, its
// attempts run out, or ctx ends. The error names the jobs that did not finish.
func Run(ctx context.Context, up api.Uploader, jobs []*Job, cfg Config) (Report, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 3
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 50 * time.Millisecond
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 200
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 30 * time.Second
	}
	start := time.Now()
	rep := Report{Kinds: map[api.FailureKind]int{}}
	var mu sync.Mutex
	var errs []error
	queue := make(chan *Job)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				if err := runJob(ctx, up, j, cfg, &mu, &rep); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	rep.Elapsed = time.Since(start)
	return rep, errors.Join(errs...)
}

func runJob(ctx context.Context, up api.Uploader, j *Job, cfg Config, mu *sync.Mutex, rep *Report) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrUnfinished, j.Req.SegmentPath, err)
		}
		req := j.Req
		req.Resume = j.Resume()
		actx, cancel := context.WithTimeout(ctx, cfg.AttemptTimeout)
		res, err := up.Upload(actx, req, j.progress)
		cancel()
		j.mu.Lock()
		j.attempts++
		attempts := j.attempts
		if err == nil {
			j.result, j.done = res, true
		} else {
			j.errs = append(j.errs, err)
		}
		j.mu.Unlock()
		mu.Lock()
		rep.Attempts++
		if err != nil {
			rep.Failures++
			rep.Kinds[api.ClassifyFailure(err)]++
		}
		mu.Unlock()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, api.ErrPermanent):
			return fmt.Errorf("%w: %s: permanent: %w", ErrUnfinished, j.Req.SegmentPath, err)
		case attempts >= cfg.MaxAttempts:
			return fmt.Errorf("%w: %s: %d attempts, the last: %w", ErrUnfinished, j.Req.SegmentPath, attempts, err)
		}
		select {
		case <-time.After(cfg.Retry):
		case <-ctx.Done():
		}
	}
}

// Chaos calls fire with a seeded random source every min..max (uniformly), until ctx ends;
// it returns when the last call returned.
func Chaos(ctx context.Context, seed uint64, minEvery, maxEvery time.Duration, fire func(r *rand.Rand)) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	for {
		d := minEvery + time.Duration(r.Int64N(int64(maxEvery-minEvery)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		fire(r)
	}
}
