package controller_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/fleet/controller"
	"github.com/screenrec/recorder/internal/s3server"
	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/pkg/s3upload"
	"github.com/screenrec/recorder/plugins/sdk"
	s3up "github.com/screenrec/recorder/uploaders/s3"
)

// archiveFleet is a controller with embedded NATS and an archive on versitygw, and machine
// desk-1's agent (fleet front end on a fake engine) with user 1234567 present.
type archiveFleet struct {
	srv  *s3server.Server
	url  string
	ctrl *controller.Controller
	eng  interface {
		Owned(string) []api.Session
	}
}

const archivePrefix = "fleet-archive"

func newArchiveFleet(t *testing.T, withArchive bool) *archiveFleet {
	t.Helper()
	ns := startServer(t, controller.ServerConfig{ControllerUser: "ctl", ControllerPassword: "ctl-pass",
		Agents: []controller.Agent{{Machine: "desk-1", User: "desk-1", Password: "pw-1"}, {Machine: "desk-2", User: "desk-2", Password: "pw-2"}}})
	f := &archiveFleet{url: ns.ClientURL()}
	var opts controller.Options
	if withArchive {
		f.srv = s3server.Start(t)
		arch, err := controller.NewArchive(controller.ArchiveConfig{Endpoint: f.srv.URL, Region: s3server.Region, Bucket: s3server.Bucket,
			PathStyle: true, AccessKeyID: s3server.AccessKey, SecretAccessKey: s3server.SecretKey, Prefix: archivePrefix})
		if err != nil {
			t.Fatal(err)
		}
		opts.Presigner = arch
	}
	f.ctrl = openController(t, f.url, opts, nats.UserInfo("ctl", "ctl-pass"))
	eng := fakeEngine(t)
	f.eng = eng
	startAgent(t, []string{f.url}, "desk-1", eng, []user{{"1234567", ":11"}}, map[string]any{"user": "desk-1", "password": "pw-1"})
	waitPresent(t, f.ctrl, "1234567")
	return f
}

// uploader is desk-1's s3 uploader with the fleet signer: no S3 endpoint, bucket or
// credentials in its config.
func (f *archiveFleet) uploader(t *testing.T, change func(m map[string]any)) *s3up.Uploader {
	t.Helper()
	m := map[string]any{"signer": "fleet", "part_size": s3up.MinPartSize, "timeout": "60s",
		"fleet": map[string]any{"urls": []string{f.url}, "machine": "desk-1", "user": "desk-1", "password": "pw-1", "reconnect_wait": "50ms"}}
	if change != nil {
		change(m)
	}
	raw, _ := json.Marshal(m)
	for _, k := range []string{"access_key_id", "secret_access_key", "endpoint", "bucket"} {
		if strings.Contains(string(raw), k) {
			t.Fatalf("the agent's config names %s: %s", k, raw)
		}
	}
	u := s3up.New()
	diags, err := u.Configure(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			t.Fatalf("Configure: %+v", d)
		}
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// recording starts a recording of 1234567 through the cloud API and waits until the index
// holds it; it returns the machine's session.
func (f *archiveFleet) recording(t *testing.T) api.Session {
	t.Helper()
	got := serveCloud(t, f.ctrl, "5s").start(t, "1234567", 60)
	if !okStart(got) {
		t.Fatal(got)
	}
	waitFor(t, "indexed", 10*time.Second, func() (bool, string) {
		recs, err := f.ctrl.Recordings(context.Background(), "1234567")
		return err == nil && len(recs) == 1, fmt.Sprint(recs, err)
	})
	owned := f.eng.Owned("1234567")
	if len(owned) != 1 {
		t.Fatalf("sessions of 1234567: %+v", owned)
	}
	return owned[0]
}

// segmentOf writes a random segment of size bytes of session s.
func segmentOf(t *testing.T, s api.Session, index, size int) sdk.UploadRequest {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), fmt.Sprintf("seg-%04d.mp4", index))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return sdk.UploadRequest{JobID: int64(index), RecordingID: s.ID, SegmentIndex: index, SegmentPath: p, Size: int64(size),
		SHA256: hex.EncodeToString(sum[:]), Target: "archive",
		Metadata: map[string]string{"userId": "1234567", "recordingId": s.ID, "startTime": "2026-12-01T23:30:00Z"}}
}

