package cloud

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/testcert"

	"github.com/golang-jwt/jwt/v5"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	good := mustJSON(t, testConfigMap())
	bad := testConfigMap()
	bad["signing_keys"] = []any{map[string]any{"id": "a", "key": "too-short"}}
	sdktest.Frontend(t, func() sdk.Frontend { return New() }, good, mustJSON(t, bad))
}

func TestOpenAPIDocument(t *testing.T) {
	getContract(t).checkDocument(t)
	// Every path of the API, with every status the spec lists.
	doc := string(OpenAPI)
	for _, p := range []string{PathToken, PathStart, PathStartNoVersion, PathStop, PathStopNoVersion} {
		if !strings.Contains(doc, "\n  "+p+":\n") {
			t.Errorf("openapi.yaml lacks path %s", p)
		}
	}
	for _, s := range []string{"'200'", "'202'", "'400'", "'401'", "'403'", "'404'", "'413'", "'425'", "'500'", "'503'", "'504'"} {
		if !strings.Contains(doc, s+":") {
			t.Errorf("openapi.yaml lacks status %s", s)
		}
	}
}

func TestReasonNames(t *testing.T) {
	for status, want := range map[int]string{200: "OK", 202: "ACCEPTED", 400: "BAD_REQUEST", 401: "UNAUTHORIZED",
		403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "REQUEST_ENTITY_TOO_LARGE",
		425: "TOO_EARLY", 500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT", 799: "STATUS_799"} {
		if got := reason(status); got != want {
			t.Errorf("reason(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestToken(t *testing.T) {
	e := newEnv(t)
	post := func(body string, hdr ...string) resp {
		return e.do("POST", PathToken, "", strings.NewReader(body), hdr...)
	}
	t.Run("OK", func(t *testing.T) {
		r := post(`{"accessKeyId":"k1","accessKeySecret":"`+testSecret+`"}`, "Content-Type", "application/json")
		want(t, r, 200, "token")
		if r.str("token_type") != "Bearer" || r.body["expires_in"] != json.Number("3600") || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("token answer %s, Cache-Control %q", r.raw, r.header.Get("Cache-Control"))
		}
		var claims jwt.MapClaims
		tok, err := jwt.ParseWithClaims(r.str("access_token"), &claims, func(*jwt.Token) (any, error) { return []byte(testKeyA), nil },
			jwt.WithValidMethods([]string{"HS256"}))
		if err != nil {
			t.Fatalf("token does not verify with the active key: %v", err)
		}
		if tok.Header["kid"] != "a" || claims["sub"] != "k1" || claims["iss"] != Issuer {
			t.Errorf("token header %v, claims %v", tok.Header, claims)
		}
		if perms, _ := claims["perms"].([]any); len(perms) != 1 || perms[0] != PermissionRecordScreenInteraction {
			t.Errorf("perms = %v", claims["perms"])
		}
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
			t.Errorf("exp - iat = %v, want 3600", exp-iat)
		}
	})
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"WrongSecret", `{"accessKeyId":"k1","accessKeySecret":"nope"}`, 401},
		{"UnknownKey", `{"accessKeyId":"zz","accessKeySecret":"` + testSecret + `"}`, 401},
		{"OtherKeysSecret", `{"accessKeyId":"k2","accessKeySecret":"` + testSecret + `"}`, 401},
		{"NotJSON", `accessKeyId=k1`, 400},
		{"NoSecret", `{"accessKeyId":"k1"}`, 400},
		{"NoID", `{"accessKeySecret":"x"}`, 400},
		{"WrongTypes", `{"accessKeyId":1,"accessKeySecret":2}`, 400},
		{"Empty", ``, 400},
	} {
		t.Run(c.name, func(t *testing.T) { want(t, post(c.body), c.status, c.body) })
	}
	t.Run("TooLarge", func(t *testing.T) {
		big := `{"accessKeyId":"k1","accessKeySecret":"` + testSecret + `","pad":"` + strings.Repeat("x", 70<<10) + `"}`
		want(t, post(big), 413, "70 KiB body")
		// Without a Content-Length (chunked), the cap holds as the body is read.
		want(t, e.do("POST", PathToken, "", io.MultiReader(strings.NewReader(big)), "Content-Type", "application/json"), 413, "chunked 70 KiB body")
	})
	t.Run("ExactlyTheCap", func(t *testing.T) {
		body := `{"accessKeyId":"k1","accessKeySecret":"` + testSecret + `"}`
		body += strings.Repeat(" ", MaxBodyBytes-len(body))
		want(t, post(body), 200, "64 KiB body")
	})
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	noPerm := e.getToken("k2", noPermSecret)
	exp := func(c jwt.MapClaims) {
		c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
		c["exp"] = time.Now().Add(-time.Hour).Unix()
	}
	otherKey := []byte("an-attackers-key-that-is-long-enough-0123456789")
	for _, c := range []struct {
		name, header string
		status       int
		desc         string
	}{
		{"Missing", "", 401, "missing"},
		{"NotBearer", "Basic azE6c2VjcmV0", 401, "malformed"},
		{"EmptyBearer", "Bearer ", 401, "malformed"},
		{"Malformed", "Bearer not.a.jwt", 401, "malformed"},
		{"Garbage", "Bearer xyz", 401, "malformed"},
		{"Expired", "Bearer " + signToken(t, jwt.SigningMethodHS256, "a", []byte(testKeyA), exp), 401, "expired"},
		{"WrongSignature", "Bearer " + signToken(t, jwt.SigningMethodHS256, "a", otherKey, nil), 401, "signature"},
		{"UnknownKid", "Bearer " + signToken(t, jwt.SigningMethodHS256, "zzz", []byte(testKeyA), nil), 401, `"zzz" is not configured`},
		{"NoKid", "Bearer " + signToken(t, jwt.SigningMethodHS256, nil, []byte(testKeyA), nil), 401, "kid"},
		{"NonStringKid", "Bearer " + signToken(t, jwt.SigningMethodHS256, 7, []byte(testKeyA), nil), 401, "kid"},
		{"HS512", "Bearer " + signToken(t, jwt.SigningMethodHS512, "a", []byte(testKeyA), nil), 401, "signature"},
		{"WrongIssuer", "Bearer " + signToken(t, jwt.SigningMethodHS256, "a", []byte(testKeyA), func(c jwt.MapClaims) { c["iss"] = "someone" }), 401, "issued"},
		{"NoExpiry", "Bearer " + signToken(t, jwt.SigningMethodHS256, "a", []byte(testKeyA), func(c jwt.MapClaims) { delete(c, "exp") }), 401, "exp"},
		{"FutureIat", "Bearer " + signToken(t, jwt.SigningMethodHS256, "a", []byte(testKeyA), func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }), 401, "not valid yet"},
		{"KeyNoLongerConfigured", "Bearer " + signToken(t, jwt.SigningMethodHS256, "a", []byte(testKeyA), func(c jwt.MapClaims) { c["sub"] = "ghost" }), 401, "no longer configured"},
		{"WithoutPermission", "Bearer " + noPerm, 403, "lacks the permission"},
		// A token claiming the permission for a key that does not have it is refused too.
		{"PermissionNotOnKey", "Bearer " + signToken(t, jwt.SigningMethodHS256, "a", []byte(testKeyA), func(c jwt.MapClaims) { c["sub"] = "k2" }), 403, "lacks"},
		{"TokenWithoutPermissionClaim", "Bearer " + signToken(t, jwt.SigningMethodHS256, "a", []byte(testKeyA), func(c jwt.MapClaims) { c["perms"] = []string{} }), 403, "lacks"},
		{"Valid", "Bearer " + e.token, 200, "started"},
		{"LowerCaseScheme", "bearer " + e.token, 200, "already"},
		{"RotatedKey", "Bearer " + signToken(t, jwt.SigningMethodHS256, "b", []byte(testKeyB), nil), 200, "already"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.header != "" {
				hdr = []string{"Authorization", c.header}
			}
			r := e.do("POST", PathStart+"?userId=alice&recordingDuration=60", "", nil, hdr...)
			want(t, r, c.status, c.name)
			if !strings.Contains(r.str("description"), c.desc) {
				t.Errorf("description %q, want it to mention %q", r.str("description"), c.desc)
			}
			switch c.status {
			case 401:
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without a Bearer challenge: %q", r.header.Get("WWW-Authenticate"))
				}
			case 403:
				if !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
					t.Errorf("403 WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
			}
			// Stop checks the token the same way.
			if c.status != 200 {
				want(t, e.do("POST", PathStop+"?userId=alice&contactId=1", "", nil, hdr...), c.status, c.name+" on stop")
			}
		})
	}
	t.Run("TokenFromRotatedActiveKey", func(t *testing.T) {
		// Sign new tokens with b; tokens of a stay valid while a is listed.
		m := testConfigMap()
		m["active_key_id"] = "b"
		if diags, err := e.c.Configure(context.Background(), mustJSON(t, m)); err != nil || hasError(diags) {
			t.Fatalf("Configure = %v, %v", diags, err)
		}
		tok := e.getToken("k1", testSecret)
		parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		if err != nil || parsed.Header["kid"] != "b" {
			t.Fatalf("new token kid = %v, %v; want b", parsed.Header["kid"], err)
		}
		want(t, e.do("POST", PathStart+"?userId=alice&recordingDuration=60", tok, nil), 200, "token of b")
		want(t, e.do("POST", PathStart+"?userId=alice&recordingDuration=60", e.token, nil), 200, "token of a")
		// Once a is dropped, its tokens are refused.
		m["signing_keys"] = []any{map[string]any{"id": "b", "key": testKeyB}}
		if diags, err := e.c.Configure(context.Background(), mustJSON(t, m)); err != nil || hasError(diags) {
			t.Fatalf("Configure = %v, %v", diags, err)
		}
		want(t, e.do("POST", PathStart+"?userId=alice&recordingDuration=60", e.token, nil), 401, "token of a dropped key")
		want(t, e.do("POST", PathStart+"?userId=alice&recordingDuration=60", tok, nil), 200, "token of b")
	})
}

