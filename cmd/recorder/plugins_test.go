package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/screenrec/recorder/internal/testbin"
)

func TestPluginsListsBuiltinAndDiscovered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ext := testbin.Binary{Name: "recorder-plugin-ext", Package: "../../plugins/host/testdata/extplugin", NoCgo: true}
	if err := ext.BuildInto(dir); err != nil {
		t.Fatalf("build external plugin: %v", err)
	}
	// Not a plugin: executable, but named otherwise; and a non-executable one.
	os.WriteFile(filepath.Join(dir, "other-tool"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "recorder-plugin-notexec"), []byte("x"), 0o644)

	out, err := exec.Command(recorderBin, "plugins", "--json", "--plugin-dir", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	var rows []pluginRow
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string]pluginRow{
		"srs":   {Name: "srs", Kind: "frontend", Version: "1.0.0", Source: "built-in"},
		"cloud": {Name: "cloud", Kind: "frontend", Version: "1.0.0", Source: "built-in"},
		"fleet": {Name: "fleet", Kind: "frontend", Version: "0.1.0", Source: "built-in"},
		"rws":   {Name: "rws", Kind: "uploader", Version: "1.0.0", Source: "built-in"},
		"s3":    {Name: "s3", Kind: "uploader", Version: "1.0.0", Source: "built-in"},
		"probe": {Name: "probe", Kind: "frontend", Version: "0.1.0-test", Source: "built-in (test)"},
		"noop":  {Name: "noop", Kind: "uploader", Version: "0.1.0-test", Source: "built-in (test)"},
		"ext":   {Name: "ext", Kind: "frontend", Version: "9.9.9", Source: filepath.Join(dir, "recorder-plugin-ext")},
	}
	if len(rows) != len(want) {
		t.Fatalf("plugins = %+v, want %d rows", rows, len(want))
	}
	for _, r := range rows {
		// Every plugin describes its config section; the schema's content is the plugin's test.
		if r.Schema == nil {
			t.Errorf("%s: no config schema", r.Name)
		}
		r.Schema = nil
		if r != want[r.Name] {
			t.Errorf("row %+v, want %+v", r, want[r.Name])
		}
	}
}
