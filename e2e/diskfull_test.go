package e2e

import (
	"context"
	"fmt"
	"image"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/frontends/admin"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/internal/tmpfs"
	"github.com/screenrec/recorder/internal/xscene"
)

// floorReason is what the engine says when the spool's disk is below min_free_disk
// (api.ErrDiskFull's text): the session's error and the readiness check both name it.
const floorReason = "free disk space below the configured floor"

// `recorder run` with its spool on a small real tmpfs and min_free_disk 8MiB: an outside
// writer takes the disk below the floor while a session records moving content. The session
// fails with the floor as its reason (probe and admin API), /readyz answers 503 naming the
// floor in its spool check, and the recording's file decodes cleanly; once the space is back
// /readyz is 200 again and a new start works, without a restart.
func TestRunDiskFull(t *testing.T) {
	t.Parallel()
	mediatestSkip(t)
	const size, floor = 24 << 20, 8 << 20
	spool := tmpfs.MountForTest(t, size)
	srv := newDisplay(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = xscene.Animate(ctx, srv.Display, image.Rectangle{}, 30) }() // a still screen writes little

	probePort, adminAddr := freePort(t), freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "recorder.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`spool_dir: %s
display: %q
engine: {segment_duration: 0, min_free_disk: %d}
frontends:
  - name: probe
    config: {listen: "127.0.0.1:%d"}
uploaders:
  - name: noop
upload: {keep_uploaded: true}
admin: {enabled: true, listen: %q, token: {env: E2E_ADMIN_TOKEN}}
`, spool, srv.Display, floor, probePort, adminAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	runService(t, cfg, srv.Display, "admin API listening on http://"+adminAddr, "E2E_ADMIN_TOKEN="+adminToken)
	adm := newAdminClient(t, adminAddr)
	probe := &agent{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", probePort), c: http.DefaultClient}
	readyz := func() (int, admin.Check) {
		t.Helper()
		var ready admin.Readiness
		code, body := adm.call("GET", "/readyz", "", &ready)
		for _, c := range ready.Checks {
			if c.Name == admin.CheckSpool {
				return code, c
			}
		}
		t.Fatalf("readyz: %d %s: no spool check", code, body)
		return 0, admin.Check{}
	}
	if code, c := readyz(); code != 200 || !c.OK {
		t.Fatalf("readyz with room: %d %+v", code, c)
	}

	var s engine.Session
	if code := probe.do("POST", "/sessions", engine.StartRequest{Owner: "agent-1", Frontend: "probe",
		Source: engine.Source{Display: srv.Display}}, false, &s); code != 201 {
		t.Fatalf("start through the probe: %d", code)
	}
	// Recording for real: some fragments written before the disk fills.
	eventually(t, 30*time.Second, "the session to write its first fragments", func() bool {
		probe.do("GET", "/sessions/"+s.ID, nil, false, &s)
		return len(s.Segments) > 0 && s.Segments[0].Bytes > 64<<10
	})

	began := time.Now()
	filler := tmpfs.Fill(t, spool, floor-1<<20)
	filled := time.Now()
	t.Logf("filled the tmpfs to %d bytes free (floor %d) in %v", tmpfs.Free(t, spool), floor, filled.Sub(began).Round(time.Millisecond))
	eventually(t, 30*time.Second, "the session to fail below the floor", func() bool {
		probe.do("GET", "/sessions/"+s.ID, nil, false, &s)
		return s.State == engine.StateFailed
	})
	t.Logf("the probe API showed failed %v after the disk went below the floor", time.Since(filled).Round(time.Millisecond))
	if !strings.Contains(s.Error, floorReason) {
		t.Fatalf("session failed with %q, want the floor (%q)", s.Error, floorReason)
	}
	var rec admin.Session
	eventually(t, 30*time.Second, "the admin API to show the recording failed and ended", func() bool {
		code, _ := adm.call("GET", "/api/v1/recordings/"+s.ID, adminToken, &rec)
		return code == 200 && rec.State == "failed" && !rec.EndedAt.IsZero()
	})
	if !strings.Contains(rec.Error, floorReason) || len(rec.Segments) == 0 {
		t.Fatalf("admin API recording %+v, want failed with the floor and its segments", rec)
	}
	if code, c := readyz(); code != 503 || c.OK || !strings.Contains(c.Error, floorReason) {
		t.Fatalf("readyz below the floor: %d %+v, want 503 with the spool check naming the floor", code, c)
	}
	for _, sg := range rec.Segments {
		msgs, err := mediatest.DecodeErrors(context.Background(), sg.Path)
		if err != nil || msgs != "" {
			t.Errorf("%s does not decode cleanly: %v %s", sg.Path, err, msgs)
		}
		t.Logf("%s: %d bytes, recording lasted %d ms", sg.Path, sg.Bytes, rec.DurationMS)
	}
	// What it recorded is delivered all the same.
	var ups admin.Uploads
	eventually(t, 30*time.Second, "the failed recording's segments to be uploaded", func() bool {
		adm.call("GET", "/api/v1/uploads?recording_id="+s.ID, adminToken, &ups)
		done := 0
		for _, u := range ups.Uploads {
			if u.State == "uploaded" {
				done++
			}
		}
		return len(ups.Uploads) == len(rec.Segments) && done == len(rec.Segments)
	})
	t.Logf("uploads of the failed recording: %+v", ups.Uploads)

	// Space comes back: ready again, and a start works, with no restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "readyz to be 200 once space is back", func() bool {
		code, c := readyz()
		return code == 200 && c.OK
	})
	var again engine.Session
	if code := probe.do("POST", "/sessions", engine.StartRequest{Owner: "agent-2", Frontend: "probe",
		Source: engine.Source{Display: srv.Display}}, false, &again); code != 201 {
		t.Fatalf("start through the probe once space is back: %d", code)
	}
	eventually(t, 30*time.Second, "the new session to record", func() bool {
		probe.do("GET", "/sessions/"+again.ID, nil, false, &again)
		return len(again.Segments) > 0 && again.Segments[0].Bytes > 0
	})
	if code := probe.do("POST", "/sessions/"+again.ID+"/stop", nil, false, &again); code != 200 || again.State != engine.StateCompleted {
		t.Fatalf("stop of the new session: %d %s %q", code, again.State, again.Error)
	}
}
