package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/internal/s3server"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

const testPart = MinPartSize // 5 MiB parts: a few parts per test segment

// configure returns a configured uploader for srv, with changes to the config section.
func configure(t *testing.T, srv *s3server.Server, change func(m map[string]any)) *Uploader {
	t.Helper()
	m := map[string]any{"endpoint": srv.URL, "bucket": s3server.Bucket, "path_style": true,
		"region": s3server.Region, "access_key_id": s3server.AccessKey, "secret_access_key": s3server.SecretKey,
		"part_size": testPart, "timeout": "60s"}
	if change != nil {
		change(m)
	}
	raw, _ := json.Marshal(m)
	u := New()
	diags, err := u.Configure(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			t.Fatalf("Configure: %+v", d)
		}
	}
	return u
}

// segment writes a random segment of size bytes and returns its request.
func segment(t *testing.T, size int) sdk.UploadRequest {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), "seg-0001.mp4")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return sdk.UploadRequest{JobID: 1, RecordingID: "rec-42", SegmentIndex: 3, SegmentPath: p, Size: int64(size),
		SHA256: hex.EncodeToString(sum[:]), Target: "archive",
		Metadata: map[string]string{"userId": "agent.smith@example.com", "startTime": "2026-12-01T23:30:00+01:00",
			"contactId": "c-9", "agent": "Agent Smïth", "server": "https://routing.example"}}
}

// recorder collects what Upload reported.
type recorder struct {
	mu   sync.Mutex
	last sdk.Progress
	all  []sdk.Progress
}

func (r *recorder) progress(p sdk.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, p)
	if p.State != "" {
		r.last.State = p.State
	}
	r.last.Offset, r.last.Location = p.Offset, p.Location
}

// resume is what the engine would pass back: the last reported State.
func (r *recorder) resume() api.Resume {
	r.mu.Lock()
	defer r.mu.Unlock()
	return api.Resume{Location: r.last.Location, Offset: r.last.Offset, State: r.last.State}
}

const wantKey = "agent.smith@example.com/2026-12-01/rec-42/3.mp4"

// checkStored asserts the bucket holds the segment byte-identical under wantKey with its
// metadata and sha256 checksum.
func checkStored(t *testing.T, srv *s3server.Server, req sdk.UploadRequest) {
	t.Helper()
	ctx := context.Background()
	c := srv.Client()
	obj, err := c.GetObject(ctx, s3server.Bucket, wantKey, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("get %s: %v", wantKey, err)
	}
	want, _ := os.ReadFile(req.SegmentPath)
	if !bytes.Equal(got, want) {
		t.Fatalf("stored object: %d bytes, differs from the segment's %d", len(got), len(want))
	}
	st, err := c.StatObject(ctx, s3server.Bucket, wantKey, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	for k, v := range st.Metadata {
		if rest, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
			meta[rest] = v[0]
		}
	}
	for k, v := range map[string]string{"sha256": req.SHA256, "recording-id": "rec-42", "segment": "3",
		"user-id": "agent.smith@example.com", "contact-id": "c-9", "agent": "Agent Smïth"} {
		if !strings.EqualFold(meta[k], v) {
			t.Errorf("metadata %s = %q, want %q (all: %v)", k, meta[k], v, meta)
		}
	}
	if _, ok := meta["server"]; ok {
		t.Errorf("routing key server stored as metadata: %v", meta)
	}
	if st.ChecksumSHA256 == "" {
		t.Errorf("object has no sha256 checksum: %+v", st)
	}
}

