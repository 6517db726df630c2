package config

import (
	"reflect"
	"testing"
)

// lookup is an environment lookup over fixed values.
func lookup(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestResolvedConfig(t *testing.T) {
	data := doc(
		"frontends:",
		"  - name: rws",
		"    config:",
		"      listen: ':1'",
		"      password: {env: RWS_PASSWORD}",
		"uploaders:",
		"  - name: noop",
	)
	c := mustParse(t, data)
	r, err := c.Resolved(lookup(map[string]string{"RWS_PASSWORD": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Frontends[0].Config["password"]; got != "pw" {
		t.Errorf("resolved password = %#v", got)
	}
	if got := c.Frontends[0].Config["password"]; !reflect.DeepEqual(got, map[string]any{"env": "RWS_PASSWORD"}) {
		t.Errorf("Resolved changed the original: %#v", got)
	}
	if r.Uploaders[0].Config != nil || r.Frontends[0].Config["listen"] != ":1" {
		t.Errorf("resolved = %#v", r)
	}

	_, err = c.Resolved(lookup(nil))
	checkErr(t, err, "x.yaml:5: frontends[0].config.password: env RWS_PASSWORD is not set", ErrSecret)
}
