package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-user", "a:b"}, "-dir is required"},
		{[]string{"-dir", t.TempDir(), "-user", "nocolon"}, "want name:password"},
		{[]string{"-dir", t.TempDir(), "-listen", "nonsense"}, "nonsense"},
		{[]string{"-bogus"}, "not defined"},
	} {
		var out, errb bytes.Buffer
		err := run(tc.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error()+errb.String(), tc.want) {
			t.Errorf("run(%q) = %v (stderr %q), want %q", tc.args, err, errb.String(), tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) printed %q", tc.args, out.String())
		}
	}
	users := userFlags{}
	for _, v := range []string{"a:b", "c:d:e"} {
		if err := users.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if users["a"] != "b" || users["c"] != "d:e" {
		t.Errorf("users = %v", users)
	}
}
