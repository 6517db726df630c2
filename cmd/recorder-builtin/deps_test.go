package main

import (
	"strings"
	"testing"

	"github.com/screenrec/recorder/internal/testbin"
)

// The plugin binary builds without cgo and links no engine: a plugin process maps none of
// FFmpeg's or SQLite's libraries.
func TestBuiltinBinaryNeedsNoCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, p := range testbin.Deps(t, ".", "CGO_ENABLED=0") {
		if p.ImportPath == "runtime/cgo" || p.Cgo {
			t.Errorf("with CGO_ENABLED=0 the plugin binary still links cgo: %s", p.ImportPath)
		}
	}
	// With cgo available, only the standard library's optional cgo (net, os/user) may appear.
	for _, p := range testbin.Deps(t, ".", "CGO_ENABLED=1") {
		if p.Cgo && strings.Contains(p.ImportPath, ".") {
			t.Errorf("the plugin binary links the cgo package %s", p.ImportPath)
		}
		if strings.HasPrefix(p.ImportPath, "github.com/screenrec/recorder/engine") && p.ImportPath != "github.com/screenrec/recorder/engine/api" {
			t.Errorf("the plugin binary links the engine: %s", p.ImportPath)
		}
	}
}
