package rws

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/internal/rwsserver"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

const chunk = 64 << 10

// checkStored wants exactly one upload on s, complete, byte-identical to the segment (by
// sha256), with every metadata key of the request.
func checkStored(t *testing.T, s *server, req sdk.UploadRequest, loc string) {
	t.Helper()
	ups := s.uploads()
	if len(ups) != 1 {
		t.Fatalf("%s holds %d uploads, want 1: %+v", s.url, len(ups), ups)
	}
	up := ups[0]
	if !up.Complete || up.Size != req.Size || up.SHA256 != req.SHA256 {
		t.Errorf("stored upload = %+v, want complete, %d bytes, sha256 %s", up, req.Size, req.SHA256)
	}
	if !strings.HasSuffix(loc, "/"+up.ID) {
		t.Errorf("location %s is not upload %s", loc, up.ID)
	}
	for _, k := range MetadataKeys {
		v, ok := up.Metadata[k]
		if !ok {
			t.Errorf("metadata key %s missing", k)
		} else if want := req.Metadata[k]; want != "" && v != want {
			t.Errorf("metadata %s = %q, want %q", k, v, want)
		}
	}
	if up.Metadata["sha256"] != req.SHA256 {
		t.Errorf("metadata sha256 = %q, want %q", up.Metadata["sha256"], req.SHA256)
	}
	for _, k := range []string{MetaServer, MetaPeerServer} {
		if _, ok := up.Metadata[k]; ok {
			t.Errorf("routing key %s was sent as metadata", k)
		}
	}
}

// checkProgress wants offsets that never go back within a location and end at size.
func checkProgress(t *testing.T, calls []sdk.Progress, size int64) {
	t.Helper()
	if len(calls) == 0 {
		t.Fatal("no progress")
	}
	for i, p := range calls {
		if p.Size != size || p.Offset < 0 || p.Offset > size || p.Location == "" {
			t.Errorf("progress %d = %+v", i, p)
		}
		if i > 0 && p.Location == calls[i-1].Location && p.Offset < calls[i-1].Offset {
			t.Errorf("progress went back: %+v after %+v", p, calls[i-1])
		}
	}
	if last := calls[len(calls)-1]; last.Offset != size {
		t.Errorf("last progress %+v, want offset %d", last, size)
	}
}

func TestUploadHappyPath(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	path, _, sum := segment(t, 5*chunk+1234)
	req := request(path, 5*chunk+1234, sum)
	u := configured(t, configJSON(s.url, "", nil))
	var p progressLog
	res, err := u.Upload(uploadCtx(t), req, p.record)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != req.Size || !strings.HasPrefix(res.Location, s.url+UploadPath) {
		t.Errorf("result = %+v", res)
	}
	checkStored(t, s, req, res.Location)
	calls := p.all()
	checkProgress(t, calls, req.Size)
	if calls[0].Offset != 0 || calls[0].Location != res.Location || len(calls) != 7 {
		t.Errorf("progress = %+v, want the creation at 0 then one call per chunk (6)", calls)
	}
	if st := s.stats(); st.ChunkBytes != req.Size {
		t.Errorf("the server received %d bytes, want %d", st.ChunkBytes, req.Size)
	}
}

func TestUploadDefaultsMetadata(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	path, _, sum := segment(t, 1000)
	req := sdk.UploadRequest{RecordingID: "rec-9", SegmentIndex: 3, SegmentPath: path, Size: 1000} // no SHA256, no metadata
	u := configured(t, configJSON(s.url, "", nil))
	if _, err := u.Upload(uploadCtx(t), req, nil); err != nil {
		t.Fatal(err)
	}
	up := s.uploads()[0]
	want := map[string]string{"filename": filepath.Base(path), "filetype": "video/mp4", "recordingId": "rec-9", "segment": "3", "sha256": sum}
	for k, v := range want {
		if up.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, up.Metadata[k], v)
		}
	}
	for _, k := range MetadataKeys {
		if _, ok := up.Metadata[k]; !ok {
			t.Errorf("metadata key %s missing", k)
		}
	}
	if !up.Complete || up.SHA256 != sum {
		t.Errorf("upload = %+v", up)
	}
}

