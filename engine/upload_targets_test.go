package engine

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/internal/nettest"
	"github.com/screenrec/recorder/internal/waittest"
)

// refusedErr dials a loopback port nothing listens on and returns what the dial said.
func refusedErr(t *testing.T) error {
	t.Helper()
	addr := nettest.ClosedAddr(t)
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s: something listens", addr)
	}
	return err
}

// Two targets: a job each per segment, each delivered once; the local file goes only when
// the second target confirmed it; the resume state an attempt reported comes back to the next
// one, and a refused connection is recorded as refused.
func TestUploadTargetsEachOnceFileGoesLast(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{UploadTargets: []string{"vendor", "archive"}})
	s := recorded(t, e, srv.Display)
	refused := refusedErr(t)
	release := make(chan struct{})
	vendor := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){succeed}}
	archive := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){
		func(req api.UploadRequest, progress func(api.Progress)) (api.UploadResult, error) {
			progress(api.Progress{Location: "s3://b/k", Offset: 0, Size: req.Size, State: `{"upload_id":"u1"}`})
			return api.UploadResult{}, refused
		},
		func(req api.UploadRequest, progress func(api.Progress)) (api.UploadResult, error) {
			<-release
			return succeed(req, progress)
		},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() {
		stopped <- e.RunUploadTargets(ctx, map[string]api.Uploader{"vendor": vendor, "archive": archive},
			UploadConfig{BaseDelay: 20 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
	}()
	defer func() { cancel(); <-stopped }()

	jobsOf := func() map[string]catalog.UploadJob {
		jobs, err := e.cat.UploadJobs(context.Background(), catalog.UploadFilter{RecordingID: s.ID})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]catalog.UploadJob{}
		for _, j := range jobs {
			out[j.Target] = j
		}
		return out
	}
	waitSeen(t, "vendor uploaded, archive retried with a failure kind", func() (bool, any) {
		j := jobsOf()
		return j["vendor"].State == catalog.UploadUploaded && len(archive.requests()) >= 2, j
	})
	j := jobsOf()
	if len(j) != 2 || j["archive"].LastErrorKind != string(api.FailureRefused) {
		t.Errorf("jobs after the refused attempt: %+v", j)
	}
	if got := archive.requests()[1].Resume.State; got != `{"upload_id":"u1"}` {
		t.Errorf("second attempt's resume state = %q", got)
	}
	if _, err := os.Stat(s.Segments[0].Path); err != nil {
		t.Errorf("the file went before every target confirmed it: %v", err)
	}
	close(release)
	waitSeen(t, "both uploaded and the file removed", func() (bool, any) {
		j := jobsOf()
		_, err := os.Stat(s.Segments[0].Path)
		return j["archive"].State == catalog.UploadUploaded && errors.Is(err, os.ErrNotExist), []any{j, err}
	})
	if n := len(vendor.requests()); n != len(s.Segments) {
		t.Errorf("vendor got %d requests for %d segments", n, len(s.Segments))
	}
	for _, r := range append(vendor.requests(), archive.requests()...) {
		if r.Target != "vendor" && r.Target != "archive" {
			t.Errorf("request for target %q", r.Target)
		}
	}
}

// waitSeen polls cond until it holds or testDeadline passes (waittest.Until).
func waitSeen(t *testing.T, what string, cond func() (bool, any)) {
	t.Helper()
	waittest.Until(t, what, testDeadline, cond)
}

// testDeadline bounds waiting for a condition: generous, for a loaded 2-core machine.
const testDeadline = 60 * time.Second