func TestStartAndStopPathsAndUserSpellings(t *testing.T) {
	e := newEnv(t)
	for _, paths := range [][2]string{{PathStart, PathStop}, {PathStartNoVersion, PathStopNoVersion},
		{PathStart, PathStopNoVersion}, {PathStartNoVersion, PathStop}} {
		for _, userParam := range []string{"userId", "user-id"} {
			what := fmt.Sprintf("%s ?%s", paths[0], userParam)
			r := e.do("POST", fmt.Sprintf("%s?%s=1234567&recordingDuration=3000", paths[0], userParam), e.token, nil)
			want(t, r, 200, what)
			if r.contact() <= 0 || !uuidRE.MatchString(r.str("interactionId")) || r.str("httpStatus") != "OK" || r.str("description") == "" {
				t.Fatalf("%s → %s", what, r.raw)
			}
			s := e.do("POST", fmt.Sprintf("%s?%s=1234567&contactId=%d", paths[1], userParam, r.contact()), e.token, nil)
			want(t, s, 200, "stop "+what)
			if s.contact() != r.contact() || s.str("httpStatus") != "OK" {
				t.Fatalf("stop %s → %s", what, s.raw)
			}
		}
	}
	// What the engine was asked.
	req := e.eng.Requests()[0]
	if req.Owner != "1234567" || req.Frontend != Name || req.Source.Display != ":10" ||
		req.Limits.MaxDuration != 3000*time.Second || req.Labels[Label] != LabelValue || len(req.Labels) != 1 {
		t.Errorf("engine request = %+v", req)
	}
}