func TestServerDownAtStart(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	path, _, sum := segment(t, 3*chunk)
	req := request(path, 3*chunk, sum)
	u := configured(t, configJSON("http://"+addr, "", nil))
	_, err := u.Upload(uploadCtx(t), req, nil)
	if err == nil || errors.Is(err, sdk.ErrPermanent) || errors.Is(err, context.Canceled) {
		t.Fatalf("Upload to a server that is down = %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), "rws: http://"+addr) {
		t.Errorf("error %q does not name the server", err)
	}
	s := startServer(t, addr)
	res, err := u.Upload(uploadCtx(t), req, nil)
	if err != nil {
		t.Fatalf("Upload once the server is up = %v", err)
	}
	checkStored(t, s, req, res.Location)
}

func TestKilledMidUploadThenResume(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	const size = 16 * chunk
	path, _, sum := segment(t, size)
	req := request(path, size, sum)
	u := configured(t, configJSON(s.url, "", nil))

	var p progressLog
	p.hook = func(pr sdk.Progress) {
		if pr.Offset >= 5*chunk {
			s.kill() // SIGKILL once 5 chunks are confirmed
		}
	}
	_, err := u.Upload(uploadCtx(t), req, p.record)
	if err == nil || errors.Is(err, sdk.ErrPermanent) {
		t.Fatalf("Upload to a server killed mid-way = %v, want a retryable error", err)
	}
	last := p.last()
	if last.Offset != 5*chunk || !strings.HasPrefix(last.Location, s.url+UploadPath) {
		t.Fatalf("last progress = %+v, want 5 chunks confirmed", last)
	}

	s.restart()
	p2 := progressLog{}
	req.Resume = sdk.Resume{Location: last.Location, Offset: last.Offset}
	res, err := u.Upload(uploadCtx(t), req, p2.record)
	if err != nil {
		t.Fatalf("resumed Upload = %v", err)
	}
	if res.Location != last.Location {
		t.Errorf("resumed at %s, want %s", res.Location, last.Location)
	}
	calls := p2.all()
	checkProgress(t, calls, size)
	if calls[0] != (sdk.Progress{Location: last.Location, Offset: last.Offset, Size: size}) {
		t.Errorf("first progress of the resume = %+v, want the resume offset %d", calls[0], last.Offset)
	}
	st := s.stats() // the restarted process counts what the resume sent
	resent := st.ChunkBytes - (size - last.Offset)
	if resent < 0 || resent >= 2*chunk {
		t.Errorf("the resume sent %d bytes for %d missing: %d re-sent, want < 2 chunks", st.ChunkBytes, size-last.Offset, resent)
	}
	t.Logf("resumed at %d of %d; the restarted server received %d bytes (%d re-sent)", last.Offset, size, st.ChunkBytes, resent)
	checkStored(t, s, req, res.Location) // one upload, no duplicate
}

func TestFailoverOn503(t *testing.T) {
	t.Parallel()
	primary := startServer(t, "")
	peer := startServer(t, "")
	path, _, sum := segment(t, 3*chunk+7)
	req := request(path, 3*chunk+7, sum)
	u := configured(t, configJSON(primary.url, peer.url, map[string]any{"cooldown": "1m"}))
	now := time.Now()
	u.now = func() time.Time { return now }

	primary.setFaults(rwsserver.Faults{Status: http.StatusServiceUnavailable})
	var p progressLog
	res, err := u.Upload(uploadCtx(t), req, p.record)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Location, peer.url) {
		t.Fatalf("uploaded to %s, want the peer %s", res.Location, peer.url)
	}
	checkStored(t, peer, req, res.Location)
	if ups := primary.uploads(); len(ups) != 0 {
		t.Errorf("the primary holds %+v", ups)
	}

	// Within the cool-down the peer is tried first: the primary sees no request.
	before := primary.stats().Requests
	res, err = u.Upload(uploadCtx(t), req, nil)
	if err != nil || !strings.HasPrefix(res.Location, peer.url) {
		t.Fatalf("second Upload = %+v, %v; want the peer", res, err)
	}
	if n := primary.stats().Requests - before; n != 0 {
		t.Errorf("the primary got %d requests within the cool-down", n)
	}

	// After it, the primary again.
	primary.setFaults(rwsserver.Faults{})
	now = now.Add(61 * time.Second)
	res, err = u.Upload(uploadCtx(t), req, nil)
	if err != nil || !strings.HasPrefix(res.Location, primary.url) {
		t.Fatalf("Upload after the cool-down = %+v, %v; want the primary", res, err)
	}
	checkStored(t, primary, req, res.Location)
}

