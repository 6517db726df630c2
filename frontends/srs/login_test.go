package srs

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

func TestLoginDefaultPlace(t *testing.T) {
	e := newEnv(t, nil)
	r := e.login("alice", nil).want(t, http.StatusOK)
	b := r.json(t)
	rec, _ := b["recording"].(map[string]any)
	if b["statusCode"] != 0.0 || b["agent"] != "alice" || b["place"] != "Place_101" || b["server"] != rws1 ||
		b["peerServer"] != rws2 || b["pingTimeoutSeconds"] != 5.0 || rec == nil || rec["state"] != "recording" {
		t.Errorf("session %s", r.body)
	}
	if devs, _ := b["devices"].([]any); len(devs) != 1 || !reflect.DeepEqual(devs[0], map[string]any{"dn": "7001", "switch": "SIP_Switch"}) {
		t.Errorf("devices %v", b["devices"])
	}
	since, err := time.Parse(time.RFC3339, fmt.Sprint(rec["since"]))
	if err != nil || time.Since(since) > time.Minute {
		t.Errorf("since %v: %v", rec["since"], err)
	}
	reqs := e.eng.startReqs()
	if len(reqs) != 1 {
		t.Fatalf("%d engine starts, want 1", len(reqs))
	}
	want := api.StartRequest{Owner: "alice", Frontend: "srs", Reason: "srs login", Source: api.Source{Display: ":10"},
		Labels: map[string]string{"place": "Place_101", "server": rws1, "peer_server": rws2, "devices": "7001@SIP_Switch"}}
	if !reflect.DeepEqual(reqs[0], want) {
		t.Errorf("engine Start(%+v), want %+v", reqs[0], want)
	}
	if rec["recordingId"] != e.eng.startReqsIDs()[0] {
		t.Errorf("recordingId %v", rec["recordingId"])
	}

	// Idempotent: the same agent gets the same session, no second recording.
	r2 := e.login("alice", nil).want(t, http.StatusOK)
	if r2.cookie().Value != r.cookie().Value {
		t.Error("a second GET login made a new session")
	}
	if b2 := r2.json(t); b2["recording"].(map[string]any)["recordingId"] != rec["recordingId"] {
		t.Errorf("second login: recording %v", b2["recording"])
	}
	if starts, _ := e.eng.counts(); starts != 1 {
		t.Errorf("%d engine starts after two logins, want 1", starts)
	}

	// An agent without an agents entry: the configured display, no place.
	b = e.login("bob", nil).want(t, http.StatusOK).json(t)
	if b["place"] != "" || len(b["devices"].([]any)) != 0 {
		t.Errorf("bob's session %v", b)
	}
	if got := e.eng.startReqs()[1]; got.Source.Display != ":0" || got.Owner != "bob" {
		t.Errorf("bob's Start %+v, want display :0", got)
	}
	// The trailing-slash alias.
	e.do(req{path: "/api/v2/me/", user: "bob", pass: "hunter2"}).want(t, http.StatusOK)
}

