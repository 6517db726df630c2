package tus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/internal/rwsserver"
)

const (
	user = "agent"
	pass = "s3cret"
)

var auth = Auth{Username: user, Password: pass}

func startServer(t *testing.T) *rwsserver.Server {
	t.Helper()
	s, err := rwsserver.Start(context.Background(), rwsserver.Config{Dir: t.TempDir(), Users: map[string]string{user: pass}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func base(s *rwsserver.Server) string { return s.URL() + rwsserver.BasePath }

func data(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + i/509)
	}
	return b
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func faults(t *testing.T, s *rwsserver.Server, f rwsserver.Faults) {
	t.Helper()
	if err := s.SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeMetadata(t *testing.T) {
	got, err := EncodeMetadata(map[string]string{"filename": "a.mp4", "empty": "", "b": "x y,z"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "b eCB5LHo=,empty,filename YS5tcDQ="; got != want {
		t.Errorf("EncodeMetadata = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "a b", "a,b"} {
		if _, err := EncodeMetadata(map[string]string{bad: "v"}); err == nil {
			t.Errorf("EncodeMetadata with key %q succeeded", bad)
		}
	}
}

func TestUpload(t *testing.T) {
	s := startServer(t)
	c := &Client{ChunkSize: 64 << 10}
	ctx := context.Background()
	file := data(300_000)
	meta := map[string]string{"filename": "seg 1.mp4", "sha256": hexSum(file), "final": "true", "empty": ""}
	loc, err := c.Create(ctx, base(s), int64(len(file)), meta, auth)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, base(s)) {
		t.Errorf("location %q", loc)
	}
	if off, err := c.Offset(ctx, loc, auth); err != nil || off != 0 {
		t.Fatalf("Offset = %d, %v", off, err)
	}
	var got []int64
	if err := c.Upload(ctx, loc, bytes.NewReader(file), int64(len(file)), 0, auth, func(n int64) { got = append(got, n) }); err != nil {
		t.Fatal(err)
	}
	want := []int64{65536, 131072, 196608, 262144, 300000}
	if len(got) != len(want) {
		t.Fatalf("progress = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("progress = %v, want %v", got, want)
		}
	}
	if off, err := c.Offset(ctx, loc, auth); err != nil || off != int64(len(file)) {
		t.Errorf("Offset after Upload = %d, %v", off, err)
	}
	ups := s.Uploads()
	if len(ups) != 1 || !ups[0].Complete || ups[0].SHA256 != hexSum(file) {
		t.Fatalf("server has %+v", ups)
	}
	for k, v := range meta {
		if ups[0].Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, ups[0].Metadata[k], v)
		}
	}
	if err := c.Terminate(ctx, loc, auth); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Offset(ctx, loc, auth); !errors.Is(err, ErrNotFound) {
		t.Errorf("Offset after Terminate = %v, want ErrNotFound", err)
	}
	if err := c.Terminate(ctx, loc, auth); !errors.Is(err, ErrNotFound) {
		t.Errorf("Terminate twice = %v, want ErrNotFound", err)
	}
}

func TestEmptyUpload(t *testing.T) {
	s := startServer(t)
	c := &Client{}
	ctx := context.Background()
	loc, err := c.Create(ctx, base(s), 0, map[string]string{"sha256": hexSum(nil)}, auth)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(ctx, loc, bytes.NewReader(nil), 0, 0, auth, nil); err != nil {
		t.Fatal(err)
	}
	if ups := s.Uploads(); len(ups) != 1 || !ups[0].Complete {
		t.Errorf("server has %+v", ups)
	}
}

func TestChecksumRetried(t *testing.T) {
	s := startServer(t)
	c := &Client{ChunkSize: 10_000}
	ctx := context.Background()
	file := data(50_000)
	loc, err := c.Create(ctx, base(s), int64(len(file)), map[string]string{"sha256": hexSum(file)}, auth)
	if err != nil {
		t.Fatal(err)
	}
	faults(t, s, rwsserver.Faults{CorruptNextChunks: ChecksumRetries})
	if err := c.Upload(ctx, loc, bytes.NewReader(file), int64(len(file)), 0, auth, nil); err != nil {
		t.Fatalf("Upload with %d corrupted chunks = %v", ChecksumRetries, err)
	}
	if st := s.Stats(); st.ChecksumMismatches != ChecksumRetries || st.ChunkRequests != 5+ChecksumRetries {
		t.Errorf("stats = %+v", st)
	}
	if u := s.Uploads()[0]; !u.Complete || u.SHA256 != hexSum(file) {
		t.Errorf("upload = %+v", u)
	}

	// One more than it retries: ErrChecksum, neither permanent nor server-side.
	loc, err = c.Create(ctx, base(s), int64(len(file)), nil, auth)
	if err != nil {
		t.Fatal(err)
	}
	faults(t, s, rwsserver.Faults{CorruptNextChunks: ChecksumRetries + 1})
	_, err = c.Patch(ctx, loc, 0, file[:10_000], auth)
	if !errors.Is(err, ErrChecksum) || IsPermanent(err) || IsServerSide(err) {
		t.Errorf("Patch with every try corrupted = %v; want ErrChecksum, retryable, not server-side", err)
	}
	if off, _ := c.Offset(ctx, loc, auth); off != 0 {
		t.Errorf("offset = %d after refused chunks", off)
	}
}

func TestConflictResolved(t *testing.T) {
	s := startServer(t)
	c := &Client{ChunkSize: 10_000}
	ctx := context.Background()
	file := data(35_000)
	loc, err := c.Create(ctx, base(s), int64(len(file)), map[string]string{"sha256": hexSum(file)}, auth)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patch(ctx, loc, 0, file[:10_000], auth); err != nil {
		t.Fatal(err)
	}
	// The caller believes nothing was stored (an answer lost): the 409 is resolved by HEAD.
	var got []int64
	if err := c.Upload(ctx, loc, bytes.NewReader(file), int64(len(file)), 0, auth, func(n int64) { got = append(got, n) }); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0] != 10_000 || got[len(got)-1] != int64(len(file)) {
		t.Errorf("progress = %v", got)
	}
	if u := s.Uploads()[0]; !u.Complete || u.SHA256 != hexSum(file) {
		t.Errorf("upload = %+v", u)
	}
}

// A link that dies mid-PATCH: the client asks where the upload stands and goes on in the same
// call, re-sending only what the server did not keep (less than the chunk in flight).
func TestDroppedLinkResolvedInCall(t *testing.T) {
	s := startServer(t)
	c := &Client{ChunkSize: 10_000}
	ctx := context.Background()
	file := data(100_000)
	loc, err := c.Create(ctx, base(s), int64(len(file)), map[string]string{"sha256": hexSum(file)}, auth)
	if err != nil {
		t.Fatal(err)
	}
	faults(t, s, rwsserver.Faults{DropAfterBytes: 35_000})
	var got []int64
	if err := c.Upload(ctx, loc, bytes.NewReader(file), int64(len(file)), 0, auth, func(n int64) { got = append(got, n) }); err != nil {
		t.Fatalf("Upload over a link that dropped once = %v", err)
	}
	resent := s.Stats().ChunkBytes - int64(len(file))
	if resent != 5_000 {
		t.Errorf("re-sent %d bytes, want the 5000 of the interrupted chunk the server did not keep", resent)
	}
	if len(got) != 10 || got[len(got)-1] != int64(len(file)) {
		t.Errorf("progress = %v", got)
	}
	if u := s.Uploads()[0]; !u.Complete || u.SHA256 != hexSum(file) {
		t.Errorf("upload = %+v", u)
	}
}

// The server stores the last chunk but its answer is lost (the client times out): the client
// asks (HEAD), learns the upload is complete and accepted, and sends nothing again.
func TestLostAnswerOnLastChunk(t *testing.T) {
	s := startServer(t)
	c := &Client{ChunkSize: 10_000, Timeout: 500 * time.Millisecond}
	ctx := context.Background()
	file := data(50_000)
	loc, err := c.Create(ctx, base(s), int64(len(file)), map[string]string{"sha256": hexSum(file)}, auth)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Upload(ctx, loc, bytes.NewReader(file), int64(len(file)), 0, auth, func(n int64) {
		if n == 40_000 {
			faults(t, s, rwsserver.Faults{LoseNextAnswers: 1})
		}
	})
	if err != nil {
		t.Fatalf("Upload whose last answer was lost = %v, want nil (the server holds it, verified)", err)
	}
	st := s.Stats()
	if st.LostAnswers != 1 || st.ChunkBytes != int64(len(file)) {
		t.Errorf("stats = %+v, want 1 lost answer and every byte sent once", st)
	}
	if ups := s.Uploads(); len(ups) != 1 || !ups[0].Complete || ups[0].SHA256 != hexSum(file) {
		t.Errorf("uploads = %+v", ups)
	}
}

// A file refused as a whole when its last chunk arrives (460, the whole-file sha256 check) is
// never reported uploaded, and the chunk is not sent again.
func TestWholeFileRefusal(t *testing.T) {
	s := startServer(t)
	c := &Client{ChunkSize: 10_000}
	ctx := context.Background()
	file := data(30_000)
	loc, err := c.Create(ctx, base(s), int64(len(file)), map[string]string{"sha256": hexSum(file)}, auth)
	if err != nil {
		t.Fatal(err)
	}
	faults(t, s, rwsserver.Faults{RefuseNextFiles: 1})
	err = c.Upload(ctx, loc, bytes.NewReader(file), int64(len(file)), 0, auth, nil)
	if !errors.Is(err, ErrRejected) || !errors.Is(err, api.ErrChecksum) || IsPermanent(err) || IsServerSide(err) {
		t.Fatalf("Upload of a refused file = %v, want ErrRejected (kind checksum), neither permanent nor server-side", err)
	}
	if k := api.ClassifyFailure(err); k != api.FailureChecksum {
		t.Errorf("kind %q, want checksum", k)
	}
	if st := s.Stats(); st.ChunkRequests != 3 || st.Rejected != 1 {
		t.Errorf("stats = %+v, want 3 chunks sent once and 1 refusal", st)
	}
	if ups := s.Uploads(); len(ups) != 1 || ups[0].Complete || !ups[0].Rejected {
		t.Errorf("uploads = %+v, want one refused upload", ups)
	}
	// Asked afterwards, the server does not pass it off as complete.
	if _, err := c.Offset(ctx, loc, auth); !errors.Is(err, ErrNotFound) {
		t.Errorf("HEAD of the refused upload = %v, want 410 (ErrNotFound)", err)
	}
	if err := c.Terminate(ctx, loc, auth); err != nil {
		t.Errorf("Terminate of the refused upload = %v", err)
	}
	if ups := s.Uploads(); len(ups) != 0 {
		t.Errorf("after termination the server holds %+v", ups)
	}
}

// A refused connection is reported as refused at once, a slow server as a timeout.
func TestFailureKinds(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := &Client{Timeout: 3 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + rwsserver.BasePath
	ln.Close()
	t0 := time.Now()
	_, err = c.Create(ctx, down, 10, nil, auth)
	if k := api.ClassifyFailure(err); k != api.FailureRefused || !errors.Is(err, api.ErrRefused) || strings.Contains(err.Error(), "timed out") || !IsServerSide(err) {
		t.Errorf("Create against nothing listening = %v (kind %q), want refused, not a timeout", err, k)
	}
	if d := time.Since(t0); d >= c.Timeout {
		t.Errorf("a refused connection took %v", d)
	}

	faults(t, s, rwsserver.Faults{DelayMS: 2000})
	slow := &Client{Timeout: 200 * time.Millisecond}
	_, err = slow.Create(ctx, base(s), 10, nil, auth)
	if k := api.ClassifyFailure(err); k != api.FailureTimeout || !errors.Is(err, ErrTimeout) {
		t.Errorf("Create against a slow server = %v (kind %q), want timeout", err, k)
	}
	faults(t, s, rwsserver.Faults{Status: http.StatusServiceUnavailable})
	if _, err = c.Create(ctx, base(s), 10, nil, auth); api.ClassifyFailure(err) != api.FailureHTTP {
		t.Errorf("Create against a 503 = %v (kind %q), want http", err, api.ClassifyFailure(err))
	}
	faults(t, s, rwsserver.Faults{})
	if _, err = c.Create(ctx, base(s), 10, nil, Auth{Username: user, Password: "wrong"}); api.ClassifyFailure(err) != api.FailureAuth {
		t.Errorf("Create with a wrong password = %v (kind %q), want auth", err, api.ClassifyFailure(err))
	}
	// A connection cut before the answer: reset.
	faults(t, s, rwsserver.Faults{DropAfterBytes: 10})
	loc, err := c.Create(ctx, base(s), 100, nil, auth)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = c.Patch(ctx, loc, 0, data(100), auth); api.ClassifyFailure(err) != api.FailureReset {
		t.Errorf("PATCH over a cut connection = %v (kind %q), want reset", err, api.ClassifyFailure(err))
	}
}

func TestErrors(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := &Client{}

	_, err := c.Create(ctx, base(s), 10, nil, Auth{Username: user, Password: "wrong"})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || !strings.Contains(se.Message, "credentials") ||
		!IsPermanent(err) || IsServerSide(err) {
		t.Errorf("Create with a wrong password = %v; want a permanent 401 with the server's message", err)
	}
	if !strings.Contains(err.Error(), "401 Unauthorized: ") {
		t.Errorf("error text %q", err)
	}

	if _, err := c.Offset(ctx, base(s)+"nosuchupload", auth); !errors.Is(err, ErrNotFound) || IsPermanent(err) || IsServerSide(err) {
		t.Errorf("Offset of an unknown upload = %v, want ErrNotFound", err)
	}

	faults(t, s, rwsserver.Faults{Status: http.StatusServiceUnavailable})
	if _, err := c.Create(ctx, base(s), 10, nil, auth); !IsServerSide(err) || IsPermanent(err) {
		t.Errorf("Create against a 503 = %v, want server-side", err)
	}
	faults(t, s, rwsserver.Faults{Status: http.StatusTooManyRequests})
	if _, err := c.Create(ctx, base(s), 10, nil, auth); IsServerSide(err) || IsPermanent(err) || err == nil {
		t.Errorf("Create against a 429 = %v, want neither server-side nor permanent", err)
	}

	faults(t, s, rwsserver.Faults{DelayMS: 1000})
	timed := &Client{Timeout: 100 * time.Millisecond}
	t0 := time.Now()
	if _, err := timed.Create(ctx, base(s), 10, nil, auth); !errors.Is(err, ErrTimeout) || !IsServerSide(err) {
		t.Errorf("Create past Timeout = %v, want ErrTimeout", err)
	}
	if d := time.Since(t0); d > 900*time.Millisecond {
		t.Errorf("the timeout took %v", d)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.Create(cctx, base(s), 10, nil, auth); !errors.Is(err, context.DeadlineExceeded) || IsServerSide(err) {
		t.Errorf("Create past the caller's deadline = %v, want a context error, not server-side", err)
	}
	cctx, cancel = context.WithCancel(ctx)
	cancel()
	if _, err := c.Create(cctx, base(s), 10, nil, auth); !errors.Is(err, context.Canceled) || IsServerSide(err) {
		t.Errorf("Create with a cancelled ctx = %v, want context.Canceled, not server-side", err)
	}
	faults(t, s, rwsserver.Faults{})

	url := base(s)
	_ = s.Close()
	if _, err := c.Create(ctx, url, 10, nil, auth); !IsServerSide(err) || IsPermanent(err) {
		t.Errorf("Create against a closed server = %v, want server-side", err)
	}

	// The source is shorter than the size given.
	if err := c.Upload(ctx, url+"x", bytes.NewReader(make([]byte, 5)), 10, 0, auth, nil); !errors.Is(err, ErrSource) || IsServerSide(err) {
		t.Errorf("Upload of a short source = %v, want ErrSource", err)
	}
}

func TestClassification(t *testing.T) {
	for code, want := range map[int]bool{400: true, 401: true, 403: true, 413: true, 422: true,
		404: false, 408: false, 409: false, 410: false, 423: false, 429: false, 460: false, 500: false, 503: false} {
		err := wrap("PATCH", "http://x", &StatusError{Code: code})
		if got := IsPermanent(err); got != want {
			t.Errorf("IsPermanent(%d) = %v, want %v", code, got, want)
		}
		if got := IsServerSide(err); got != (code >= 500) {
			t.Errorf("IsServerSide(%d) = %v", code, got)
		}
	}
	if e := (&StatusError{Code: 460, Message: "m"}); e.Error() != "460 Checksum Mismatch: m" || !errors.Is(e, ErrChecksum) {
		t.Errorf("460: %v", e)
	}
	if e := (&StatusError{Code: 410}); !errors.Is(e, ErrNotFound) || e.Error() != "410 Gone" {
		t.Errorf("410: %v", e)
	}
	if IsServerSide(nil) || IsPermanent(nil) {
		t.Error("nil classified")
	}
}