func TestFailoverPrimaryDown(t *testing.T) {
	t.Parallel()
	down := "http://" + freeAddr(t)
	peer := startServer(t, "")
	path, _, sum := segment(t, 2*chunk)
	req := request(path, 2*chunk, sum)
	u := configured(t, configJSON(down, peer.url, nil))
	res, err := u.Upload(uploadCtx(t), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, peer, req, res.Location)

	// Both down: a retryable error naming both.
	peer.kill()
	_, err = u.Upload(uploadCtx(t), req, nil)
	if err == nil || errors.Is(err, sdk.ErrPermanent) || !strings.Contains(err.Error(), down) || !strings.Contains(err.Error(), peer.url) {
		t.Errorf("Upload with both servers down = %v, want a retryable error naming both", err)
	}
}

func TestFailoverMidUpload(t *testing.T) {
	t.Parallel()
	primary := startServer(t, "")
	peer := startServer(t, "")
	const size = 8 * chunk
	path, _, sum := segment(t, size)
	req := request(path, size, sum)
	u := configured(t, configJSON(primary.url, peer.url, nil))
	var p progressLog
	p.hook = func(pr sdk.Progress) {
		if strings.HasPrefix(pr.Location, primary.url) && pr.Offset >= 3*chunk {
			primary.kill()
		}
	}
	res, err := u.Upload(uploadCtx(t), req, p.record)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Location, peer.url) {
		t.Fatalf("finished at %s, want the peer", res.Location)
	}
	checkStored(t, peer, req, res.Location)
	// The peer's upload is a new one: its progress starts at 0.
	for _, c := range p.all() {
		if strings.HasPrefix(c.Location, peer.url) {
			if c.Offset != 0 {
				t.Errorf("first progress on the peer = %+v, want offset 0", c)
			}
			break
		}
	}
}

func TestChecksumMismatchRetried(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	path, _, sum := segment(t, 4*chunk)
	req := request(path, 4*chunk, sum)
	u := configured(t, configJSON(s.url, "", nil))
	s.setFaults(rwsserver.Faults{CorruptNextChunks: 1})
	res, err := u.Upload(uploadCtx(t), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, s, req, res.Location)
	if st := s.stats(); st.ChecksumMismatches != 1 || st.ChunkRequests != 5 {
		t.Errorf("stats = %+v, want 1 mismatch and 5 chunks sent (one twice)", st)
	}
}