func TestUserParameter(t *testing.T) {
	e := newEnv(t)
	want(t, e.do("POST", PathStart+"?userId=alice&user-id=bob&recordingDuration=60", e.token, nil), 400, "userId and user-id differ")
	want(t, e.do("POST", PathStop+"?userId=alice&user-id=bob&contactId=5", e.token, nil), 400, "stop: userId and user-id differ")
	want(t, e.do("POST", PathStart+"?userId=alice&userId=bob&recordingDuration=60", e.token, nil), 400, "userId twice")
	want(t, e.do("POST", PathStart+"?recordingDuration=60", e.token, nil), 400, "no user")
	want(t, e.do("POST", PathStart+"?userId=&recordingDuration=60", e.token, nil), 400, "empty user")
	want(t, e.do("POST", PathStop+"?contactId=5", e.token, nil), 400, "stop: no user")
	want(t, e.do("POST", PathStart+"?userId=alice&recordingDuration=60&x=%zz", e.token, nil), 400, "malformed query")
	// The same user twice is fine.
	want(t, e.do("POST", PathStart+"?userId=alice&user-id=alice&recordingDuration=60", e.token, nil), 200, "same user twice")
}

func TestRecordingDuration(t *testing.T) {
	e := newEnv(t)
	for i, c := range []struct {
		value  string
		status int
	}{
		{"4", 400}, {"5", 200}, {"13200", 200}, {"13201", 400}, {"abc", 400}, {"5.5", 400}, {"", 400},
		{"-5", 400}, {"0", 400}, {"1e3", 400}, {"99999999999999999999", 400}, {"missing", 400},
	} {
		user := fmt.Sprintf("u%d", i%10)
		q := "?userId=" + user + "&recordingDuration=" + c.value
		if c.value == "missing" {
			q = "?userId=" + user
		}
		r := e.do("POST", PathStart+q, e.token, nil)
		want(t, r, c.status, "recordingDuration="+c.value)
		if c.status == 200 {
			n, _ := json.Number(c.value).Int64()
			if s := e.eng.Owned(user); len(s) != 1 || e.eng.Request(s[0].ID).Limits.MaxDuration != time.Duration(n)*time.Second {
				t.Errorf("recordingDuration=%s: engine sessions %+v", c.value, s)
			}
		}
	}
	want(t, e.do("POST", PathStart+"?userId=u0&recordingDuration=5&recordingDuration=6", e.token, nil), 400, "two durations")
}

