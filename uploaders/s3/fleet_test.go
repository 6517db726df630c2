package s3

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/screenrec/recorder/internal/sampletest"
	"github.com/screenrec/recorder/plugins/sdk"
)

// With signer fleet the desktop holds no S3 credentials: credentials, endpoint and bucket are
// refused beside it, naming the key; the fleet section is required and checked; a fleet
// section without signer fleet is an error too.
func TestFleetSignerConfig(t *testing.T) {
	fleetSection := map[string]any{"urls": []string{"nats://127.0.0.1:4222"}, "machine": "desk-1", "user": "desk-1", "password": "pw"}
	for _, c := range []struct {
		name  string
		m     map[string]any
		field string // "" : valid
		want  string
	}{
		{"fleet signer", map[string]any{"signer": "fleet", "fleet": fleetSection}, "", ""},
		{"credentials too", map[string]any{"signer": "fleet", "fleet": fleetSection, "access_key_id": "k"}, "access_key_id", "exclusive"},
		{"secret too", map[string]any{"signer": "fleet", "fleet": fleetSection, "secret_access_key": "s"}, "secret_access_key", "exclusive"},
		{"endpoint too", map[string]any{"signer": "fleet", "fleet": fleetSection, "endpoint": "https://s3.example.com"}, "endpoint", "archive section"},
		{"no fleet section", map[string]any{"signer": "fleet"}, "fleet", "fleet section"},
		{"bad machine", map[string]any{"signer": "fleet", "fleet": map[string]any{"urls": []string{"nats://h:4222"}, "machine": "a.b"}}, "fleet.machine", "machine id"},
		{"no urls", map[string]any{"signer": "fleet", "fleet": map[string]any{"machine": "desk-1"}}, "fleet.urls", "required"},
		{"fleet section, local signer", map[string]any{"endpoint": "https://s3.example.com", "bucket": "recordings",
			"access_key_id": "k", "secret_access_key": "s", "fleet": fleetSection}, "fleet", "signer: fleet"},
		{"local without credentials", map[string]any{"endpoint": "https://s3.example.com", "bucket": "recordings"}, "access_key_id", "signer local"},
		{"unknown signer", map[string]any{"signer": "vault"}, "signer", "local or fleet"},
	} {
		raw, _ := json.Marshal(c.m)
		u := New()
		diags, err := u.Configure(context.Background(), raw)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var errs []sdk.Diagnostic
		for _, d := range diags {
			if d.Severity == sdk.SeverityError {
				errs = append(errs, d)
			}
		}
		if c.field == "" {
			if len(errs) > 0 {
				t.Errorf("%s: %+v", c.name, errs)
			}
			continue
		}
		found := false
		for _, d := range errs {
			found = found || d.Field == c.field && strings.Contains(d.Summary+" "+d.Detail, c.want)
		}
		if !found {
			t.Errorf("%s: diagnostics %+v, want an error on %s about %q", c.name, diags, c.field, c.want)
		}
		_ = u.Close()
	}
}

// The shipped samples' s3 sections configure the uploader without an error once their
// secret references are resolved (by the host; here by hand); the fleet sample names no S3
// credentials.
func TestSampleConfigs(t *testing.T) {
	for _, p := range []string{"../../configs/uploader-s3.yaml", "../../configs/uploader-s3-fleet.yaml"} {
		cfg := sampletest.Uploader(t, p, Name)
		js, _ := json.Marshal(resolveByHand(cfg))
		u := New()
		diags, err := u.Configure(context.Background(), js)
		for _, d := range diags {
			if d.Severity == sdk.SeverityError {
				t.Errorf("%s: %+v", p, d)
			}
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		_ = u.Close()
		if strings.Contains(p, "fleet") && (cfg["access_key_id"] != nil || cfg["secret_access_key"] != nil || cfg["signer"] != SignerFleet) {
			t.Errorf("%s: the fleet sample's s3 section: %v", p, cfg)
		}
	}
}

// resolveByHand replaces every {env: …} or {file: …} reference in v by a value.
func resolveByHand(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["env"]; ok && len(t) == 1 {
			return "resolved"
		}
		if _, ok := t["file"]; ok && len(t) == 1 {
			return "resolved"
		}
		out := map[string]any{}
		for k, x := range t {
			out[k] = resolveByHand(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = resolveByHand(x)
		}
		return out
	}
	return v
}
