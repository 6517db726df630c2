package sdkconfig

import (
	"slices"
	"testing"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
)

type device struct {
	DN string `cfg:"dn,required" desc:"the DN"`
}

type agent struct {
	User     string   `cfg:"user,required" desc:"user name"`
	Displays []string `cfg:"displays" desc:"X displays"`
	Devices  []device `cfg:"devices" desc:"devices"`
}

type testConfig struct {
	Listen  string        `cfg:"listen" desc:"host:port"`
	Timeout time.Duration `cfg:"timeout" min:"1s" max:"1h" desc:"bound"`
	Flag    bool          `cfg:"flag" desc:"a flag"`
	Count   int           `cfg:"count" min:"0" desc:"how many"`
	Chunk   int64         `cfg:"chunk,size" max:"1MiB" desc:"chunk"`
	Origins []string      `cfg:"origins" desc:"origins"`
	Agents  []agent       `cfg:"agents" desc:"agents"`
	Token   string        `cfg:"token,required,secret" desc:"the token"`
}

func defaults() testConfig { return testConfig{Listen: "127.0.0.1:1", Timeout: time.Minute, Count: 3} }

func TestDecodeReportsEveryProblemWithItsPath(t *testing.T) {
	var d Decoder
	cfg := defaults()
	ok := d.Decode([]byte(`{"listen": 5, "timeout": "soon", "flag": "yes", "count": -1, "chunk": "2MiB",
		"origins": ["a", 3], "agents": [{"user": "u", "display": ":1", "devices": [{}]}, {}], "typo": 1}`), &cfg)
	want := map[string]string{
		"typo": "unknown key", "listen": "not a string", "timeout": "not a duration", "flag": "not a boolean",
		"count": "out of range", "chunk": "size out of range", "origins[1]": "not a string",
		"agents[0].display": "unknown key", "agents[0].devices[0].dn": "missing dn", "agents[1].user": "missing user",
		"token": "missing token",
	}
	if ok || !d.Failed() {
		t.Error("Decode succeeded")
	}
	got := map[string]string{}
	for _, g := range d.Diags {
		if g.Severity != sdk.SeverityError {
			t.Errorf("not an error: %+v", g)
		}
		got[g.Field] = g.Summary
	}
	for f, s := range want {
		if got[f] != s {
			t.Errorf("%s: summary %q, want %q (all: %+v)", f, got[f], s, d.Diags)
		}
	}
	if len(d.Diags) != len(want) {
		t.Errorf("%d diagnostics, want %d: %+v", len(d.Diags), len(want), d.Diags)
	}
	for _, g := range d.Diags {
		if g.Field == "agents[0].display" && g.Detail != `did you mean "displays"?` {
			t.Errorf("hint %q", g.Detail)
		}
	}
	// What decoded is kept; what did not keeps its default.
	if cfg.Listen != "127.0.0.1:1" || cfg.Timeout != time.Minute || cfg.Origins[0] != "a" {
		t.Errorf("cfg %+v", cfg)
	}
}

func TestDecodeDefaultsAndTextForms(t *testing.T) {
	for _, raw := range []string{``, `null`, `{}`, `{"listen": null}`} {
		var d Decoder
		cfg := defaults()
		d.Decode([]byte(raw), &cfg)
		if len(d.Diags) != 1 || d.Diags[0].Field != "token" || cfg.Listen != "127.0.0.1:1" || cfg.Timeout != time.Minute {
			t.Errorf("%q: %+v, %+v", raw, cfg, d.Diags)
		}
	}
	// The forms environment overrides give.
	var d Decoder
	cfg := defaults()
	d.Decode([]byte(`{"token": "t", "count": "7", "flag": "true", "timeout": "2s", "chunk": "4KiB", "origins": "a, b,,c"}`), &cfg)
	if d.Failed() || cfg.Count != 7 || !cfg.Flag || cfg.Timeout != 2*time.Second || cfg.Chunk != 4096 ||
		!slices.Equal(cfg.Origins, []string{"a", "b", "c"}) {
		t.Errorf("text forms: %+v %+v", cfg, d.Diags)
	}
	for _, raw := range []string{`[1]`, `"x"`, `{"a":`} {
		var d Decoder
		cfg := defaults()
		if d.Decode([]byte(raw), &cfg) || len(d.Diags) != 1 || d.Diags[0].Field != "" {
			t.Errorf("%s: %+v", raw, d.Diags)
		}
	}
}

func TestErrorfKeepsTheFirstErrorOfAField(t *testing.T) {
	var d Decoder
	d.Errorf("a", "first", "x")
	d.Errorf("a", "second", "x")
	d.Warnf("a", "note", "x")
	d.Errorf("b", "other", "x")
	if len(d.Diags) != 3 || d.Diags[0].Summary != "first" || d.Diags[1].Severity != sdk.SeverityWarning || !d.HasError("b") {
		t.Errorf("%+v", d.Diags)
	}
}

func TestSchema(t *testing.T) {
	s := Schema(defaults())
	var names []string
	byName := map[string]sdk.Field{}
	for _, f := range s.Fields {
		names = append(names, f.Name)
		byName[f.Name] = f
		if !slices.Contains(sdk.FieldTypes, f.Type) {
			t.Errorf("%s: type %q", f.Name, f.Type)
		}
	}
	if !slices.Equal(names, []string{"listen", "timeout", "flag", "count", "chunk", "origins", "agents", "token"}) {
		t.Errorf("names %v", names)
	}
	want := map[string]sdk.Field{
		"listen":  {Name: "listen", Type: "string", Description: "host:port", Default: "127.0.0.1:1"},
		"timeout": {Name: "timeout", Type: "duration", Description: "bound (1s to 1h)", Default: "1m0s"},
		"count":   {Name: "count", Type: "int", Description: "how many (at least 0)", Default: "3"},
		"chunk":   {Name: "chunk", Type: "size", Description: "chunk (at most 1MiB)", Default: "0"},
		"flag":    {Name: "flag", Type: "bool", Description: "a flag", Default: "false"},
		"agents":  {Name: "agents", Type: "list", Description: "agents"},
		"token":   {Name: "token", Type: "string", Description: "the token", Required: true, Secret: true},
	}
	for n, f := range want {
		if byName[n] != f {
			t.Errorf("%s = %+v, want %+v", n, byName[n], f)
		}
	}
}
