package engine

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/catalog"
)

// Segments are numbered from 1 everywhere: the session, its events, its upload jobs, the
// upload request and its protocol metadata, and the upload log.
func TestSegmentsAreNumberedFromOneEverywhere(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	e := newEngine(t, Config{SegmentDuration: time.Second}, WithCaptureBackend(twoMonitors()),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ev := watchEvents(t, e)
	s := start(t, e, StartRequest{Owner: "agent", Frontend: "oem"})
	eventually(t, 20*time.Second, "a second segment", func() bool {
		got, _ := e.Get(t.Context(), s.ID)
		return len(got.Segments) >= 2
	})
	got := stop(t, e, s.ID)
	var want []int
	for i, sg := range got.Segments {
		if sg.Index != i+1 {
			t.Errorf("session segment %d has index %d", i, sg.Index)
		}
		want = append(want, i+1)
	}
	eventually(t, 5*time.Second, "segment events", func() bool { return ev.count(EventSegmentClosed) == len(want) })
	var events []int
	ev.mu.Lock()
	for _, x := range ev.events {
		if x.Kind == EventSegmentClosed {
			events = append(events, x.Segment.Index)
		}
	}
	ev.mu.Unlock()
	slices.Sort(events)
	if !slices.Equal(events, want) {
		t.Errorf("segment events' indexes = %v, want %v", events, want)
	}

	up := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){succeed}}
	runUploadsUntil(t, e, up, UploadConfig{Keep: true}, allIn(catalog.UploadUploaded))
	var reqs, metas []int
	for _, r := range up.requests() {
		reqs = append(reqs, r.SegmentIndex)
		n, err := strconv.Atoi(r.Metadata["segment"])
		if err != nil {
			t.Fatalf("segment metadata %q: %v", r.Metadata["segment"], err)
		}
		metas = append(metas, n)
		if !strings.Contains(logs.String(), `msg="segment uploaded" recording=`+s.ID+" segment="+strconv.Itoa(r.SegmentIndex)+" ") {
			t.Errorf("no upload log line with segment=%d:\n%s", r.SegmentIndex, logs.String())
		}
	}
	slices.Sort(reqs)
	slices.Sort(metas)
	if !slices.Equal(reqs, want) || !slices.Equal(metas, want) {
		t.Errorf("upload requests' indexes = %v, metadata's = %v; want %v", reqs, metas, want)
	}
	jobs, err := e.Uploads(t.Context(), UploadFilter{RecordingID: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	var jobIdx []int
	for _, j := range jobs {
		jobIdx = append(jobIdx, j.SegmentIndex)
	}
	slices.Sort(jobIdx)
	if !slices.Equal(jobIdx, want) {
		t.Errorf("upload jobs' indexes = %v, want %v", jobIdx, want)
	}
}