func TestWrongPasswordIsPermanent(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	path, _, sum := segment(t, 1000)
	u := configured(t, configJSON(s.url, "", map[string]any{"password": "wrong"}))
	_, err := u.Upload(uploadCtx(t), request(path, 1000, sum), nil)
	if !errors.Is(err, sdk.ErrPermanent) {
		t.Fatalf("Upload with a wrong password = %v, want sdk.ErrPermanent", err)
	}
	if want := "rws: " + s.url + ": 401 Unauthorized: invalid or missing credentials"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestAgentCredentials(t *testing.T) {
	t.Parallel()
	s := startServer(t, "", agentUser+":"+agentPass) // the service account is unknown here
	path, _, sum := segment(t, 2*chunk)
	req := request(path, 2*chunk, sum)
	u := configured(t, configJSON(s.url, "", nil))
	if _, err := u.Upload(uploadCtx(t), req, nil); !errors.Is(err, sdk.ErrPermanent) {
		t.Fatalf("Upload with the service account = %v, want a permanent 401", err)
	}
	req.Credentials = &sdk.Credentials{Username: agentUser, Password: agentPass}
	res, err := u.Upload(uploadCtx(t), req, nil)
	if err != nil {
		t.Fatalf("Upload with the agent's credentials = %v", err)
	}
	checkStored(t, s, req, res.Location)

	// No credentials at all: permanent, without a request.
	bare := configured(t, []byte(`{"server":"`+s.url+`"}`))
	req.Credentials = nil
	if _, err := bare.Upload(uploadCtx(t), req, nil); !errors.Is(err, ErrNoCredentials) || !errors.Is(err, sdk.ErrPermanent) {
		t.Errorf("Upload without credentials = %v", err)
	}
}

func TestResumeLocationGoneOrElsewhere(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	other := startServer(t, "")
	path, _, sum := segment(t, 2*chunk)
	req := request(path, 2*chunk, sum)
	u := configured(t, configJSON(s.url, "", nil))

	req.Resume = sdk.Resume{Location: s.url + UploadPath + "dropped", Offset: chunk}
	res, err := u.Upload(uploadCtx(t), req, nil)
	if err != nil {
		t.Fatalf("Upload resuming a dropped location = %v", err)
	}
	checkStored(t, s, req, res.Location)

	// A location on a server not in use is not touched.
	s2 := startServer(t, "")
	u2 := configured(t, configJSON(s2.url, "", nil))
	before := other.stats().Requests
	req.Resume = sdk.Resume{Location: other.url + UploadPath + "abc", Offset: chunk}
	res, err = u2.Upload(uploadCtx(t), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, s2, req, res.Location)
	if n := other.stats().Requests - before; n != 0 {
		t.Errorf("the other server got %d requests", n)
	}
}

func TestServerFromMetadata(t *testing.T) {
	t.Parallel()
	configuredServer := startServer(t, "")
	agentServer := startServer(t, "")
	path, _, sum := segment(t, chunk)
	req := request(path, chunk, sum)
	req.Metadata[MetaServer] = agentServer.url + "/"
	req.Metadata[MetaPeerServer] = ""
	u := configured(t, configJSON(configuredServer.url, "", nil))
	res, err := u.Upload(uploadCtx(t), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, agentServer, req, res.Location)
	if ups := configuredServer.uploads(); len(ups) != 0 {
		t.Errorf("the configured server got %+v", ups)
	}
	req.Metadata[MetaServer] = "ftp://nope"
	if _, err := u.Upload(uploadCtx(t), req, nil); !errors.Is(err, sdk.ErrPermanent) {
		t.Errorf("Upload with a bad server in metadata = %v, want permanent", err)
	}
}

func TestSegmentProblemsArePermanent(t *testing.T) {
	t.Parallel()
	u := configured(t, configJSON("http://127.0.0.1:1", "", nil))
	path, _, sum := segment(t, 100)
	for name, req := range map[string]sdk.UploadRequest{
		"missing":    {SegmentPath: filepath.Join(t.TempDir(), "nope.mp4"), Size: 100},
		"wrong size": {SegmentPath: path, Size: 99, SHA256: sum},
	} {
		if _, err := u.Upload(uploadCtx(t), req, nil); !errors.Is(err, sdk.ErrPermanent) {
			t.Errorf("%s: Upload = %v, want permanent", name, err)
		}
	}
	if _, err := New().Upload(uploadCtx(t), sdk.UploadRequest{SegmentPath: path}, nil); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Errorf("Upload before Configure = %v", err)
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	path, _, sum := segment(t, 3*chunk+5)
	req := request(path, 3*chunk+5, sum)
	// Sparse: 256 MiB that cost no disk; at 1 MiB a chunk it takes far longer than the 50 ms
	// after which the suite cancels it.
	big := filepath.Join(t.TempDir(), "big.mp4")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 256<<20); err != nil {
		t.Fatal(err)
	}
	slow := request(big, 256<<20, strings.Repeat("0", 64))
	good := configJSON(s.url, "", map[string]any{"chunk_size": "1MiB"})
	bad := []byte(`{"server":"ftp://rws.example.com","chunk_size":"lots","timeout":"soon","colour":"blue"}`)
	sdktest.Uploader(t, func() sdk.Uploader { return New() }, good, bad, req, sdktest.SlowUpload(slow))
	complete := 0
	for _, up := range s.uploads() {
		if up.Complete {
			complete++
			if up.SHA256 != sum {
				t.Errorf("stored %+v", up)
			}
		}
	}
	if complete < 2 {
		t.Errorf("the suite's uploads stored %d complete files, want one per mode", complete)
	}
}