func TestLoginPOSTValidation(t *testing.T) {
	e := newEnv(t, nil)
	big := `[{"name":"server","value":"https://rws.example.com"},{"name":"pad","value":"` + strings.Repeat("x", MaxBody) + `"}]`
	for _, c := range []struct {
		name   string
		body   string
		ct     string
		status int
		msg    string
	}{
		{"malformed JSON", `[{"name":"server",`, "", 400, "malformed JSON"},
		{"not JSON at all", `server=https://x`, "", 400, "malformed JSON"},
		{"trailing data", `[{"name":"server","value":"https://rws.example.com"}] []`, "", 400, "after the top-level value"},
		{"empty body", ``, "application/json", 400, "malformed JSON"},
		{"object instead of array", `{"server":"https://rws.example.com"}`, "", 400, "must be a JSON array"},
		{"string", `"https://rws.example.com"`, "", 400, "must be a JSON array"},
		{"null", `null`, "", 400, "must be a JSON array"},
		{"item not an object", `["server"]`, "", 400, "item 0"},
		{"item without name", `[{"value":"https://rws.example.com"}]`, "", 400, "item 0: name must be a non-empty string"},
		{"name not a string", `[{"name":1,"value":"x"}]`, "", 400, "item 0: name"},
		{"server missing", `[]`, "", 400, "server is required"},
		{"only place", `[{"name":"place","value":"P"}]`, "", 400, "server is required"},
		{"server without value", `[{"name":"server"}]`, "", 400, "item 0 (server): missing value"},
		{"server a number", `[{"name":"server","value":8080}]`, "", 400, "item 0 (server): value must be a URL string, not a number"},
		{"server an object", `[{"name":"server","value":{"url":"https://x"}}]`, "", 400, "item 0 (server)"},
		{"server relative", `[{"name":"server","value":"rws.example.com:443"}]`, "", 400, "item 0 (server)"},
		{"server path only", `[{"name":"server","value":"/api"}]`, "", 400, "not an absolute http or https URL"},
		{"server ftp", `[{"name":"server","value":"ftp://rws.example.com"}]`, "", 400, "not an absolute http or https URL"},
		{"server no host", `[{"name":"server","value":"https://"}]`, "", 400, "has no host"},
		{"server with user info", `[{"name":"server","value":"https://u:p@rws.example.com"}]`, "", 400, "user info"},
		{"server empty", `[{"name":"server","value":""}]`, "", 400, "item 0 (server)"},
		{"server twice", `[{"name":"server","value":"https://a.example.com"},{"name":"server","value":"https://b.example.com"}]`, "", 400, "item 1 (server): server is given twice"},
		{"peer_server relative", `[{"name":"server","value":"https://a.example.com"},{"name":"peer_server","value":"b.example.com"}]`, "", 400, "item 1 (peer_server)"},
		{"peer_server a list", `[{"name":"server","value":"https://a.example.com"},{"name":"peer_server","value":["https://b.example.com"]}]`, "", 400, "item 1 (peer_server): value must be a URL string, not an array"},
		{"place a number", `[{"name":"server","value":"https://a.example.com"},{"name":"place","value":101}]`, "", 400, "item 1 (place): value must be a non-empty string, not a number"},
		{"place empty", `[{"name":"server","value":"https://a.example.com"},{"name":"place","value":""}]`, "", 400, "item 1 (place)"},
		{"devices not an array", `[{"name":"server","value":"https://a.example.com"},{"name":"place","value":"P"},{"name":"devices","value":{"dn":"1","switch":"S"}}]`, "", 400, "item 2 (devices): value must be an array"},
		{"device not an object", `[{"name":"server","value":"https://a.example.com"},{"name":"place","value":"P"},{"name":"devices","value":["7001"]}]`, "", 400, "item 2 (devices): device 0 must be an object"},
		{"device without switch", `[{"name":"server","value":"https://a.example.com"},{"name":"place","value":"P"},{"name":"devices","value":[{"dn":"7001","switch":"S"},{"dn":"7002"}]}]`, "", 400, "item 2 (devices): device 1: switch must be a non-empty string"},
		{"device with empty dn", `[{"name":"server","value":"https://a.example.com"},{"name":"place","value":"P"},{"name":"devices","value":[{"dn":"","switch":"S"}]}]`, "", 400, "device 0: dn must be a non-empty string"},
		{"device dn a number", `[{"name":"server","value":"https://a.example.com"},{"name":"place","value":"P"},{"name":"devices","value":[{"dn":7001,"switch":"S"}]}]`, "", 400, "device 0: dn"},
		{"devices without place", `[{"name":"server","value":"https://a.example.com"},{"name":"devices","value":[{"dn":"7001","switch":"S"}]}]`, "", 400, "devices without place"},
		{"unknown operationName", `{"operationName":"StartContactCenterSession"}`, "", 400, `unknown operationName "StartContactCenterSession"`},
		{"operationName a number", `{"operationName":1}`, "", 400, "operationName must be a string"},
		{"too large", big, "", 413, "over the limit"},
		{"text/plain", `[{"name":"server","value":"https://a.example.com"}]`, "text/plain", 415, "Content-Type must be application/json, not text/plain"},
		{"form", `server=https://a.example.com`, "application/x-www-form-urlencoded", 415, "Content-Type must be application/json"},
		{"no content type", `[{"name":"server","value":"https://a.example.com"}]`, "-", 415, "Content-Type must be application/json, not none"},
		{"bad content type", `[]`, "application/", 415, "Content-Type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(req{method: http.MethodPost, path: "/api/v2/me", user: "alice", pass: "secret", body: c.body, ct: c.ct})
			r.wantError(t, c.status, c.msg)
		})
	}
	if starts, _ := e.eng.counts(); starts != 0 {
		t.Errorf("refused logins started %d recordings", starts)
	}
	// A body over the limit without a Content-Length (chunked) is refused too.
	t.Run("too large chunked", func(t *testing.T) {
		pr := strings.NewReader(big)
		hr, _ := http.NewRequest(http.MethodPost, e.url+"/api/v2/me", struct{ *strings.Reader }{pr})
		hr.Header.Set("Content-Type", "application/json")
		hr.SetBasicAuth("alice", "secret")
		res, err := e.client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked oversized body: %d", res.StatusCode)
		}
	})

	t.Run("accepted", func(t *testing.T) {
		for _, c := range []struct{ ct, body string }{
			{"application/json; charset=utf-8", `[{"name":"server","value":"https://rws.dc1.example.com:4443"}]`},
			{"application/vnd.srs+json", `[{"name":"server","value":"http://10.0.0.1:8080/rws/"}]`},
			// Unknown names are ignored, whatever their value.
			{"application/json", `[{"name":"server","value":"https://rws.dc1.example.com"},{"name":"future","value":{"x":[1,2]}},{"name":"other"}]`},
		} {
			e.do(req{method: http.MethodPost, path: "/api/v2/me", user: "bob", pass: "hunter2", body: c.body, ct: c.ct}).want(t, http.StatusOK)
		}
	})
}

