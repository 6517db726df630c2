package fleet

import (
	"context"
	"testing"

	"github.com/screenrec/recorder/plugins/sdk"
)

func TestConfigureReportsEachProblemAtItsKey(t *testing.T) {
	for _, c := range []struct {
		raw, field string
	}{
		{`{}`, "urls"},
		{`{"urls": ["http://x:1"]}`, "urls[0]"},
		{`{"urls": ["nats://u:p@x:1"]}`, "urls[0]"},
		{`{"urls": ["nats://x:1"], "machine": "desk.1"}`, "machine"},
		{`{"urls": ["nats://x:1"], "machine": "d", "user": "u", "creds_file": "/nonexistent"}`, "user"},
		{`{"urls": ["nats://x:1"], "machine": "d", "password": "p"}`, "user"},
		{`{"urls": ["nats://x:1"], "machine": "d", "nkey_seed_file": "/nonexistent"}`, "nkey_seed_file"},
		{`{"urls": ["nats://x:1"], "machine": "d", "cert_file": "/x"}`, "cert_file"},
		{`{"urls": ["nats://x:1"], "machine": "d", "users": [{"id": "a"}, {"id": "a"}]}`, "users[1].id"},
		{`{"urls": ["nats://x:1"], "machine": "d", "users": [{"id": "a", "display": "ten"}]}`, "users[0].display"},
		{`{"urls": ["nats://x:1"], "machine": "d", "heartbeat": "1ms"}`, "heartbeat"},
	} {
		diags, err := New().Configure(context.Background(), []byte(c.raw))
		found := false
		for _, d := range diags {
			found = found || d.Severity == sdk.SeverityError && d.Field == c.field
		}
		if err != nil || !found {
			t.Errorf("%s: %v %+v, want an error at %s", c.raw, err, diags, c.field)
		}
	}
	diags, err := New().Configure(context.Background(), []byte(`{"urls": ["tls://nats.example:4222"], "users": [{"id": "1234567", "display": ":0"}]}`))
	if err != nil || len(diags) != 0 {
		t.Errorf("good config: %v %+v", err, diags)
	}
}

func TestSchemaMarksThePasswordSecret(t *testing.T) {
	s, _ := New().ConfigSchema(context.Background())
	for _, f := range s.Fields {
		if f.Name == "password" && !f.Secret {
			t.Error("password is not secret")
		}
		if f.Name == "urls" && !f.Required {
			t.Error("urls is not required")
		}
	}
}

func TestServeBeforeConfigure(t *testing.T) {
	if _, err := New().Serve(context.Background(), &sdk.MockEngine{}); err == nil {
		t.Error("served unconfigured")
	}
}