// Segments land byte-identical in a real S3-compatible server under the machine's key space,
// through requests the controller signs (the agent's uploader holds no S3 credentials); the
// index says where each landed, with its size and sha256.
func TestArchiveThroughFleetSigner(t *testing.T) {
	f := newArchiveFleet(t, true)
	s := f.recording(t)
	u := f.uploader(t, nil)
	reqs := []sdk.UploadRequest{
		segmentOf(t, s, 1, 300<<10),                 // a single PUT
		segmentOf(t, s, 2, 2*s3up.MinPartSize+4321), // a multipart upload of 3 parts
	}
	for _, req := range reqs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		res, err := u.Upload(ctx, req, nil)
		cancel()
		if err != nil {
			t.Fatalf("segment %d: %v", req.SegmentIndex, err)
		}
		key := fmt.Sprintf("%s/desk-1/1234567/2026-12-01/%s/%d.mp4", archivePrefix, s.ID, req.SegmentIndex)
		if want := f.srv.URL + "/" + s3server.Bucket + "/" + key; res.Location != want || res.Bytes != req.Size {
			t.Errorf("segment %d: result %+v, want location %s", req.SegmentIndex, res, want)
		}
		obj, err := f.srv.Client().GetObject(context.Background(), s3server.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		want, _ := os.ReadFile(req.SegmentPath)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("segment %d in the bucket under %s: %d bytes (%v), differs from the segment's %d", req.SegmentIndex, key, len(got), err, len(want))
		}
	}
	// The index says where each segment landed (the admin API's fleet view shows it).
	waitFor(t, "the index shows both segments landed", 10*time.Second, func() (bool, string) {
		recs, err := f.ctrl.Recordings(context.Background(), "1234567")
		b, _ := json.Marshal(recs)
		if err != nil || len(recs) != 1 {
			return false, fmt.Sprint(string(b), err)
		}
		for _, req := range reqs {
			o := recs[0].Archive[req.SegmentIndex]
			if o.State != fleet.ArchiveLanded || o.Bytes != req.Size || o.SHA256 != req.SHA256 || o.Bucket != s3server.Bucket ||
				!strings.HasPrefix(o.Key, archivePrefix+"/desk-1/") {
				return false, string(b)
			}
		}
		return true, ""
	})
}

// ask sends a raw archive request as machine's agent (its own NATS user and inbox).
func ask(t *testing.T, nc *nats.Conn, machine string, req fleet.PresignRequest, timeout time.Duration) (fleet.PresignReply, error) {
	t.Helper()
	body, _ := json.Marshal(req)
	m, err := nc.Request(fleet.PresignSubject(machine), body, timeout)
	if err != nil {
		return fleet.PresignReply{}, err
	}
	var rep fleet.PresignReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, nil
}