func TestStartConfirmation(t *testing.T) {
	e := newEnv(t)
	t.Run("FirstFrameWithinWindow", func(t *testing.T) {
		r := e.start("u1", 60)
		want(t, r, 200, "start")
		if s := e.eng.Owned("u1"); len(s) != 1 || s[0].Duration <= 0 || s[0].ContactID != r.contact() || s[0].InteractionID != r.str("interactionId") {
			t.Errorf("engine sessions %+v, answer %s", s, r.raw)
		}
	})
	t.Run("SlowFirstFrame", func(t *testing.T) {
		e.eng.Set(func(f *fakeEngine) { f.FirstFrame = time.Second })
		defer e.eng.Set(func(f *fakeEngine) { f.FirstFrame = 20 * time.Millisecond })
		t0 := time.Now()
		r := e.start("u2", 60)
		took := time.Since(t0)
		want(t, r, 202, "start with a slow first frame")
		if r.contact() <= 0 || r.str("httpStatus") != "ACCEPTED" || !uuidRE.MatchString(r.str("interactionId")) {
			t.Errorf("202 body %s", r.raw)
		}
		if _, ok := r.body["description"]; ok {
			t.Errorf("202 body %s has a description (the vendor's has none)", r.raw)
		}
		if took < 250*time.Millisecond || took > time.Second {
			t.Errorf("202 after %v, want it at the end of the 300ms window", took)
		}
		// It keeps starting: a start now returns the same recording.
		again := e.start("u2", 60)
		want(t, again, 200, "repeat start")
		if again.contact() != r.contact() {
			t.Errorf("repeat start contact %d, want %d", again.contact(), r.contact())
		}
	})
	t.Run("SlowStartUsesUpTheWindow", func(t *testing.T) {
		// The window counts from the request's arrival: a start that takes longer than the
		// window is answered as soon as it returns.
		e.eng.Set(func(f *fakeEngine) { f.SlowOpen, f.FirstFrame = 400*time.Millisecond, 50*time.Millisecond })
		defer e.eng.Set(func(f *fakeEngine) { f.SlowOpen, f.FirstFrame = 0, 20*time.Millisecond })
		t0 := time.Now()
		r := e.start("u3", 60)
		want(t, r, 202, "slow start")
		if took := time.Since(t0); took > 700*time.Millisecond {
			t.Errorf("answered after %v", took)
		}
	})
	t.Run("FailsWhileStarting", func(t *testing.T) {
		e.eng.Set(func(f *fakeEngine) { f.FailOpen = "cannot open display :23" })
		defer e.eng.Set(func(f *fakeEngine) { f.FailOpen = "" })
		r := e.start("u4", 60)
		want(t, r, 500, "failed open")
		if !strings.HasPrefix(r.str("description"), "engine: start: ") || !strings.Contains(r.str("description"), "cannot open display") {
			t.Errorf("description %q", r.str("description"))
		}
	})
}

func TestRepeatStart(t *testing.T) {
	e := newEnv(t)
	first := e.start("alice", 300)
	want(t, first, 200, "first start")
	second := e.start("alice", 600)
	want(t, second, 200, "second start")
	if second.contact() != first.contact() || second.str("interactionId") != first.str("interactionId") {
		t.Errorf("second start %s, first %s: want the same ids", second.raw, first.raw)
	}
	sessions := e.eng.Owned("alice")
	if len(sessions) != 1 {
		t.Fatalf("engine has %d sessions for alice, want 1", len(sessions))
	}
	if max := e.eng.Request(sessions[0].ID).Limits.MaxDuration; max != 300*time.Second {
		t.Errorf("duration changed to %v, want 300s", max)
	}
	// Another user's start is its own recording.
	other := e.start("bob", 300)
	want(t, other, 200, "bob's start")
	if other.contact() == first.contact() {
		t.Errorf("bob got alice's contact %d", other.contact())
	}
}

func TestRecordingEndsByItself(t *testing.T) {
	e := newEnv(t)
	r := e.start("alice", 5)
	want(t, r, 200, "start")
	s := e.eng.Owned("alice")[0]
	e.eng.Expire(s.ID) // what MaxDuration does after 5 s
	want(t, e.stop("alice", r.contact()), 404, "stop after the duration")
	again := e.start("alice", 5)
	want(t, again, 200, "start after the duration")
	if again.contact() == r.contact() {
		t.Errorf("a new recording reused contact %d", r.contact())
	}
}