func TestFailoverOnTimeout(t *testing.T) {
	t.Parallel()
	primary := startServer(t, "")
	peer := startServer(t, "")
	path, _, sum := segment(t, chunk)
	req := request(path, chunk, sum)
	u := configured(t, configJSON(primary.url, peer.url, map[string]any{"timeout": "300ms"}))
	primary.setFaults(rwsserver.Faults{DelayMS: 3000})
	t0 := time.Now()
	res, err := u.Upload(uploadCtx(t), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("failover took %v", d)
	}
	checkStored(t, peer, req, res.Location)
}

func TestWholeFileMismatchIsPermanent(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	path, _, _ := segment(t, 2*chunk)
	req := request(path, 2*chunk, strings.Repeat("ab", 32)) // not the file's sha256
	u := configured(t, configJSON(s.url, "", nil))
	_, err := u.Upload(uploadCtx(t), req, nil)
	// The server refuses the file (460); so would it any copy: the local file does not match
	// the sha256 the recorder holds for it.
	if !errors.Is(err, sdk.ErrPermanent) || !strings.Contains(err.Error(), "460 Checksum Mismatch") || !strings.Contains(err.Error(), "does not match its recorded sha256") ||
		api.ClassifyFailure(err) != api.FailureChecksum {
		t.Errorf("Upload of a file that does not match its sha256 = %v, want a permanent 460 of kind checksum", err)
	}
	if ups := s.uploads(); len(ups) != 1 || ups[0].Complete || !ups[0].Rejected {
		t.Errorf("server holds %+v, want one rejected upload", ups)
	}
}

func TestKilledDuringPatch(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	const size = 12 * chunk
	path, _, sum := segment(t, size)
	req := request(path, size, sum)
	u := configured(t, configJSON(s.url, "", nil))
	s.setFaults(rwsserver.Faults{DelayMS: 100}) // every request takes 100 ms: the kill lands mid-request
	timer := time.AfterFunc(450*time.Millisecond, s.kill)
	defer timer.Stop()
	var p progressLog
	_, err := u.Upload(uploadCtx(t), req, p.record)
	if err == nil || errors.Is(err, sdk.ErrPermanent) {
		t.Fatalf("Upload to a server killed mid-request = %v, want a retryable error", err)
	}
	last := p.last()
	if last.Location == "" || last.Offset <= 0 || last.Offset >= size {
		t.Fatalf("last progress = %+v, want some chunks confirmed", last)
	}
	s.restart() // faults are gone with the process
	req.Resume = sdk.Resume{Location: last.Location, Offset: last.Offset}
	var p2 progressLog
	res, err := u.Upload(uploadCtx(t), req, p2.record)
	if err != nil {
		t.Fatal(err)
	}
	first := p2.all()[0]
	if first.Location != last.Location || first.Offset < last.Offset {
		t.Errorf("resumed with %+v after %+v", first, last)
	}
	resent := s.stats().ChunkBytes - (size - last.Offset)
	if resent >= 2*chunk {
		t.Errorf("%d bytes re-sent, want < 2 chunks", resent)
	}
	t.Logf("killed after %d of %d confirmed; resumed at %d; %d bytes re-sent", last.Offset, size, first.Offset, resent)
	checkStored(t, s, req, res.Location)
}
