package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/frontends/cloud"
	"github.com/screenrec/recorder/internal/s3server"
	"github.com/screenrec/recorder/internal/waittest"
	"github.com/screenrec/recorder/pkg/fleet"
)

// lineWaiter reads a process's stdout lines.
func lineWaiter(t *testing.T, cmd *exec.Cmd) chan string {
	t.Helper()
	stdout, _ := cmd.StdoutPipe()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// waitLine waits for a line containing marker and returns what follows it.
func waitLine(t *testing.T, lines chan string, marker string, stderr fmt.Stringer) string {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("exited before %q: %s", marker, stderr.String())
			}
			if _, rest, ok := strings.Cut(l, marker); ok {
				return rest
			}
		case <-deadline:
			t.Fatalf("no %q within 90 s: %s", marker, stderr.String())
		}
	}
}

// The fleet end to end, with real processes: `recorder controller` (embedded NATS) and two
// `recorder run`s on two Xvfb displays whose fleet front ends (plugin processes) join with
// their own credentials. The cloud API starts each user's recording on their machine, a
// repeat start answers the same ids, stops finalise valid files that carry the fleet's
// contact id. Each machine's s3 uploader archives its segments to a real S3-compatible
// server (versitygw) through requests the controller signs: the agents hold no S3
// credentials, the objects land under each machine's key space, and the controller's fleet
// view says where each segment landed.
func TestFleetEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s3srv := s3server.Start(t)
	const secret = "ops-secret-0123456789abcdef0123456789abcdef"
	const adminToken = "admin-token-0123456789abcdef"
	ccfg := writeConfig(t, fmt.Sprintf(`spool_dir: %s
controller:
  data_dir: %s
  nats: {listen: "127.0.0.1:%d"}
  agents:
    - {machine: desk-1, user: desk-1, password: {env: PW_DESK_1}}
    - {machine: desk-2, user: desk-2, password: {env: PW_DESK_2}}
  archive:
    endpoint: %q
    region: %s
    bucket: %s
    path_style: true
    access_key_id: {env: S3_ACCESS_KEY_ID}
    secret_access_key: {env: S3_SECRET_ACCESS_KEY}
    prefix: archive
  cloud:
    listen: "127.0.0.1:0"
    confirm_window: 5s
    access_keys: [{id: ops, secret_sha256: %q, permissions: [RecordScreenInteraction]}]
    signing_keys: [{id: k, key: {env: SIGNING_KEY}}]
admin:
  enabled: true
  listen: "127.0.0.1:0"
  token: {env: ADMIN_TOKEN}
`, dir, filepath.Join(dir, "js"), freePort(t), s3srv.URL, s3server.Region, s3server.Bucket, cloud.HashSecret(secret)))
	ctl := exec.Command(recorderBin, "controller", "--config", ccfg)
	ctl.Env = append(os.Environ(), "PW_DESK_1=pw-1", "PW_DESK_2=pw-2", "SIGNING_KEY=signing-key-0123456789abcdef0123456789abcdef",
		"S3_ACCESS_KEY_ID="+s3server.AccessKey, "S3_SECRET_ACCESS_KEY="+s3server.SecretKey, "ADMIN_TOKEN="+adminToken)
	var ctlErr lockedBuffer
	ctl.Stderr = &ctlErr
	ctlLines := lineWaiter(t, ctl)
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctl.Process.Kill(); _ = ctl.Wait() })
	natsURL := waitLine(t, ctlLines, "embedded NATS listening on ", &ctlErr)
	apiURL := waitLine(t, ctlLines, "cloud API http listening on ", &ctlErr)
	viewURL := waitLine(t, ctlLines, "admin API (fleet view) listening on ", &ctlErr)
	go func() {
		for range ctlLines {
		}
	}()

	type agent struct {
		cmd   *exec.Cmd
		spool string
		err   lockedBuffer // read while the process writes it
	}
	var agents []*agent
	for i, user := range []string{"1001", "1002"} {
		d := newDesk(t)
		a := &agent{spool: t.TempDir()}
		cfg := writeConfig(t, fmt.Sprintf(`spool_dir: %s
display: %q
engine: {segment_duration: 0s}
frontends:
  - name: fleet
    config:
      urls: [%q]
      machine: desk-%d
      user: desk-%d
      password: {env: FLEET_PASSWORD}
      heartbeat: 200ms
      users: [{id: %q, display: %q}]
uploaders:
  - name: s3
    config:
      signer: fleet
      fleet: {urls: [%q], machine: desk-%d, user: desk-%d, password: {env: FLEET_PASSWORD}, reconnect_wait: 200ms}
upload: {targets: [s3], keep_uploaded: true}
`, a.spool, d.srv.Display, natsURL, i+1, i+1, user, d.srv.Display, natsURL, i+1, i+1))
		if b, _ := os.ReadFile(cfg); bytes.Contains(b, []byte(s3server.AccessKey)) || bytes.Contains(b, []byte(s3server.SecretKey)) {
			t.Fatalf("the agent's config holds S3 credentials: %s", b)
		}
		a.cmd = exec.Command(recorderBin, "run", "--config", cfg)
		a.cmd.Env = append(d.srv.Env(), fmt.Sprintf("FLEET_PASSWORD=pw-%d", i+1))
		for _, e := range a.cmd.Env {
			if strings.Contains(e, s3server.SecretKey) {
				t.Fatalf("the agent's environment holds the S3 secret: %s", e)
			}
		}
		a.cmd.Stderr = &a.err
		lines := lineWaiter(t, a.cmd)
		if err := a.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.cmd.Process.Kill(); _ = a.cmd.Wait() })
		waitLine(t, lines, "front end fleet: nats listening on", &a.err)
		go func() {
			for range lines {
			}
		}()
		agents = append(agents, a)
	}

	resp, err := http.Post(apiURL+cloud.PathToken, "application/json", strings.NewReader(`{"accessKeyId":"ops","accessKeySecret":"`+secret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	type answer struct {
		status        int
		ContactID     int64  `json:"contactId"`
		InteractionID string `json:"interactionId"`
		body          string
	}
	call := func(path, query string) answer {
		req, _ := http.NewRequest(http.MethodPost, apiURL+path+"?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var a answer
		_ = json.Unmarshal(b, &a)
		a.status, a.body = resp.StatusCode, string(b)
		return a
	}
	start := func(user string) answer {
		var a answer
		for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if a = call(cloud.PathStart, "recordingDuration=600&userId="+user); a.status != http.StatusNotFound {
				break // 404 until the machine's first heartbeat is in
			}
		}
		if a.status != http.StatusOK && a.status != http.StatusAccepted {
			t.Fatalf("start %s: %d %s", user, a.status, a.body)
		}
		return a
	}
	s1, s2 := start("1001"), start("1002")
	if s2.ContactID <= s1.ContactID {
		t.Errorf("contact ids %d then %d", s1.ContactID, s2.ContactID)
	}
	if again := call(cloud.PathStart, "recordingDuration=900&userId=1001"); again.status != http.StatusOK || again.ContactID != s1.ContactID {
		t.Errorf("repeat start: %d %s", again.status, again.body)
	}
	time.Sleep(2 * time.Second)
	for _, s := range []struct {
		user    string
		contact int64
	}{{"1001", s1.ContactID}, {"1002", s2.ContactID}} {
		if got := call(cloud.PathStop, fmt.Sprintf("userId=%s&contactId=%d", s.user, s.contact)); got.status != http.StatusOK && got.status != http.StatusAccepted {
			t.Errorf("stop %s: %d %s", s.user, got.status, got.body)
		}
	}
	// Each machine holds its own user's recording, and only that one.
	for i, a := range agents {
		want := []int64{s1.ContactID, s2.ContactID}[i]
		var files []string
		var found []string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			files, _ = filepath.Glob(filepath.Join(a.spool, "*", "*.mp4"))
			found = found[:0]
			for _, f := range files {
				if res, err := mux.Inspect(f); err == nil && res.Complete {
					found = append(found, f)
				}
			}
			if len(found) == 1 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(found) != 1 {
			t.Fatalf("desk-%d: complete files %v of %v, want 1: %s", i+1, found, files, a.err.String())
		}
		tags, err := mux.Tags(found[0])
		if err != nil || tags["label_"+fleet.LabelContactID] != fmt.Sprint(want) || tags["contact_id"] != fmt.Sprint(want) ||
			tags["local_contact_id"] == "" {
			t.Errorf("desk-%d: tags %v %v, want label_%s and contact_id %d, and the machine's own as local_contact_id",
				i+1, tags, err, fleet.LabelContactID, want)
		}
		if res, _ := mux.Inspect(found[0]); res.Duration < time.Second {
			t.Errorf("desk-%d: %s lasts %s", i+1, found[0], res.Duration)
		}
	}
	// Each machine's recording lands in the archive, byte-identical, under its own key space,
	// and the controller's index says where.
	for i, user := range []string{"1001", "1002"} {
		files, _ := filepath.Glob(filepath.Join(agents[i].spool, "*", "*.mp4"))
		var obj fleet.ArchiveObject
		waittest.Until(t, fmt.Sprintf("desk-%d's segment landed and indexed", i+1), 90*time.Second, func() (bool, string) {
			req, _ := http.NewRequest(http.MethodGet, viewURL+"/api/v1/fleet/users/"+user+"/recordings", nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var view struct {
				Recordings []struct {
					Machine string `json:"machine"`
					Archive []struct {
						Segment int `json:"segment"`
						fleet.ArchiveObject
					} `json:"archive"`
				} `json:"recordings"`
			}
			if json.Unmarshal(b, &view) != nil || len(view.Recordings) != 1 || len(view.Recordings[0].Archive) != 1 ||
				view.Recordings[0].Archive[0].Segment != 1 || view.Recordings[0].Archive[0].State != fleet.ArchiveLanded {
				return false, string(b) + " " + agents[i].err.String()
			}
			obj = view.Recordings[0].Archive[0].ArchiveObject
			return true, ""
		})
		if len(files) != 1 || !strings.HasPrefix(obj.Key, fmt.Sprintf("archive/desk-%d/%s/", i+1, user)) || obj.Bucket != s3server.Bucket {
			t.Fatalf("desk-%d: files %v, archived %+v", i+1, files, obj)
		}
		want, _ := os.ReadFile(files[0])
		o, err := s3srv.Client().GetObject(context.Background(), s3server.Bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(o)
		if err != nil || !bytes.Equal(got, want) || obj.Bytes != int64(len(want)) {
			t.Errorf("desk-%d: %s holds %d bytes (%v), the file %d, the index says %d", i+1, obj.Key, len(got), err, len(want), obj.Bytes)
		}
	}
	for _, a := range agents {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
	}
	_ = ctl.Process.Signal(syscall.SIGTERM)
}