func TestUnknownUser(t *testing.T) {
	e := newEnv(t)
	r := e.start("nobody", 60)
	want(t, r, 404, "start of an unknown user")
	if !strings.Contains(r.str("description"), "unknown") {
		t.Errorf("description %q", r.str("description"))
	}
	want(t, e.stop("nobody", 1122334456), 404, "stop of an unknown user")
	if reqs := e.eng.Requests(); len(reqs) != 0 {
		t.Errorf("the engine was asked: %+v", reqs)
	}
}

func TestTooEarlyWhileStartInProgress(t *testing.T) {
	e := newEnv(t)
	gate, in := make(chan struct{}), make(chan api.StartRequest, 1)
	e.eng.Set(func(f *fakeEngine) { f.StartGate, f.StartIn = gate, in })
	first := make(chan resp, 1)
	go func() { first <- e.start("alice", 60) }()
	<-in // the first start is inside the engine
	r := e.start("alice", 60)
	want(t, r, 425, "second start")
	if !strings.Contains(r.str("description"), "still being processed") {
		t.Errorf("description %q", r.str("description"))
	}
	want(t, e.do("POST", PathStopNoVersion+"?user-id=alice&contactId=1122334456", e.token, nil), 425, "stop during the start")
	// The lock is per user: bob's start reaches the engine meanwhile.
	second := make(chan resp, 1)
	go func() { second <- e.start("bob", 60) }()
	<-in
	close(gate)
	want(t, <-first, 200, "first start")
	want(t, <-second, 200, "bob's start")
	e.eng.Set(func(f *fakeEngine) { f.StartIn = nil })
	want(t, e.start("alice", 60), 200, "start once the first is done")
}

func TestConcurrentStartsOneUser(t *testing.T) {
	e := newEnv(t)
	e.eng.Set(func(f *fakeEngine) { f.SlowOpen = 30 * time.Millisecond })
	const n = 50
	answers := make([]resp, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			answers[i] = e.start("carol", 600)
		}()
	}
	close(ready)
	wg.Wait()
	var contact int64
	counts := map[int]int{}
	for _, a := range answers {
		counts[a.status]++
		switch a.status {
		case 200, 202:
			if contact == 0 {
				contact = a.contact()
			}
			if a.contact() != contact || contact == 0 {
				t.Errorf("answer %s, want contact %d", a.raw, contact)
			}
		case 425:
		default:
			t.Errorf("answer %d %s, want 200, 202 or 425", a.status, a.raw)
		}
	}
	if counts[200]+counts[202] == 0 {
		t.Errorf("no start succeeded: %v", counts)
	}
	if s := e.eng.Owned("carol"); len(s) != 1 {
		t.Errorf("engine has %d recordings of carol, want 1", len(s))
	}
	t.Logf("answers: %v", counts)
}

