package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/color"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/mediatest"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

const (
	cloudKeyID     = "key-1"
	cloudKeySecret = "a-long-random-access-key-secret-for-tests"
	cloudUser      = "agent-42"
	cloudPath      = "/interaction-recording-management-service/v1/interactions/"
)

// cloudStack is a recorder with the cloud front end as a plugin process (and SRS beside it).
type cloudStack struct {
	*stack
	cloud string
}

// newCloudStack starts a stack with the cloud front end too; extra, given the display, returns
// config keys that replace the test defaults.
func newCloudStack(t testing.TB, extra ...func(display string) map[string]any) *cloudStack {
	t.Helper()
	s := newStack(t, map[string]any{"recording_when": "session", "ping_timeout": "60s"})
	sum := sha256.Sum256([]byte(cloudKeySecret))
	port := freePort(t)
	conf := map[string]any{
		"listen":       fmt.Sprintf("127.0.0.1:%d", port),
		"users":        []map[string]any{{"id": cloudUser, "display": s.srv.Display}, {"id": "jdoe", "display": s.srv.Display}, {"id": "other", "display": s.srv.Display}},
		"access_keys":  []map[string]any{{"id": cloudKeyID, "secret_sha256": hex.EncodeToString(sum[:]), "permissions": []string{"RecordScreenInteraction"}}},
		"signing_keys": []map[string]any{{"id": "k1", "key": map[string]any{"env": "E2E_CLOUD_SIGNING_KEY"}}},
	}
	for _, e := range extra {
		for k, v := range e(s.srv.Display) {
			conf[k] = v
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.host.Load(ctx, []host.Spec{{Name: "cloud", Kind: sdk.KindFrontend, Config: conf, Where: "frontends[1]"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.host.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	return &cloudStack{stack: s, cloud: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

// token gets an access token.
func (c *cloudStack) token(t testing.TB) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"accessKeyId": cloudKeyID, "accessKeySecret": cloudKeySecret})
	resp, err := http.Post(c.cloud+"/authentication/v1/token/access-key", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token: %s %v", resp.Status, err)
	}
	return tok.AccessToken
}

type cloudAnswer struct {
	Status        int
	ContactID     int64  `json:"contactId"`
	InteractionID string `json:"interactionId"`
	HTTPStatus    string `json:"httpStatus"`
	Description   string `json:"description"`
}

func (c *cloudStack) call(t testing.TB, token, op string, q url.Values) cloudAnswer {
	t.Helper()
	req, _ := http.NewRequest("POST", c.cloud+cloudPath+op+"?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	a := cloudAnswer{Status: resp.StatusCode}
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return a
}

func startQ(user string, seconds int) url.Values {
	return url.Values{"userId": {user}, "recordingDuration": {fmt.Sprint(seconds)}}
}

func stopQ(user string, contact int64) url.Values {
	return url.Values{"userId": {user}, "contactId": {fmt.Sprint(contact)}}
}

// A 5 s recording stops by itself at 5 s; stopping then, or twice, or with another user's
// contact id is 404.
func TestCloudRecordingStopsAtItsDuration(t *testing.T) {
	t.Parallel()
	c := newCloudStack(t)
	tok := c.token(t)
	a := c.call(t, tok, "start-screen-interaction-recording", startQ(cloudUser, 5))
	if (a.Status != 200 && a.Status != 202) || a.ContactID == 0 || a.InteractionID == "" {
		t.Fatalf("start: %+v", a)
	}
	if got := c.call(t, tok, "stop-screen-interaction-recording", stopQ("other", a.ContactID)); got.Status != 404 {
		t.Errorf("stop with another user's contact id: %+v, want 404", got)
	}
	var sess engine.Session
	deadline := time.Now().Add(9 * time.Second)
	for time.Now().Before(deadline) {
		list, _ := c.eng.List(context.Background(), engine.ListFilter{Owner: cloudUser})
		if len(list) == 1 && list[0].State == engine.StateCompleted {
			sess = list[0]
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sess.ContactID != a.ContactID || !near(sess.Duration, 5*time.Second, 500*time.Millisecond) {
		t.Fatalf("recording after its duration: %+v", sess)
	}
	p, err := mediatest.ProbeFile(context.Background(), sess.Segments[0].Path)
	if err != nil || p.Format.Duration < 4.5 || p.Format.Duration > 5.5 {
		t.Errorf("file: %v %v, want 5 s ±0.5", p, err)
	}
	if got := c.call(t, tok, "stop-screen-interaction-recording", stopQ(cloudUser, a.ContactID)); got.Status != 404 {
		t.Errorf("stop after it ended: %+v, want 404", got)
	}
}

// The cloud plugin is killed mid-recording: the recording goes on, and the restarted plugin
// still stops it by contact id; stopping twice is 404.
func TestCloudSurvivesPluginKill(t *testing.T) {
	t.Parallel()
	c := newCloudStack(t)
	tok := c.token(t)
	a := c.call(t, tok, "start-screen-interaction-recording", startQ(cloudUser, 60))
	if a.Status != 200 && a.Status != 202 {
		t.Fatalf("start: %+v", a)
	}
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(c.host.Pid(sdk.KindFrontend, "cloud"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var stopped cloudAnswer
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) { // the plugin is back within 2 s; tokens survive (same keys)
		if stopped = c.callSafe(tok, "stop-screen-interaction-recording", stopQ(cloudUser, a.ContactID)); stopped.Status == 200 || stopped.Status == 202 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if stopped.Status != 200 && stopped.Status != 202 || stopped.ContactID != a.ContactID {
		t.Fatalf("stop through the restarted plugin: %+v", stopped)
	}
	if got := c.call(t, tok, "stop-screen-interaction-recording", stopQ(cloudUser, a.ContactID)); got.Status != 404 {
		t.Errorf("second stop: %+v, want 404", got)
	}
}

// callSafe is call that reports a connection error as status 0 (the plugin may be down).
func (c *cloudStack) callSafe(token, op string, q url.Values) cloudAnswer {
	req, _ := http.NewRequest("POST", c.cloud+cloudPath+op+"?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cloudAnswer{}
	}
	defer resp.Body.Close()
	a := cloudAnswer{Status: resp.StatusCode}
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return a
}

// An SRS session and a cloud recording of the same user run side by side with two contact ids;
// masking the user blanks both.
func TestCloudBesideSRSAndMasking(t *testing.T) {
	t.Parallel()
	c := newCloudStack(t)
	ag := newAgent(t, c.srs, "jdoe", "s3cret")
	var m me
	if code := ag.do("GET", "/api/v2/me", nil, true, &m); code != 200 {
		t.Fatalf("srs login: %d", code)
	}
	tok := c.token(t)
	a := c.call(t, tok, "start-screen-interaction-recording", startQ("jdoe", 60))
	if a.Status != 200 && a.Status != 202 {
		t.Fatalf("cloud start: %+v", a)
	}
	srsSess, _ := c.eng.Get(context.Background(), m.Recording.RecordingID)
	if srsSess.ContactID == a.ContactID || srsSess.ContactID == 0 {
		t.Fatalf("contact ids: srs %d, cloud %d", srsSess.ContactID, a.ContactID)
	}
	time.Sleep(time.Second)
	affected, err := c.eng.Mask(context.Background(), engine.MaskTarget{Owner: "jdoe"}, true)
	if err != nil || len(affected) != 2 {
		t.Fatalf("mask: %d sessions, %v", len(affected), err)
	}
	time.Sleep(1500 * time.Millisecond)
	if st := c.call(t, tok, "stop-screen-interaction-recording", stopQ("jdoe", a.ContactID)); st.Status != 200 && st.Status != 202 {
		t.Fatalf("cloud stop: %+v", st)
	}
	if code := ag.do("POST", "/api/v2/me", map[string]string{"operationName": "EndContactCenterSession"}, false, nil); code != 200 {
		t.Fatalf("srs logout: %d", code)
	}
	for _, id := range []string{m.Recording.RecordingID} {
		s, _ := c.eng.Get(context.Background(), id)
		if len(s.MaskedIntervals) != 1 {
			t.Errorf("srs recording masked intervals: %+v", s.MaskedIntervals)
		}
	}
	list, _ := c.eng.List(context.Background(), engine.ListFilter{Owner: "jdoe"})
	for _, s := range list {
		if s.State != engine.StateCompleted && s.State != engine.StateStopping && s.State != engine.StateFinalizing {
			continue
		}
		deadline := time.Now().Add(5 * time.Second)
		for s.State != engine.StateCompleted && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			s, _ = c.eng.Get(context.Background(), s.ID)
		}
		if len(s.MaskedIntervals) != 1 {
			t.Fatalf("%s recording: masked intervals %+v", s.Frontend, s.MaskedIntervals)
		}
		iv := s.MaskedIntervals[0]
		samples := []struct {
			at   float64
			want color.RGBA
		}{{iv.Start.Seconds() - 0.3, screenColour}, {(iv.Start.Seconds() + iv.End.Seconds()) / 2, color.RGBA{0, 0, 0, 255}}}
		imgs, err := mediatest.FramesAt(context.Background(), s.Segments[0].Path, 0, samples[0].at, samples[1].at) // one decode for both
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range samples {
			if px := imgs[i].RGBAAt(640, 360); !mediatest.Near(px, c.want, 14) {
				t.Errorf("%s recording at %.2fs shows %v, want %v", s.Frontend, c.at, px, c.want)
			}
		}
	}
}

func near(got, want, tol time.Duration) bool { return got >= want-tol && got <= want+tol }