// An agent is confined to its machine's key space: whatever key it names goes under
// <prefix>/<machine>/; keys that could leave it, and operations outside an upload, are
// refused as forbidden, naming what is wrong; another machine's subject is not its to ask on.
func TestArchiveConfinesAgents(t *testing.T) {
	f := newArchiveFleet(t, true)
	s := f.recording(t)
	seg := fleet.Segment{RecordingID: s.ID, Index: 1, Owner: "1234567"}
	desk1 := connect(t, f.url, nats.UserInfo("desk-1", "pw-1"), nats.CustomInboxPrefix(fleet.InboxPrefix("desk-1")))

	rep, err := ask(t, desk1, "desk-1", fleet.PresignRequest{Segment: seg, Operation: &s3upload.Operation{Op: s3upload.OpHead, Key: "a/b.mp4"}}, 10*time.Second)
	if err != nil || rep.Error != nil || rep.Signed == nil || rep.Object == nil || rep.Object.Key != archivePrefix+"/desk-1/a/b.mp4" ||
		!strings.Contains(rep.Signed.URL, "/"+s3server.Bucket+"/"+archivePrefix+"/desk-1/a/b.mp4?") {
		t.Fatalf("head of its own key: %v %+v %+v", err, rep, rep.Object)
	}
	for _, c := range []struct {
		op   s3upload.Operation
		want string
	}{
		{s3upload.Operation{Op: s3upload.OpPut, Key: "../desk-2/1.mp4", SHA256: strings.Repeat("0", 64)}, `"../desk-2/1.mp4"`},
		{s3upload.Operation{Op: s3upload.OpHead, Key: "/" + archivePrefix + "/desk-2/1.mp4"}, "not absolute"},
		{s3upload.Operation{Op: s3upload.OpCreate, Key: "a//b"}, `"a//b"`},
		{s3upload.Operation{Op: s3upload.OpHead, Key: "./x"}, `"./x"`},
		{s3upload.Operation{Op: s3upload.OpHead, Key: ""}, "empty key"},
		{s3upload.Operation{Op: "delete", Key: "a/b.mp4"}, `operation "delete"`},
		{s3upload.Operation{Op: "list", Key: "a"}, `operation "list"`},
	} {
		rep, err := ask(t, desk1, "desk-1", fleet.PresignRequest{Segment: seg, Operation: &c.op}, 10*time.Second)
		if err != nil || rep.Error == nil || rep.Error.Code != fleet.CodeForbidden || !strings.Contains(rep.Error.Message, c.want) || rep.Signed != nil {
			t.Errorf("%s %q: %v %+v, want forbidden naming %s", c.op.Op, c.op.Key, err, rep.Error, c.want)
		}
	}
	// Another machine's subject: NATS refuses desk-1's request (no controller sees it).
	if _, err := ask(t, desk1, "desk-2", fleet.PresignRequest{Segment: seg, Operation: &s3upload.Operation{Op: s3upload.OpHead, Key: "1.mp4"}}, 2*time.Second); err == nil {
		t.Error("desk-1 asked on desk-2's presign subject and got an answer")
	}
	// A confirmation of an object that is not there is refused, and nothing is recorded.
	rep, err = ask(t, desk1, "desk-1", fleet.PresignRequest{Segment: seg, Confirm: true, Key: "never/uploaded.mp4"}, 10*time.Second)
	if err != nil || rep.Error == nil || rep.Object != nil {
		t.Errorf("confirm of a missing object: %v %+v", err, rep)
	}
	if recs, _ := f.ctrl.Recordings(context.Background(), "1234567"); len(recs) != 1 || len(recs[0].Archive) != 0 {
		t.Errorf("index after refusals: %+v", recs)
	}

	// Through the uploader: a key template that leaves the key space fails permanently.
	u := f.uploader(t, func(m map[string]any) { m["key_template"] = "../desk-2/{segment}.mp4" })
	_, err = u.Upload(context.Background(), segmentOf(t, s, 1, 1000), nil)
	if !errors.Is(err, fleet.ErrForbidden) || !errors.Is(err, sdk.ErrPermanent) || !strings.Contains(err.Error(), "desk-2") {
		t.Errorf("upload outside the key space: %v, want a permanent forbidden error", err)
	}
}

// A controller without an archive answers not configured: the upload fails with that
// error, clearly (and is retried later: the archive may be configured meanwhile).
func TestArchiveNotConfigured(t *testing.T) {
	f := newArchiveFleet(t, false)
	s := f.recording(t)
	u := f.uploader(t, nil)
	_, err := u.Upload(context.Background(), segmentOf(t, s, 1, 1000), nil)
	if !errors.Is(err, fleet.ErrNotConfigured) || errors.Is(err, sdk.ErrPermanent) || !strings.Contains(err.Error(), "no archive") {
		t.Fatalf("upload without an archive: %v, want not configured", err)
	}
	t.Log(err)
}
