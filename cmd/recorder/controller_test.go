package main

import (
	"bufio"
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

	"github.com/screenrec/recorder/frontends/admin"
	"github.com/screenrec/recorder/frontends/cloud"
	fleetfe "github.com/screenrec/recorder/frontends/fleet"
	"github.com/screenrec/recorder/internal/waittest"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

// `recorder controller` with the embedded NATS server: an agent with its configured
// credentials joins, the cloud API starts a recording on it, the admin API's fleet view
// (behind the admin token) lists the machine, its user and the session, and SIGTERM stops the
// controller cleanly.
func TestControllerServesTheFleet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const secret = "ops-secret-0123456789abcdef0123456789abcdef"
	const adminToken = "admin-token-0123456789abcdef"
	cfg := fmt.Sprintf(`spool_dir: %s
controller:
  data_dir: %s
  nats: {listen: "127.0.0.1:%d"}
  agents:
    - {machine: desk-1, user: desk-1, password: {env: FLEET_DESK_1_PASSWORD}}
  cloud:
    listen: "127.0.0.1:0"
    access_keys: [{id: ops, secret_sha256: %q, permissions: [RecordScreenInteraction]}]
    signing_keys: [{id: k, key: {env: SIGNING_KEY}}]
admin:
  enabled: true
  listen: "127.0.0.1:0"
  token: {env: ADMIN_TOKEN}
`, dir, filepath.Join(dir, "js"), freePort(t), cloud.HashSecret(secret))
	path := writeConfig(t, cfg)
	cmd := exec.Command(recorderBin, "controller", "--config", path)
	cmd.Env = append(os.Environ(), "FLEET_DESK_1_PASSWORD=pw-desk-1", "SIGNING_KEY=signing-key-0123456789abcdef0123456789abcdef",
		"ADMIN_TOKEN="+adminToken)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var natsURL, apiURL, viewURL string
	deadline := time.After(60 * time.Second)
	for natsURL == "" || apiURL == "" || viewURL == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("controller exited: %s", stderr.String())
			}
			if _, u, ok := strings.Cut(l, "embedded NATS listening on "); ok {
				natsURL = u
			}
			if _, u, ok := strings.Cut(l, "cloud API http listening on "); ok {
				apiURL = u
			}
			if _, u, ok := strings.Cut(l, "admin API (fleet view) listening on "); ok {
				viewURL = u
			}
		case <-deadline:
			t.Fatalf("controller not ready; stderr: %s", stderr.String())
		}
	}

	eng := sdktest.NewFakeEngine()
	defer eng.Close()
	agent := fleetfe.New()
	raw, _ := json.Marshal(map[string]any{"urls": []string{natsURL}, "machine": "desk-1", "user": "desk-1", "password": "pw-desk-1",
		"heartbeat": "100ms", "users": []any{map[string]any{"id": "1234567", "display": ":7"}}})
	if diags, err := agent.Configure(context.Background(), raw); err != nil || len(diags) > 0 {
		t.Fatal(err, diags)
	}
	if _, err := agent.Serve(context.Background(), eng); err != nil {
		t.Fatal(err)
	}
	defer agent.Stop(context.Background())

	resp, err := http.Post(apiURL+cloud.PathToken, "application/json", strings.NewReader(`{"accessKeyId":"ops","accessKeySecret":"`+secret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	var status int
	var body []byte
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodPost, apiURL+cloud.PathStart+"?userId=1234567&recordingDuration=60", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if status = resp.StatusCode; status != http.StatusNotFound { // 404 until the agent's first heartbeat lands
			break
		}
	}
	if status != http.StatusOK && status != http.StatusAccepted {
		t.Fatalf("start: %d %s", status, body)
	}
	if s := eng.Owned("1234567"); len(s) != 1 || s[0].Source.Display != ":7" {
		t.Errorf("sessions on the agent: %+v", s)
	}
	view := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, viewURL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := view(admin.PathFleetMachines, ""); code != http.StatusUnauthorized {
		t.Errorf("fleet view without the token: %d %s", code, b)
	}
	if code, b := view(admin.PathFleetMachines, adminToken); code != http.StatusOK ||
		!strings.Contains(b, `"machine":"desk-1"`) || !strings.Contains(b, `"user":"1234567"`) {
		t.Errorf("fleet view, machines: %d %s", code, b)
	}
	if code, b := view(admin.PathReady, ""); code != http.StatusOK || !strings.Contains(b, `"name":"fleet","ok":true`) {
		t.Errorf("readyz: %d %s", code, b)
	}
	// The session reaches the index through the events stream: wait for it.
	waittest.Until(t, "the session in the fleet view", 30*time.Second, func() (bool, string) {
		code, b := view(admin.PathFleetSessions, adminToken)
		return code == http.StatusOK && strings.Contains(b, `"owner":"1234567"`), fmt.Sprint(code, " ", b)
	})
	if code, b := view("/api/v1/fleet/users/1234567/recordings", adminToken); code != http.StatusOK || !strings.Contains(b, `"machine":"desk-1"`) {
		t.Errorf("fleet view, the user's recordings: %d %s", code, b)
	}
	if code, b := view(admin.PathSessions, adminToken); code != http.StatusNotFound {
		t.Errorf("an engine operation on the controller: %d %s (want 404: it has no engine)", code, b)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	for l := range lines {
		if strings.Contains(l, "controller: stopped") {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("controller exit: %v; stderr: %s", err, stderr.String())
	}
}