func TestStop(t *testing.T) {
	e := newEnv(t)
	t.Run("WithinWindow", func(t *testing.T) {
		e.eng.Set(func(f *fakeEngine) { f.Finalize = 50 * time.Millisecond })
		r := e.start("alice", 600)
		want(t, r, 200, "start")
		s := e.stop("alice", r.contact())
		want(t, s, 200, "stop")
		if s.contact() != r.contact() || s.str("httpStatus") != "OK" || s.str("description") == "" {
			t.Errorf("stop answer %s", s.raw)
		}
		if got := e.eng.Owned("alice")[0]; got.State != api.StateCompleted {
			t.Errorf("recording state %s, want completed", got.State)
		}
		want(t, e.stop("alice", r.contact()), 404, "second stop")
	})
	t.Run("SlowFinalisation", func(t *testing.T) {
		e.eng.Set(func(f *fakeEngine) { f.Finalize = 1200 * time.Millisecond })
		defer e.eng.Set(func(f *fakeEngine) { f.Finalize = 0 })
		r := e.start("bob", 600)
		want(t, r, 200, "start")
		t0 := time.Now()
		s := e.stop("bob", r.contact())
		want(t, s, 202, "slow stop")
		if took := time.Since(t0); took < 250*time.Millisecond || took > time.Second {
			t.Errorf("202 after %v, want it at the end of the 300ms window", took)
		}
		if s.contact() != r.contact() || s.str("httpStatus") != "ACCEPTED" {
			t.Errorf("202 body %s", s.raw)
		}
		// While it finishes: the stop of it, and a new start for bob, are too early.
		want(t, e.stop("bob", r.contact()), 425, "stop while finalising")
		want(t, e.start("bob", 600), 425, "start while finalising")
		eventually(t, "finalised", func() bool { return e.eng.Owned("bob")[0].State == api.StateCompleted })
		want(t, e.stop("bob", r.contact()), 404, "stop once finalised")
		again := e.start("bob", 600)
		want(t, again, 200, "start once finalised")
		if again.contact() == r.contact() {
			t.Errorf("contact %d reused", r.contact())
		}
	})
	t.Run("OtherUsersContact", func(t *testing.T) {
		a := e.start("u4", 600)
		want(t, a, 200, "start u4")
		want(t, e.start("u5", 600), 200, "start u5")
		r := e.stop("u5", a.contact())
		want(t, r, 404, "u5 stops u4's recording")
		if s := e.eng.Owned("u4")[0]; s.State != api.StateRecording {
			t.Errorf("u4's recording is %s", s.State)
		}
	})
	t.Run("UnknownContact", func(t *testing.T) {
		want(t, e.stop("u4", 1), 404, "unknown contact")
	})
	t.Run("ContactIDForms", func(t *testing.T) {
		r := e.start("u6", 600)
		want(t, r, 200, "start")
		for _, bad := range []string{"abc", "1.5", "0", "-3", "", "%22%22", "12a"} {
			want(t, e.do("POST", PathStop+"?userId=u6&contactId="+bad, e.token, nil), 400, "contactId="+bad)
		}
		want(t, e.do("POST", PathStop+"?userId=u6", e.token, nil), 400, "no contactId")
		want(t, e.do("POST", fmt.Sprintf("%s?userId=u6&contactId=%d&contactId=%d", PathStop, r.contact(), r.contact()+1), e.token, nil), 400, "two contactIds")
		// A numeric string (quoted, as a client typing contactId as a string may send it).
		s := e.do("POST", fmt.Sprintf("%s?userId=u6&contactId=%%22%d%%22", PathStop, r.contact()), e.token, nil)
		want(t, s, 200, "quoted contactId")
		if s.contact() != r.contact() {
			t.Errorf("stop answer %s", s.raw)
		}
	})
	t.Run("EngineBusy", func(t *testing.T) {
		r := e.start("u7", 600)
		want(t, r, 200, "start")
		e.eng.Set(func(f *fakeEngine) { f.StopErr = fmt.Errorf("%w: session x is stopping", api.ErrBusy) })
		defer e.eng.Set(func(f *fakeEngine) { f.StopErr = nil })
		want(t, e.stop("u7", r.contact()), 425, "stop with the engine busy")
	})
	t.Run("StillStarting", func(t *testing.T) {
		// A recording of this front end still starting (begun elsewhere, e.g. another
		// instance): its stop is too early.
		gate, in := make(chan struct{}), make(chan api.StartRequest, 1)
		e.eng.Set(func(f *fakeEngine) { f.StartGate, f.StartIn = gate, in })
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = e.eng.Start(context.Background(), api.StartRequest{Owner: "u8", Frontend: Name})
		}()
		<-in
		e.eng.Set(func(f *fakeEngine) { f.StartGate, f.StartIn = nil, nil })
		var contact int64
		eventually(t, "reserved", func() bool {
			s := e.eng.Owned("u8")
			if len(s) == 1 {
				contact = s[0].ContactID
			}
			return contact != 0
		})
		want(t, e.stop("u8", contact), 425, "stop while starting")
		want(t, e.start("u8", 600), 425, "start while starting")
		close(gate)
		<-done
		want(t, e.stop("u8", contact), 200, "stop once started")
	})
}

func TestEngineTimeout(t *testing.T) {
	e := newEnv(t, func(m map[string]any) { m["engine_timeout"] = "200ms" })
	e.eng.Set(func(f *fakeEngine) { f.SlowOpen = 3 * time.Second })
	t0 := time.Now()
	r := e.start("alice", 60)
	want(t, r, 504, "slow engine start")
	if took := time.Since(t0); took > 1500*time.Millisecond {
		t.Errorf("504 after %v", took)
	}
	if !strings.HasPrefix(r.str("description"), "engine: start: ") {
		t.Errorf("description %q", r.str("description"))
	}
	e.eng.Set(func(f *fakeEngine) { f.SlowOpen = 0 })

	t.Run("Stop", func(t *testing.T) {
		s := e.start("bob", 60)
		want(t, s, 200, "start")
		e.eng.Set(func(f *fakeEngine) {
			f.StopErr = fmt.Errorf("plugin call: %w", context.DeadlineExceeded)
		})
		defer e.eng.Set(func(f *fakeEngine) { f.StopErr = nil })
		r := e.stop("bob", s.contact())
		want(t, r, 504, "stop that the engine did not take in time")
		if !strings.HasPrefix(r.str("description"), "engine: stop: ") {
			t.Errorf("description %q", r.str("description"))
		}
	})
}

