package rws

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/internal/rwsserver"
	"github.com/screenrec/recorder/plugins/sdk"
)

// The primary stores the last chunk but its answer comes after the client's timeout: the
// upload ends there, complete once, and the peer never sees an upload (no failover for a
// chunk the primary kept).
func TestLostAnswerOnLastChunk(t *testing.T) {
	t.Parallel()
	primary := startServer(t, "")
	peer := startServer(t, "")
	const size = 4 * chunk
	path, _, sum := segment(t, size)
	req := request(path, size, sum)
	u := configured(t, configJSON(primary.url, peer.url, map[string]any{"timeout": "1s"}))
	var j job
	j.hook = func(p sdk.Progress) {
		if strings.HasPrefix(p.Location, primary.url) && p.Offset == size-chunk {
			primary.setFaults(rwsserver.Faults{LoseNextAnswers: 1})
		}
	}
	res, err := j.attempt(t, u, req)
	if err != nil {
		t.Fatalf("Upload whose last answer was lost = %v, want nil: the primary holds it, verified", err)
	}
	checkStored(t, primary, req, res.Location)
	if st := primary.stats(); st.LostAnswers != 1 || st.ChunkBytes != size {
		t.Errorf("primary stats = %+v, want 1 lost answer and every byte sent once", st)
	}
	if ups := peer.uploads(); len(ups) != 0 {
		t.Errorf("the peer holds %+v: a second upload of a segment the primary had", ups)
	}
}

// A lost answer on the last chunk of a server that then goes away: the next attempt, on the
// server that is back, asks first (HEAD) and finds the upload complete — one upload there.
func TestLostAnswerThenNextAttemptAsks(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	const size = 4 * chunk
	path, _, sum := segment(t, size)
	req := request(path, size, sum)
	u := configured(t, configJSON(s.url, "", map[string]any{"timeout": "1s"}))
	var j job
	j.hook = func(p sdk.Progress) {
		if p.Offset == size-chunk {
			s.setFaults(rwsserver.Faults{LoseNextAnswers: 1, DelayMS: 3000}) // the HEAD after it times out too
		}
	}
	if _, err := j.attempt(t, u, req); err == nil || api.ClassifyFailure(err) != api.FailureTimeout {
		t.Fatalf("first attempt = %v (kind %q), want a timeout", err, api.ClassifyFailure(err))
	}
	s.setFaults(rwsserver.Faults{})
	j.hook = nil
	res, err := j.attempt(t, u, req)
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, s, req, res.Location)
	if st := s.stats(); st.ChunkBytes != size {
		t.Errorf("the server received %d bytes for %d", st.ChunkBytes, size)
	}
}

// A file refused as a whole (460 on the last chunk) is never reported uploaded; the next
// attempt terminates the refused upload and starts over. Both with a server that follows the
// protocol (410 on the refused upload) and one that hides the refusal afterwards (HEAD says
// the whole length is there).
func TestWholeFileRefusalStartsOver(t *testing.T) {
	t.Parallel()
	for _, hide := range []bool{true, false} {
		s := startServer(t, "")
		const size = 3 * chunk
		path, _, sum := segment(t, size)
		req := request(path, size, sum)
		u := configured(t, configJSON(s.url, "", nil))
		s.setFaults(rwsserver.Faults{RefuseNextFiles: 1, HideRejections: hide})
		var j job
		_, err := j.attempt(t, u, req)
		if err == nil || errors.Is(err, sdk.ErrPermanent) || api.ClassifyFailure(err) != api.FailureChecksum {
			t.Fatalf("hide=%v: Upload of a refused file = %v (kind %q), want a retryable checksum failure", hide, err, api.ClassifyFailure(err))
		}
		if st := j.state(t); len(st.Servers) != 1 || !st.Servers[s.url].Refused {
			t.Errorf("hide=%v: state %+v, want the upload marked refused", hide, st)
		}
		if ups := s.uploads(); len(ups) != 1 || ups[0].Complete || !ups[0].Rejected {
			t.Errorf("hide=%v: server holds %+v, want one refused upload", hide, ups)
		}
		res, err := j.attempt(t, u, req)
		if err != nil {
			t.Fatalf("hide=%v: next attempt = %v", hide, err)
		}
		checkStored(t, s, req, res.Location) // exactly one: the refused one was terminated
		if st := s.stats(); st.Terminated != 1 {
			t.Errorf("hide=%v: %d terminations, want 1", hide, st.Terminated)
		}
	}
}

