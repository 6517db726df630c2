package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/fleet/controller"
	"github.com/screenrec/recorder/frontends/cloud"
	fleetfe "github.com/screenrec/recorder/frontends/fleet"
	"github.com/screenrec/recorder/internal/waittest"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

const (
	accessKeyID  = "ops"
	accessSecret = "ops-secret-3b9f0d6a9c2e4f7a8b1c5d0e2f4a6b8c0011"
	signingKey   = "signing-key-A-0123456789abcdef0123456789abcdef"
)

// startServer starts an embedded NATS server with JetStream in a temporary folder.
func startServer(t *testing.T, cfg controller.ServerConfig) *server.Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	s, err := controller.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond),
		nats.RetryOnFailedConnect(true)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// openController opens a controller replica on its own connection.
func openController(t *testing.T, url string, opts controller.Options, nopts ...nats.Option) *controller.Controller {
	t.Helper()
	nc := connect(t, url, nopts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := controller.Open(ctx, nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type user struct{ id, display string }

// startAgent runs the fleet front end of machine with eng, its users present.
func startAgent(t *testing.T, urls []string, machine string, eng sdk.Engine, users []user, extra map[string]any) *fleetfe.Fleet {
	t.Helper()
	var us []any
	for _, u := range users {
		us = append(us, map[string]any{"id": u.id, "display": u.display})
	}
	cfg := map[string]any{"urls": urls, "machine": machine, "heartbeat": "100ms", "reconnect_wait": "50ms", "users": us}
	for k, v := range extra {
		cfg[k] = v
	}
	raw, _ := json.Marshal(cfg)
	f := fleetfe.New()
	diags, err := f.Configure(context.Background(), raw)
	if err != nil || len(diags) > 0 {
		t.Fatalf("configure agent %s: %v %+v", machine, err, diags)
	}
	if _, err := f.Serve(context.Background(), eng); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = f.Stop(ctx)
	})
	return f
}

func fakeEngine(t *testing.T) *sdktest.FakeEngine {
	e := sdktest.NewFakeEngine()
	t.Cleanup(e.Close)
	return e
}

// api is the cloud API served by one controller replica.
type cloudAPI struct {
	url   string
	token string
}

func serveCloud(t *testing.T, c *controller.Controller, engineTimeout string) *cloudAPI {
	t.Helper()
	cfg := map[string]any{
		"listen":         "127.0.0.1:0",
		"access_keys":    []any{map[string]any{"id": accessKeyID, "secret_sha256": cloud.HashSecret(accessSecret), "permissions": []any{cloud.PermissionRecordScreenInteraction}}},
		"signing_keys":   []any{map[string]any{"id": "a", "key": signingKey}},
		"engine_timeout": engineTimeout,
		"confirm_window": "1s",
	}
	raw, _ := json.Marshal(cfg)
	fe := cloud.NewWithDirectory(c)
	diags, err := fe.Configure(context.Background(), raw)
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			t.Fatalf("cloud config: %+v", diags)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	eps, err := fe.Serve(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fe.Stop(context.Background()) })
	a := &cloudAPI{url: eps[0].URL}
	body := fmt.Sprintf(`{"accessKeyId":%q,"accessKeySecret":%q}`, accessKeyID, accessSecret)
	resp, err := http.Post(a.url+cloud.PathToken, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v %d", err, resp.StatusCode)
	}
	a.token = tok.AccessToken
	return a
}

type answer struct {
	Status        int
	ContactID     int64  `json:"contactId"`
	InteractionID string `json:"interactionId"`
	HTTPStatus    string `json:"httpStatus"`
	Description   string `json:"description"`
}

func (a *cloudAPI) call(t *testing.T, path, query string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.url+path+"?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out answer
	_ = json.Unmarshal(b, &out)
	out.Status = resp.StatusCode
	if out.Description == "" {
		out.Description = string(b)
	}
	return out
}

func (a *cloudAPI) start(t *testing.T, user string, secs int) answer {
	return a.call(t, cloud.PathStart, fmt.Sprintf("userId=%s&recordingDuration=%d", user, secs))
}

func (a *cloudAPI) stop(t *testing.T, user string, contact int64) answer {
	return a.call(t, cloud.PathStop, fmt.Sprintf("userId=%s&contactId=%d", user, contact))
}

// waitFor polls cond until it holds or d passes (waittest.Until).
func waitFor(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	waittest.Until(t, what, d, cond)
}

// waitPresent waits until c finds user on a machine.
func waitPresent(t *testing.T, c *controller.Controller, user string) {
	t.Helper()
	waitFor(t, "presence of "+user, 30*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.Locate(ctx, user)
		return err == nil, fmt.Sprint(err)
	})
}
