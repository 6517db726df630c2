// Package testbin builds the binaries a test package runs for real (the recorder, plugins)
// into a temporary folder for the package's TestMain, and removes them afterwards.
package testbin

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
