package secret

import (
	"errors"
	"os"
	"path/filepath"
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

func TestIsRef(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want bool
	}{
		{map[string]any{"env": "X"}, true},
		{map[string]any{"file": "/x"}, true},
		{Ref{Env: "X"}, true},
		{&Ref{File: "/x"}, true},
		{map[string]any{"env": "X", "file": "/x"}, false}, // malformed
		{map[string]any{"env": ""}, false},
		{map[string]any{"env": 3}, false},
		{map[string]any{"env": "X", "other": 1}, false}, // an ordinary mapping
		{map[string]any{}, false},
		{Ref{}, false},
		{(*Ref)(nil), false},
		{"hunter2", false},
		{nil, false},
		{[]any{map[string]any{"env": "X"}}, false},
	} {
		if got := IsRef(tt.v); got != tt.want {
			t.Errorf("IsRef(%#v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestResolveAll(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain", "s3cret")
	nl := write("nl", "s3cret\n")
	twoNL := write("two-nl", "s3cret\n\n")
	crlf := write("crlf", "s3cret\r\n")
	env := lookup(map[string]string{"PW": "from-env", "EMPTY": ""})

	in := map[string]any{
		"user":     "rec",
		"password": map[string]any{"env": "PW"},
		"empty":    map[string]any{"env": "EMPTY"},
		"plain":    map[string]any{"file": plain},
		"nl":       map[string]any{"file": nl},
		"two_nl":   map[string]any{"file": twoNL},
		"crlf":     map[string]any{"file": crlf},
		"servers": []any{
			map[string]any{"host": "a", "token": map[string]any{"env": "PW"}},
			[]any{map[string]any{"file": nl}},
		},
		"nested":   map[string]any{"deeper": map[string]any{"key": map[string]any{"file": plain}}},
		"ordinary": map[string]any{"env": "PW", "other": 1}, // not a reference
		"port":     8080,
	}
	got, err := ResolveAll(in, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"user":     "rec",
		"password": "from-env",
		"empty":    "",
		"plain":    "s3cret",
		"nl":       "s3cret",
		"two_nl":   "s3cret\n",
		"crlf":     "s3cret",
		"servers": []any{
			map[string]any{"host": "a", "token": "from-env"},
			[]any{"s3cret"},
		},
		"nested":   map[string]any{"deeper": map[string]any{"key": "s3cret"}},
		"ordinary": map[string]any{"env": "PW", "other": 1},
		"port":     8080,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ResolveAll\n got %#v\nwant %#v", got, want)
	}
	// The input keeps its references.
	if !reflect.DeepEqual(in["password"], map[string]any{"env": "PW"}) ||
		!reflect.DeepEqual(in["servers"].([]any)[0].(map[string]any)["token"], map[string]any{"env": "PW"}) {
		t.Errorf("ResolveAll changed its input: %#v", in)
	}

	if got, err := ResolveAll(nil, env); got != nil || err != nil {
		t.Errorf("ResolveAll(nil) = %v, %v", got, err)
	}

	missing := filepath.Join(dir, "missing")
	for _, tt := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"password": map[string]any{"env": "RWS_PASSWORD"}}, "password: env RWS_PASSWORD is not set"},
		{map[string]any{"tls": map[string]any{"key": map[string]any{"file": missing}}}, "tls.key: file " + missing + ": cannot read it: no such file or directory"},
		{map[string]any{"servers": []any{"a", map[string]any{"token": map[string]any{"env": "NOPE"}}}}, "servers[1].token: env NOPE is not set"},
		{map[string]any{"password": map[string]any{"env": "PW", "file": plain}}, "password: a secret reference takes env or file, not both"},
		{map[string]any{"password": map[string]any{"file": 7}}, "password: a secret reference's file must be a path"},
	} {
		_, err := ResolveAll(tt.in, env)
		var pe *PathError
		if err == nil || err.Error() != tt.want || !errors.As(err, &pe) {
			t.Errorf("ResolveAll error\n got %v\nwant %s (a *PathError)", err, tt.want)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnresolved) {
			t.Errorf("%v wraps neither ErrMalformed nor ErrUnresolved", err)
		}
	}
}

func TestSecretResolve(t *testing.T) {
	t.Setenv("RECORDER_TEST_SECRET", "v")
	if v, err := (Ref{Env: "RECORDER_TEST_SECRET"}).Resolve(nil); err != nil || v != "v" {
		t.Errorf("Resolve with os.LookupEnv = %q, %v", v, err)
	}
	if _, err := (Ref{}).Resolve(nil); err == nil {
		t.Error("empty Secret resolved")
	}
	if s := (Ref{Env: "X"}).String() + "|" + (Ref{File: "/f"}).String(); s != "env X|file /f" {
		t.Errorf("String = %q", s)
	}
}

// Configs built in Go reach their references too ([]map[string]any is not []any).
func TestResolveAllInGoBuiltConfig(t *testing.T) {
	env := func(k string) (string, bool) { return "from-env", k == "K" }
	got, err := ResolveAll(map[string]any{
		"keys": []map[string]any{{"id": "a", "key": map[string]any{"env": "K"}}},
		"n":    7,
	}, env)
	if err != nil {
		t.Fatal(err)
	}
	keys, ok := got["keys"].([]any)
	if !ok || len(keys) != 1 || keys[0].(map[string]any)["key"] != "from-env" || got["n"] != 7 {
		t.Errorf("resolved = %#v", got)
	}
}

func TestFindInline(t *testing.T) {
	cfg := map[string]any{
		"password": map[string]any{"env": "PW"},
		"tls":      map[string]any{"key": "inline-key"},
		"signing_keys": []map[string]any{
			{"id": "a", "key": map[string]any{"file": "/k"}},
			{"id": "b", "key": "inline"},
		},
	}
	for field, want := range map[string]string{
		"password":           "",
		"tls.key":            "config.tls.key",
		"signing_keys[].key": "config.signing_keys[1].key",
		"absent":             "",
		"absent.deeper":      "",
	} {
		if got := FindInline(cfg, field, "config"); got != want {
			t.Errorf("FindInline(%q) = %q, want %q", field, got, want)
		}
	}
}
