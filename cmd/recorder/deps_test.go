package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/screenrec/recorder/internal/testbin"
)

// The production binary carries production code only: no benchmark suite, plotting or test
// display, and `testing` only where a dependency's own test helpers import it (the linker
// drops their unused code): go-plugin's and xgb's, and the SDK's in-memory harness.
func TestRecorderLinksNoBenchOrTestCode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	banned := []string{"gonum.org/", "github.com/screenrec/recorder/benchmarks", "github.com/screenrec/recorder/internal/xvfb",
		"github.com/screenrec/recorder/internal/xscene", "github.com/screenrec/recorder/internal/testbin",
		"github.com/screenrec/recorder/internal/mediatest"}
	testingAllowed := []string{"github.com/hashicorp/go-plugin", "github.com/jezek/xgb", "github.com/screenrec/recorder/plugins/sdk"}
	for _, p := range testbin.Deps(t, ".") {
		for _, b := range banned {
			if strings.HasPrefix(p.ImportPath, b) {
				t.Errorf("cmd/recorder links %s", p.ImportPath)
			}
		}
		if slices.Contains(p.Imports, "testing") && !slices.Contains(testingAllowed, p.ImportPath) {
			t.Errorf("cmd/recorder links testing through %s", p.ImportPath)
		}
	}
}