func TestUploadSinglePutAndMultipart(t *testing.T) {
	srv := s3server.Start(t)
	u := configure(t, srv, nil)
	for _, size := range []int{100 << 10, 2*testPart + 12345} {
		req := segment(t, size)
		var rec recorder
		res, err := u.Upload(context.Background(), req, rec.progress)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if res.Bytes != int64(size) || !strings.HasSuffix(res.Location, "/"+s3server.Bucket+"/"+wantKey) {
			t.Errorf("result %+v", res)
		}
		checkStored(t, srv, req)
		if size > testPart {
			// The upload id was reported before any part was sent.
			if len(rec.all) == 0 || rec.all[0].Offset != 0 || !strings.Contains(rec.all[0].State, `"upload_id"`) {
				t.Errorf("first progress %+v, want offset 0 with the upload id in State", rec.all)
			}
		}
		if last := rec.all[len(rec.all)-1]; last.Offset != int64(size) {
			t.Errorf("last progress %+v, want offset %d", last, size)
		}
	}
}

func TestServerKilledMidMultipartResumes(t *testing.T) {
	srv := s3server.Start(t)
	// One part at a time: the parts before the killed one are confirmed, none after it
	// (TestKilledWithPartsInFlight is the concurrent case).
	u := configure(t, srv, func(m map[string]any) { m["timeout"] = "20s"; m["part_concurrency"] = 1 })
	req := segment(t, 4*testPart+1000)
	// The server dies 1 MiB into part 3.
	srv.SetFault(func(r *http.Request) s3server.Action {
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "3" {
			return s3server.Action{KillAfter: 1 << 20}
		}
		return s3server.Action{}
	})
	var rec recorder
	_, err := u.Upload(context.Background(), req, rec.progress)
	if err == nil || errors.Is(err, sdk.ErrPermanent) {
		t.Fatalf("upload with the server killed: %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "X-Amz-Signature") {
		t.Errorf("error shows a pre-signed URL: %v", err)
	}
	kind := api.ClassifyFailure(err)
	if kind != api.FailureReset && kind != api.FailureRefused {
		t.Errorf("kind %q of %v, want reset or refused", kind, err)
	}
	if got := rec.resume().Offset; got != 2*testPart {
		t.Errorf("confirmed offset %d, want %d (two parts)", got, 2*testPart)
	}
	srv.SetFault(nil)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	sentBefore := srv.BodyBytes()
	// A new uploader, as after a restart of the recorder: only the State carries over.
	u2 := configure(t, srv, nil)
	req.Resume = rec.resume()
	if _, err := u2.Upload(context.Background(), req, rec.progress); err != nil {
		t.Fatal(err)
	}
	checkStored(t, srv, req)
	resent := srv.BodyBytes() - req.Size
	t.Logf("bytes sent: %d for a %d-byte segment (%d re-sent; part %d)", srv.BodyBytes(), req.Size, resent, testPart)
	if srv.BodyBytes()-sentBefore > req.Size-2*testPart+4096 {
		t.Errorf("resume sent %d bytes, want only the missing %d", srv.BodyBytes()-sentBefore, req.Size-2*testPart)
	}
	if resent > testPart {
		t.Errorf("re-sent %d bytes, want at most one part (%d)", resent, testPart)
	}
}

func TestWrongCredentialsFailPermanently(t *testing.T) {
	srv := s3server.Start(t)
	for _, c := range []struct {
		name, field, value, code string
	}{
		{"secret", "secret_access_key", "not-the-secret", "SignatureDoesNotMatch"},
		{"key id", "access_key_id", "nobody", "XAdminUserNotFound"}, // versitygw's InvalidAccessKeyId,
	} {
		t.Run(c.name, func(t *testing.T) {
			u := configure(t, srv, func(m map[string]any) { m[c.field] = c.value })
			for _, size := range []int{1000, testPart + 1} {
				_, err := u.Upload(context.Background(), segment(t, size), nil)
				if !errors.Is(err, sdk.ErrPermanent) || !errors.Is(err, api.ErrAuth) || !strings.Contains(err.Error(), c.code) {
					t.Errorf("%d bytes: %v, want permanent, auth, with the server's %s", size, err, c.code)
				}
			}
		})
	}
}

func TestChecksumMismatchRefusedThenResent(t *testing.T) {
	srv := s3server.Start(t)
	u := configure(t, srv, nil)
	for _, c := range []struct {
		name string
		size int
		hit  func(r *http.Request) bool
	}{
		{"part", 3*testPart + 7, func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" }},
		{"put", 64 << 10, func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := segment(t, c.size)
			var once sync.Once
			srv.SetFault(func(r *http.Request) s3server.Action {
				act := s3server.Action{}
				if r.Method == http.MethodPut && c.hit(r) {
					once.Do(func() { act.Corrupt = true })
				}
				return act
			})
			defer srv.SetFault(nil)
			var rec recorder
			start := srv.BodyBytes()
			_, err := u.Upload(context.Background(), req, rec.progress)
			if !errors.Is(err, api.ErrChecksum) || errors.Is(err, sdk.ErrPermanent) {
				t.Fatalf("damaged body: %v, want a retryable checksum failure", err)
			}
			if _, err := srv.Client().StatObject(context.Background(), s3server.Bucket, wantKey, minio.StatObjectOptions{}); err == nil {
				t.Fatal("an object exists after its bytes were refused")
			}
			req.Resume = rec.resume()
			if _, err := u.Upload(context.Background(), req, rec.progress); err != nil {
				t.Fatal(err)
			}
			checkStored(t, srv, req)
			if c.size > testPart {
				if resent := srv.BodyBytes() - start - req.Size; resent > testPart+4096 {
					t.Errorf("re-sent %d bytes, want only the refused part (%d)", resent, testPart)
				}
			}
			srv.Client().RemoveObject(context.Background(), s3server.Bucket, wantKey, minio.RemoveObjectOptions{})
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		change func(m map[string]any)
		want   string
	}{
		{func(m map[string]any) { m["key_template"] = "{owner}/{dat}/{segment}.mp4" }, "unknown key template variable: {dat}"},
		{func(m map[string]any) { m["part_size"] = "1MiB" }, "part_size"},
		{func(m map[string]any) { m["part_concurrency"] = 0 }, "part_concurrency"},
		{func(m map[string]any) { m["part_concurrency"] = 65 }, "part_concurrency"},
		{func(m map[string]any) { m["sse"] = "rot13" }, "rot13"},
		{func(m map[string]any) { m["endpoint"] = "ftp://x" }, "http"},
		{func(m map[string]any) { delete(m, "secret_access_key") }, "secret_access_key"},
	} {
		m := map[string]any{"endpoint": "https://s3.example.com", "bucket": "recordings", "access_key_id": "k", "secret_access_key": "s"}
		c.change(m)
		raw, _ := json.Marshal(m)
		diags, err := New().Configure(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, d := range diags {
			found = found || d.Severity == sdk.SeverityError && strings.Contains(d.Field+" "+d.Summary+" "+d.Detail, c.want)
		}
		if !found {
			t.Errorf("%v: diagnostics %+v, want an error about %q", m, diags, c.want)
		}
	}
}

// The SDK's conformance suite, directly and through the plugin protocol's gRPC shims.
func TestConformance(t *testing.T) {
	srv := s3server.Start(t)
	req := segment(t, testPart+99)
	big := filepath.Join(t.TempDir(), "big.mp4")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 1<<30); err != nil { // sparse: no disk
		t.Fatal(err)
	}
	slow := sdk.UploadRequest{JobID: 2, RecordingID: "big", SegmentIndex: 1, SegmentPath: big, Size: 1 << 30}
	good, _ := json.Marshal(map[string]any{"endpoint": srv.URL, "bucket": s3server.Bucket, "path_style": true,
		"access_key_id": s3server.AccessKey, "secret_access_key": s3server.SecretKey, "part_size": testPart})
	bad := []byte(`{"endpoint":"ftp://s3.example.com","bucket":"B","part_size":"1KiB","key_template":"{nope}","colour":"blue"}`)
	sdktest.Uploader(t, func() sdk.Uploader { return New() }, good, bad, req, sdktest.SlowUpload(slow))
}
