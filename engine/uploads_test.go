package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/catalog"
)

// scriptedUploader answers each Upload call with the next step of a script.
type scriptedUploader struct {
	mu    sync.Mutex
	calls []api.UploadRequest
	steps []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error)
}

func (u *scriptedUploader) Upload(ctx context.Context, req api.UploadRequest, progress func(api.Progress)) (api.UploadResult, error) {
	u.mu.Lock()
	u.calls = append(u.calls, req)
	step := u.steps[min(len(u.calls), len(u.steps))-1]
	u.mu.Unlock()
	return step(req, progress)
}

func (u *scriptedUploader) requests() []api.UploadRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]api.UploadRequest(nil), u.calls...)
}

func succeed(req api.UploadRequest, progress func(api.Progress)) (api.UploadResult, error) {
	progress(api.Progress{Location: "mem://" + req.RecordingID, Offset: req.Size, Size: req.Size})
	return api.UploadResult{Location: "mem://" + req.RecordingID, Bytes: req.Size}, nil
}

// recorded makes a short completed recording and returns it.
func recorded(t *testing.T, e *Engine, display string) Session {
	t.Helper()
	s := start(t, e, StartRequest{Owner: "agent9", Frontend: "srs", Labels: map[string]string{"place": "P_7"}, Source: Source{Display: display}})
	time.Sleep(700 * time.Millisecond)
	return stop(t, e, s.ID)
}

func runUploadsUntil(t *testing.T, e *Engine, up api.Uploader, cfg UploadConfig, done func([]catalog.UploadJob) bool) []catalog.UploadJob {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- e.RunUploads(ctx, up, cfg) }()
	defer func() { cancel(); <-stopped }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		jobs, _ := e.cat.UploadJobs(context.Background(), catalog.UploadFilter{})
		if done(jobs) {
			return jobs
		}
		time.Sleep(20 * time.Millisecond)
	}
	jobs, _ := e.cat.UploadJobs(context.Background(), catalog.UploadFilter{})
	t.Fatalf("upload jobs never got there: %+v", jobs)
	return nil
}

func allIn(state catalog.UploadState) func([]catalog.UploadJob) bool {
	return func(jobs []catalog.UploadJob) bool {
		for _, j := range jobs {
			if j.State != state {
				return false
			}
		}
		return len(jobs) > 0
	}
}

func TestUploadsCarryTheProtocolMetadataAndFreeTheSpool(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	s := recorded(t, e, srv.Display)
	up := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){succeed}}
	runUploadsUntil(t, e, up, UploadConfig{}, allIn(catalog.UploadUploaded))
	req := up.requests()[0]
	for _, k := range []string{"filename", "filetype", "recordingId", "segment", "final", "agent", "userId", "contactId",
		"interactionId", "place", "startTime", "stopTime", "durationMs", "monitors", "width", "height", "codec",
		"encoder", "sha256", "masked"} {
		if _, ok := req.Metadata[k]; !ok {
			t.Errorf("metadata lacks %q: %v", k, req.Metadata)
		}
	}
	if req.Metadata["segment"] != "1" || req.SegmentIndex != 1 || req.Metadata["final"] != "true" || req.Metadata["place"] != "P_7" ||
		req.Metadata["contactId"] != fmt.Sprint(s.ContactID) || req.Metadata["monitors"] != "2" ||
		req.Metadata["width"] != "2560" || req.Metadata["codec"] != "h264" || req.SHA256 != s.Segments[0].SHA256 ||
		req.Size != s.Segments[0].Bytes {
		t.Errorf("request = %+v", req)
	}
	if _, err := os.Stat(s.Segments[0].Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the uploaded file is still in the spool: %v", err)
	}
}

