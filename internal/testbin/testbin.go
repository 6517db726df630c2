// Package testbin builds the binaries a test package runs for real (the recorder, plugins)
// into a temporary folder for the package's TestMain, and removes them afterwards.
package testbin

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/screenrec/recorder/plugins/builtin"
)

// Binary is one program to build.
type Binary struct {
	// Name is the file name in the folder.
	Name string
	// Package is the package to build, relative to the test's package.
	Package string
	// NoCgo builds with CGO_ENABLED=0 (a plugin built on the SDK must not need cgo).
	NoCgo bool
	// SkipShort leaves it unbuilt in the short tier (go test -short): every test that runs it
	// needs what that tier skips (an X server, FFmpeg's programs), and linking it is slow.
	SkipShort bool
}

// Recorder is the recorder with what it runs from its own folder: the binary serving the
// built-in adapters as plugin processes, built without cgo as `make build` does. root is the
// repository's root relative to the test's package, e.g. "../..".
func Recorder(root string) []Binary {
	return []Binary{
		{Name: "recorder", Package: root + "/cmd/recorder"},
		{Name: builtin.Executable, Package: root + "/cmd/recorder-builtin", NoCgo: true},
	}
}

// Main builds bins into a new temporary folder, hands the folder to ready, runs the tests,
// removes the folder and exits with the tests' code. It is a whole TestMain body.
func Main(m *testing.M, ready func(dir string), bins ...Binary) {
	flag.Parse() // for testing.Short
	dir, err := os.MkdirTemp("", "testbin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, b := range bins {
		if b.SkipShort && testing.Short() {
			continue
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.Name), b.Package)
		if b.NoCgo {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b.Package+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	ready(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Package is one package of a `go list -deps` listing.
type Package struct {
	ImportPath string
	Imports    []string
	// Cgo: the package has cgo files (under the environment the listing was made in).
	Cgo bool
}

// Deps lists pkg and every package it depends on, as `go list -deps` does in the environment
// env (e.g. "CGO_ENABLED=0") added to this process's.
func Deps(t testing.TB, pkg string, env ...string) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}|{{join .Imports ","}}|{{len .CgoFiles}}`, pkg)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var pkgs []Package
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			t.Fatalf("go list: unexpected line %q", line)
		}
		p := Package{ImportPath: f[0], Cgo: f[2] != "0"}
		if f[1] != "" {
			p.Imports = strings.Split(f[1], ",")
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}