func TestLoginPOSTHotSeating(t *testing.T) {
	e := newEnv(t, nil)
	body := `[{"name":"server","value":"https://rws.dc1.example.com"},{"name":"peer_server","value":"https://rws.dc2.example.com"},` +
		`{"name":"place","value":"Place_202"},{"name":"devices","value":[{"dn":"DN1","switch":"Switch"},{"dn":"DN2","switch":"Switch"}]}]`
	b := e.loginPOST("bob", body, nil).want(t, http.StatusOK).json(t)
	if b["place"] != "Place_202" || b["server"] != rws1 || b["peerServer"] != rws2 {
		t.Errorf("session %v", b)
	}
	if devs := b["devices"].([]any); len(devs) != 2 || devs[1].(map[string]any)["dn"] != "DN2" {
		t.Errorf("devices %v", b["devices"])
	}
	want := map[string]string{"place": "Place_202", "server": rws1, "peer_server": rws2, "devices": "DN1@Switch,DN2@Switch"}
	if got := e.eng.startReqs()[0].Labels; !reflect.DeepEqual(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
	// A POST without place: the agent's default place.
	b = e.loginPOST("alice", `[{"name":"server","value":"https://rws.dc1.example.com"}]`, nil).want(t, http.StatusOK).json(t)
	if b["place"] != "Place_101" || b["peerServer"] != "" || len(b["devices"].([]any)) != 1 {
		t.Errorf("default place: %v", b)
	}
}

func TestReloginUpdatesInPlace(t *testing.T) {
	e := newEnv(t, nil)
	first := e.loginPOST("alice", `[{"name":"server","value":"https://rws.dc1.example.com"},{"name":"peer_server","value":"https://rws.dc2.example.com"},{"name":"place","value":"Place_A"}]`, nil).want(t, http.StatusOK)
	recID := first.json(t)["recording"].(map[string]any)["recordingId"]
	// The agent switches place, then the desktop fails over to the backup data centre.
	e.loginPOST("alice", `[{"name":"server","value":"https://rws.dc1.example.com"},{"name":"place","value":"Place_B"},{"name":"devices","value":[{"dn":"7002","switch":"SIP"}]}]`, nil).want(t, http.StatusOK)
	r := e.loginPOST("alice", `[{"name":"server","value":"https://rws.dc2.example.com"},{"name":"place","value":"Place_B"}]`, nil).want(t, http.StatusOK)
	b := r.json(t)
	if b["place"] != "Place_B" || b["server"] != rws2 || b["peerServer"] != "" {
		t.Errorf("after DR re-login: %v", b)
	}
	if got := b["recording"].(map[string]any)["recordingId"]; got != recID {
		t.Errorf("recording %v after re-login, want %v (no gap)", got, recID)
	}
	if r.cookie().Value != first.cookie().Value {
		t.Error("re-login made a new session")
	}
	if starts, stops := e.eng.counts(); starts != 1 || stops != 0 {
		t.Errorf("engine: %d starts, %d stops; want 1, 0", starts, stops)
	}
	// The new server is the session's for everything from now on.
	as, ok := e.srs.Session("alice")
	if !ok || as.Server != rws2 || as.Place != "Place_B" || as.RecordingID != recID {
		t.Errorf("Session(alice) = %+v, %v", as, ok)
	}
	if b := e.ping("alice").want(t, http.StatusOK).json(t); b["server"] != rws2 || b["place"] != "Place_B" {
		t.Errorf("ping after DR: %v", b)
	}
	// GET login keeps the session as it is (idempotent).
	if b := e.login("alice", nil).want(t, http.StatusOK).json(t); b["place"] != "Place_B" {
		t.Errorf("GET after re-login: %v", b)
	}
}

func TestReloginRestartsEndedRecording(t *testing.T) {
	e := newEnv(t, nil)
	id := e.login("alice", nil).want(t, http.StatusOK).json(t)["recording"].(map[string]any)["recordingId"].(string)
	e.eng.setState(id, api.StateFailed)
	if got := e.ping("alice").want(t, http.StatusOK).json(t)["recording"].(map[string]any)["state"]; got != "failed" {
		t.Errorf("ping shows %v, want failed", got)
	}
	rec := e.login("alice", nil).want(t, http.StatusOK).json(t)["recording"].(map[string]any)
	if rec["recordingId"] == id || rec["state"] != "recording" {
		t.Errorf("re-login after a failed recording: %v, want a new one", rec)
	}
}

func TestRecordingNever(t *testing.T) {
	e := newEnv(t, func(c map[string]any) { c["recording_when"] = "never" })
	b := e.login("alice", nil).want(t, http.StatusOK).json(t)
	if r, ok := b["recording"]; !ok || r != nil {
		t.Errorf("recording %v, want null", r)
	}
	e.ping("alice").want(t, http.StatusOK)
	e.logout("alice", nil).want(t, http.StatusOK)
	if starts, stops := e.eng.counts(); starts != 0 || stops != 0 {
		t.Errorf("engine: %d starts, %d stops; want none", starts, stops)
	}
}

func TestEngineErrors(t *testing.T) {
	t.Run("start fails", func(t *testing.T) {
		e := newEnv(t, nil)
		e.eng.StartErrs = []error{fmt.Errorf("start alice: %w", api.ErrTooManySessions)}
		e.login("alice", nil).wantError(t, http.StatusInternalServerError, "engine: start recording: start alice: too many concurrent sessions")
		e.ping("alice").wantError(t, http.StatusUnauthorized, "no session") // no half session
		e.login("alice", nil).want(t, http.StatusOK)                        // a retry works
	})
	t.Run("busy then ok", func(t *testing.T) {
		e := newEnv(t, nil)
		e.eng.StartErrs = []error{api.ErrBusy, api.ErrBusy}
		e.login("alice", nil).want(t, http.StatusOK)
		if starts, _ := e.eng.counts(); starts != 3 {
			t.Errorf("%d starts, want 3 (two busy)", starts)
		}
	})
	t.Run("engine closed", func(t *testing.T) {
		e := newEnv(t, nil)
		e.eng.StartErrs = []error{api.ErrClosed}
		e.login("alice", nil).wantError(t, http.StatusServiceUnavailable, "engine closed")
	})
	t.Run("already recording is adopted", func(t *testing.T) {
		eng := newFakeEngine()
		e := newEnvWith(t, eng, nil, nil)
		running := eng.add(api.StartRequest{Owner: "alice", Frontend: "srs"}, api.StateRecording)
		rec := e.login("alice", nil).want(t, http.StatusOK).json(t)["recording"].(map[string]any)
		if rec["recordingId"] != running.ID {
			t.Errorf("recording %v, want the running %s adopted", rec, running.ID)
		}
		e.logout("alice", nil).want(t, http.StatusOK)
		if ids := eng.stopIDs(); len(ids) != 1 || ids[0] != running.ID {
			t.Errorf("stops %v, want %s", ids, running.ID)
		}
	})
	t.Run("already recording without the session", func(t *testing.T) {
		eng := newFakeEngine()
		e := newEnvWith(t, eng, nil, nil)
		running := eng.add(api.StartRequest{Owner: "alice", Frontend: "srs"}, api.StateMasked)
		eng.StartErrs = []error{fmt.Errorf("over the wire: %w", api.ErrAlreadyRecording)}
		rec := e.login("alice", nil).want(t, http.StatusOK).json(t)["recording"].(map[string]any)
		if rec["recordingId"] != running.ID || rec["state"] != "masked" {
			t.Errorf("recording %v, want %s (masked) adopted", rec, running.ID)
		}
	})
	t.Run("stop fails at logout", func(t *testing.T) {
		e := newEnv(t, nil)
		e.login("alice", nil).want(t, http.StatusOK)
		e.eng.Set(func(f *sdktest.FakeEngine) { f.StopErr = errors.New("pipeline wedged") })
		e.logout("alice", nil).wantError(t, http.StatusInternalServerError, "engine: stop recording rec-1: pipeline wedged")
		e.ping("alice").want(t, http.StatusOK) // the session is kept, so logout can be retried
		e.eng.Set(func(f *sdktest.FakeEngine) { f.StopErr = nil })
		e.logout("alice", nil).want(t, http.StatusOK)
	})
	t.Run("recording gone at logout", func(t *testing.T) {
		e := newEnv(t, nil)
		e.login("alice", nil).want(t, http.StatusOK)
		e.eng.Remove("rec-1")
		e.logout("alice", nil).want(t, http.StatusOK)
	})
}

// A login lends the agent's credentials and RWS servers to the uploads of their recordings.
func TestLoginLendsCredentialsToUploads(t *testing.T) {
	e := newEnv(t, nil)
	e.login("alice", nil).want(t, http.StatusOK)
	got, ok := e.eng.lent("alice")
	if !ok || got.Credentials.Username != "alice" || got.Credentials.Password == "" || got.Server != rws1 || got.PeerServer != rws2 {
		t.Errorf("lent %+v (%v)", got, ok)
	}
}