// Failover, then return: the primary dies mid-upload, the job goes to the peer, which dies
// too; the next attempt resumes one of the two uploads by HEAD — not a new one — and
// terminates the other. No partial upload is left anywhere.
func TestFailoverThenReturn(t *testing.T) {
	t.Parallel()
	primary := startServer(t, "")
	peer := startServer(t, "")
	const size = 10 * chunk
	path, _, sum := segment(t, size)
	req := request(path, size, sum)
	u := configured(t, configJSON(primary.url, peer.url, map[string]any{"cooldown": "1m"}))
	now := time.Now()
	u.now = func() time.Time { return now }
	var j job
	j.hook = func(p sdk.Progress) {
		switch {
		case strings.HasPrefix(p.Location, primary.url) && p.Offset >= 4*chunk:
			primary.kill()
		case strings.HasPrefix(p.Location, peer.url) && p.Offset >= 2*chunk:
			peer.kill()
		}
	}
	if _, err := j.attempt(t, u, req); err == nil {
		t.Fatal("Upload with both servers killed succeeded")
	}
	st := j.state(t)
	if len(st.Servers) != 2 {
		t.Fatalf("state %+v, want an upload on each server", st)
	}
	confirmed := map[string]int64{} // per server, the last confirmed offset
	for _, p := range j.calls {
		for _, srv := range []*server{primary, peer} {
			if strings.HasPrefix(p.Location, srv.url) {
				confirmed[srv.url] = p.Offset
			}
		}
	}

	primary.restart()
	peer.restart()
	j.hook = nil
	now = now.Add(2 * time.Minute)
	res, err := j.attempt(t, u, req)
	if err != nil {
		t.Fatal(err)
	}
	// It finishes one of the two uploads (the one it last worked on), never a third.
	done, other := primary, peer
	if strings.HasPrefix(res.Location, peer.url) {
		done, other = peer, primary
	}
	if want := st.Servers[done.url].Location; res.Location != want {
		t.Errorf("finished at %s, want the job's upload there, %s", res.Location, want)
	}
	checkStored(t, done, req, res.Location)
	if resent := done.stats().ChunkBytes - (size - confirmed[done.url]); resent < 0 || resent > chunk {
		t.Errorf("%s got %d bytes after the restart, want %d (+ at most a chunk)", done.url, done.stats().ChunkBytes, size-confirmed[done.url])
	}
	if ups := other.uploads(); len(ups) != 0 {
		t.Errorf("%s still holds %+v: the partial upload was not terminated", other.url, ups)
	}
	if st := j.state(t); len(st.Servers) != 1 || st.Servers[done.url] == nil {
		t.Errorf("final state %+v, want %s's upload only", st, done.url)
	}
	t.Logf("confirmed before the restart %v; finished on %s", confirmed, done.url)
}

// A refused connection is reported as refused (not as a timeout), a slow server as a timeout.
func TestFailureKindsReported(t *testing.T) {
	t.Parallel()
	down := "http://" + freeAddr(t)
	path, _, sum := segment(t, chunk)
	req := request(path, chunk, sum)
	u := configured(t, configJSON(down, "", map[string]any{"timeout": "3s"}))
	t0 := time.Now()
	_, err := u.Upload(uploadCtx(t), req, nil)
	if k := api.ClassifyFailure(err); k != api.FailureRefused || strings.Contains(err.Error(), "timed out") {
		t.Errorf("Upload to a server that is down = %v (kind %q), want refused", err, k)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("a refused connection took %v", d)
	}
	s := startServer(t, "")
	s.setFaults(rwsserver.Faults{DelayMS: 2000})
	slow := configured(t, configJSON(s.url, "", map[string]any{"timeout": "200ms"}))
	_, err = slow.Upload(uploadCtx(t), req, nil)
	if k := api.ClassifyFailure(err); k != api.FailureTimeout {
		t.Errorf("Upload to a slow server = %v (kind %q), want timeout", err, k)
	}
}