func TestClientHangUpDoesNotCancelStart(t *testing.T) {
	e := newEnv(t)
	gate, in := make(chan struct{}), make(chan api.StartRequest, 1)
	e.eng.Set(func(f *fakeEngine) { f.StartGate, f.StartIn = gate, in })
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", e.base+PathStart+"?userId=alice&recordingDuration=60", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	errc := make(chan error, 1)
	go func() {
		res, err := e.client.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-in
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client request = %v, want it cancelled", err)
	}
	time.Sleep(50 * time.Millisecond) // let the server notice the hang-up
	startCtx := e.eng.StartContexts()[0]
	if err := startCtx.Err(); err != nil {
		t.Fatalf("the engine's Start context ended with the client: %v", err)
	}
	if _, ok := startCtx.Deadline(); !ok {
		t.Error("the engine's Start context has no deadline (engine_timeout)")
	}
	close(gate)
	eventually(t, "recording", func() bool {
		s := e.eng.Owned("alice")
		return len(s) == 1 && s[0].State == api.StateRecording
	})
}

func TestEngineFailures(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: 8 running", api.ErrTooManySessions), "engine: start: too many concurrent sessions"},
		{fmt.Errorf("%w: 1 GiB free", api.ErrDiskFull), "engine: start: free disk space below"},
		{fmt.Errorf("%w: 10 GiB used", api.ErrSpoolQuota), "engine: start: spool directory over quota"},
		{api.ErrClosed, "engine: start: engine closed"},
		{fmt.Errorf("%w: source.display", api.ErrInvalidRequest), "engine: start: invalid request"},
		{sdk.ErrPluginExited, "engine: start: plugin process exited"},
	} {
		e.eng.Set(func(f *fakeEngine) { f.StartErr = c.err })
		r := e.start("alice", 60)
		want(t, r, 500, c.err.Error())
		if !strings.HasPrefix(r.str("description"), c.want) {
			t.Errorf("description %q, want it to start with %q", r.str("description"), c.want)
		}
	}
	e.eng.Set(func(f *fakeEngine) { f.StartErr, f.ListErr = nil, errors.New("catalog: database is locked") })
	r := e.stop("alice", 1)
	want(t, r, 500, "list failure")
	if r.str("description") != "engine: list: catalog: database is locked" {
		t.Errorf("description %q", r.str("description"))
	}
	e.eng.Set(func(f *fakeEngine) { f.ListErr = nil })
	s := e.start("bob", 60)
	want(t, s, 200, "start")
	e.eng.Set(func(f *fakeEngine) { f.StopErr = errors.New("mux: cannot seal segment") })
	r = e.stop("bob", s.contact())
	want(t, r, 500, "stop failure")
	if r.str("description") != "engine: stop: mux: cannot seal segment" {
		t.Errorf("description %q", r.str("description"))
	}
}

func TestBodies(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", MaxBodyBytes+1)
	want(t, e.do("POST", PathStart+"?userId=alice&recordingDuration=60", e.token, strings.NewReader(big)), 413, "start with a big body")
	want(t, e.do("POST", PathStop+"?userId=alice&contactId=1", e.token, io.MultiReader(strings.NewReader(big))), 413, "stop with a big chunked body")
	// A small body is ignored.
	want(t, e.do("POST", PathStart+"?userId=alice&recordingDuration=60", e.token, strings.NewReader(`{"ignored":true}`)), 200, "start with a small body")
	if n := len(e.eng.Requests()); n != 1 {
		t.Errorf("engine saw %d starts, want 1", n)
	}
}

func TestOtherRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", PathStart+"?userId=alice&recordingDuration=60", e.token, nil)
	want(t, r, 405, "GET start")
	r = e.do("POST", "/interaction-recording-management-service/v2/interactions/start-screen-interaction-recording", e.token, nil)
	want(t, r, 404, "unknown path")
	if !strings.Contains(r.str("description"), "no such endpoint") {
		t.Errorf("description %q", r.str("description"))
	}
}

func TestStopFrontEnd(t *testing.T) {
	e := newEnv(t)
	r := e.start("alice", 600)
	want(t, r, 200, "start")
	ctx := context.Background()
	if err := e.c.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if err := e.c.Stop(ctx); err != nil {
		t.Fatalf("second Stop = %v", err)
	}
	if s := e.eng.Owned("alice")[0]; s.State != api.StateRecording {
		t.Errorf("recording is %s after the front end stopped, want it still recording", s.State)
	}
	if _, err := http.Post(e.base+PathToken, "application/json", strings.NewReader("{}")); err == nil {
		t.Error("the front end still answers after Stop")
	}
	if _, err := e.c.Serve(ctx, e.eng); !errors.Is(err, sdk.ErrStopped) {
		t.Errorf("Serve after Stop = %v, want sdk.ErrStopped", err)
	}
}