// A retryable failure after progress: the retry resumes from what the server confirmed; a
// permanent failure fails the job with the server's message; Keep keeps files.
func TestUploadRetriesResumeAndPermanentFailures(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	s := recorded(t, e, srv.Display)
	flaky := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){
		func(req api.UploadRequest, progress func(api.Progress)) (api.UploadResult, error) {
			progress(api.Progress{Location: "mem://x", Offset: 1000, Size: req.Size})
			return api.UploadResult{}, errors.New("connection reset")
		},
		succeed,
	}}
	jobs := runUploadsUntil(t, e, flaky, UploadConfig{BaseDelay: 50 * time.Millisecond, Keep: true}, allIn(catalog.UploadUploaded))
	reqs := flaky.requests()
	if len(reqs) != 2 || reqs[1].Resume != (api.Resume{Location: "mem://x", Offset: 1000}) || jobs[0].Attempts != 2 {
		t.Errorf("retry: %d calls, resume %+v, attempts %d", len(reqs), reqs[len(reqs)-1].Resume, jobs[0].Attempts)
	}
	if _, err := os.Stat(s.Segments[0].Path); err != nil {
		t.Errorf("Keep: the file is gone: %v", err)
	}

	e2 := newEngine(t, Config{})
	recorded(t, e2, srv.Display)
	bad := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){
		func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error) {
			return api.UploadResult{}, fmt.Errorf("rws: 401 Unauthorized: bad service account: %w", api.ErrPermanent)
		},
	}}
	jobs = runUploadsUntil(t, e2, bad, UploadConfig{BaseDelay: 50 * time.Millisecond}, allIn(catalog.UploadFailed))
	if len(bad.requests()) != 1 || jobs[0].LastError == "" || jobs[0].Attempts != 1 {
		t.Errorf("permanent failure: %d calls, job %+v", len(bad.requests()), jobs[0])
	}
}

// A shutdown mid-upload puts the job back in the queue, not in failed.
func TestUploadInterruptedByShutdownIsQueued(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	recorded(t, e, srv.Display)
	started := make(chan struct{})
	slow := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){
		func(req api.UploadRequest, progress func(api.Progress)) (api.UploadResult, error) {
			progress(api.Progress{Location: "mem://y", Offset: 10, Size: req.Size})
			close(started)
			time.Sleep(200 * time.Millisecond)
			return api.UploadResult{}, context.Canceled
		},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.RunUploads(ctx, slow, UploadConfig{}) }()
	<-started
	cancel()
	<-done
	jobs, _ := e.cat.UploadJobs(context.Background(), catalog.UploadFilter{})
	if len(jobs) != 1 || jobs[0].State != catalog.UploadQueued || jobs[0].RemoteLocation != "mem://y" {
		t.Errorf("after shutdown: %+v", jobs)
	}
}

// Uploads shows the queue as the catalog holds it, with filters; Ping answers until Close.
func TestUploadsListsTheQueueAndPingAnswersUntilClose(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	ctx := context.Background()
	if err := e.Ping(ctx); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	s := recorded(t, e, srv.Display)
	jobs, err := e.Uploads(ctx, UploadFilter{})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Uploads = %+v, %v; want one job", jobs, err)
	}
	j := jobs[0]
	seg := s.Segments[0]
	if j.RecordingID != s.ID || j.SegmentIndex != seg.Index || j.SegmentPath != seg.Path || j.Bytes != seg.Bytes ||
		j.State != UploadQueued || j.Target != DefaultUploadTarget || j.NextTryAt.IsZero() || j.Offset != 0 {
		t.Errorf("job = %+v, want queued for %+v", j, seg)
	}
	runUploadsUntil(t, e, &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){succeed}},
		UploadConfig{Keep: true}, allIn(catalog.UploadUploaded))
	jobs, _ = e.Uploads(ctx, UploadFilter{RecordingID: s.ID, States: []UploadState{UploadUploaded}})
	if len(jobs) != 1 || jobs[0].Offset != seg.Bytes || jobs[0].Attempts != 1 || !jobs[0].NextTryAt.IsZero() || jobs[0].Location == "" {
		t.Errorf("uploaded job = %+v", jobs)
	}
	for _, f := range []UploadFilter{{States: []UploadState{UploadQueued, UploadFailed}}, {RecordingID: "rec-other"}} {
		if jobs, err := e.Uploads(ctx, f); err != nil || len(jobs) != 0 {
			t.Errorf("Uploads(%+v) = %+v, %v; want none", f, jobs, err)
		}
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after Close = %v, want ErrClosed", err)
	}
}
