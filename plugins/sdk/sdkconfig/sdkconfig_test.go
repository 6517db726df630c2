package sdkconfig

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
)

func TestSectionReportsEveryProblemWithItsPath(t *testing.T) {
	var d Decoder
	m := d.Section([]byte(`{"listen": 5, "timeout": "soon", "flag": "yes", "origins": ["a", 3], "nested": {"x": 1}, "typo": 1}`),
		[]string{"listen", "timeout", "flag", "origins", "nested"})
	var s string
	var dur time.Duration
	var b bool
	d.Str("listen", m["listen"], &s)
	d.Duration("timeout", m["timeout"], &dur, 0, time.Hour)
	d.Bool("flag", m["flag"], &b)
	d.StrList("origins", m["origins"])
	d.Object("nested", m["nested"], []string{"y"})
	want := map[string]string{"typo": "unknown key", "listen": "not a string", "timeout": "not a duration",
		"flag": "not a boolean", "origins[1]": "not a string", "nested.x": "unknown key"}
	if len(d.Diags) != len(want) || !d.Failed() {
		t.Fatalf("diagnostics %+v", d.Diags)
	}
	for _, g := range d.Diags {
		if want[g.Field] != g.Summary || g.Severity != sdk.SeverityError {
			t.Errorf("unexpected %+v", g)
		}
	}
}

func TestValuesAndDefaults(t *testing.T) {
	var d Decoder
	m := d.Section(nil, []string{"a"})
	s, dur, b := "default", time.Second, true
	d.Str("a", m["a"], &s)
	d.Duration("a", m["a"], &dur, 0, time.Hour)
	d.Bool("a", m["a"], &b)
	if s != "default" || dur != time.Second || !b || d.Failed() {
		t.Errorf("absent keys changed defaults: %q %s %v %+v", s, dur, b, d.Diags)
	}
	d.Duration("d", json.RawMessage(`"2h"`), &dur, 0, time.Hour)
	if len(d.Diags) != 1 || d.Diags[0].Summary != "duration out of range" {
		t.Errorf("range: %+v", d.Diags)
	}
	if got := d.StrList("l", json.RawMessage(`"a, b,,c"`)); len(got) != 3 || got[2] != "c" {
		t.Errorf("comma list = %q", got)
	}
	d.Warnf("w", "note", "x")
	if d.Diags[len(d.Diags)-1].Severity != sdk.SeverityWarning {
		t.Error("Warnf is not a warning")
	}
	var notObj Decoder
	notObj.Section([]byte(`[1]`), nil)
	if len(notObj.Diags) != 1 || notObj.Diags[0].Summary != "not an object" {
		t.Errorf("array section: %+v", notObj.Diags)
	}
}