func TestStopWaitsForBackgroundStops(t *testing.T) {
	e := newEnv(t)
	e.eng.Set(func(f *fakeEngine) { f.Finalize = 600 * time.Millisecond })
	r := e.start("alice", 600)
	want(t, r, 200, "start")
	want(t, e.stop("alice", r.contact()), 202, "slow stop")
	t0 := time.Now()
	if err := e.c.Stop(context.Background()); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if s := e.eng.Owned("alice")[0]; s.State != api.StateCompleted {
		t.Errorf("Stop returned at %v with the engine stop still running (%s)", time.Since(t0), s.State)
	}
	// A Stop whose ctx ends first says so.
	e2 := newEnv(t)
	e2.eng.Set(func(f *fakeEngine) { f.Finalize = 2 * time.Second })
	r = e2.start("alice", 600)
	want(t, r, 200, "start")
	want(t, e2.stop("alice", r.contact()), 202, "slow stop")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e2.c.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with a short ctx = %v, want DeadlineExceeded", err)
	}
}

func TestReconfigureWhileServing(t *testing.T) {
	e := newEnv(t)
	m := testConfigMap()
	m["access_keys"] = append(m["access_keys"].([]any),
		map[string]any{"id": "k9", "secret_sha256": HashSecret("new-secret-0123456789abcdef0123456789"), "permissions": []any{PermissionRecordScreenInteraction}})
	m["users"] = []any{map[string]any{"id": "dave", "display": ":40"}}
	m["listen"] = "127.0.0.1:1"
	diags, err := e.c.Configure(context.Background(), mustJSON(t, m))
	if err != nil || hasError(diags) {
		t.Fatalf("Configure = %v, %v", diags, err)
	}
	if !slices.ContainsFunc(diags, func(d sdk.Diagnostic) bool { return d.Field == "listen" && d.Severity == sdk.SeverityWarning }) {
		t.Errorf("diagnostics %+v, want a warning that listen stays", diags)
	}
	tok := e.getToken("k9", "new-secret-0123456789abcdef0123456789")
	want(t, e.do("POST", PathStart+"?userId=dave&recordingDuration=60", tok, nil), 200, "new key, new user")
	want(t, e.start("alice", 60), 404, "user no longer listed")
	// A refused config keeps the one in force.
	m["signing_keys"] = []any{}
	if diags, _ := e.c.Configure(context.Background(), mustJSON(t, m)); !hasError(diags) {
		t.Fatalf("Configure without signing keys = %+v, want an error", diags)
	}
	want(t, e.do("POST", PathStart+"?userId=dave&recordingDuration=60", tok, nil), 200, "after a refused config")
}

func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := testcert.Write(t, dir)
	e := newEnv(t, func(m map[string]any) {
		m["https_listen"] = "127.0.0.1:0"
		m["cert_file"], m["key_file"] = certFile, keyFile
	})
	if len(e.eps) != 2 || e.eps[0].Name != "http" || e.eps[1].Name != "https" || !strings.HasPrefix(e.eps[1].URL, "https://127.0.0.1:") {
		t.Fatalf("endpoints %+v", e.eps)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := mustJSON(t, map[string]string{"accessKeyId": "k1", "accessKeySecret": testSecret})
	r := doReq(t, client, "POST", e.eps[1].URL+PathToken, "", bytes.NewReader(body))
	want(t, r, 200, "token over HTTPS")
	r = doReq(t, client, "POST", e.eps[1].URL+PathStart+"?userId=alice&recordingDuration=60", r.str("access_token"), nil)
	want(t, r, 200, "start over HTTPS")
}

// While the front end stops, a start in flight finishes and new requests are answered 503
// in the API's error shape.
func TestStopDrains(t *testing.T) {
	e := newEnv(t)
	gate, in := make(chan struct{}), make(chan api.StartRequest, 1)
	e.eng.Set(func(f *fakeEngine) { f.StartGate, f.StartIn = gate, in })
	inflight := make(chan resp, 1)
	go func() { inflight <- e.start("alice", 600) }()
	<-in
	stopped := make(chan error, 1)
	go func() { stopped <- e.c.Stop(context.Background()) }()
	var r resp
	eventually(t, "503 while stopping", func() bool {
		r = e.do("POST", PathToken, "", strings.NewReader(`{"accessKeyId":"k1","accessKeySecret":"`+testSecret+`"}`))
		return r.status == http.StatusServiceUnavailable
	})
	if r.str("httpStatus") != "SERVICE_UNAVAILABLE" || !strings.Contains(r.str("description"), "shutting down") {
		t.Errorf("503 body %s", r.raw)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with a start in flight", err)
	default:
	}
	close(gate)
	if r := <-inflight; r.status != http.StatusOK && r.status != http.StatusAccepted {
		t.Errorf("start in flight: %d %s", r.status, r.raw)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop = %v", err)
	}
}
