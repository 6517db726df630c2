package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// exportedNames lists the exported top-level names (not methods) of the package in dir,
// leaving out tests.
func exportedNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						if sp.Name.IsExported() {
							names = append(names, sp.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							if n.IsExported() {
								names = append(names, n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// Package engine re-exports every name of engine/api, so an embedder needs one import; this
// keeps the two from drifting apart.
func TestEngineReexportsEveryAPIName(t *testing.T) {
	have := exportedNames(t, ".")
	var missing []string
	for _, n := range exportedNames(t, "api") {
		if _, ok := slices.BinarySearch(have, n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Errorf("engine does not re-export these names of engine/api: %s", strings.Join(missing, ", "))
	}
}
