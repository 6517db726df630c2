// Package testbin builds the binaries a test package runs for real (the recorder, plugins)
// into a temporary folder for the package's TestMain, and removes them afterwards.
//
// Builds are shared between test packages and runs through a cache in the temporary folder
// keyed by everything a build reads (the module's source files, the versions of the other
// modules, the toolchain and the build environment), because linking the recorder takes
// seconds and several packages run it.
package testbin

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

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
	pruneCache(time.Now().Add(-cacheLife))
	for _, b := range bins {
		if b.SkipShort && testing.Short() {
			continue
		}
		if err := b.buildInto(dir); err != nil {
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

// cacheLife is how long an unused build stays in the cache.
const cacheLife = 24 * time.Hour

// cacheDir is the shared cache of builds.
func cacheDir() string { return filepath.Join(os.TempDir(), "recorder-testbin-cache") }

// env is the build environment of b.
func (b Binary) env() []string {
	if b.NoCgo {
		return append(os.Environ(), "CGO_ENABLED=0")
	}
	return os.Environ()
}

// BuildInto puts a build of b into dir as b.Name, through the shared cache, for a test that
// needs a binary of its own folder (TestMain's Main builds the package's shared ones).
func (b Binary) BuildInto(dir string) error { return b.buildInto(dir) }

// buildInto puts a build of b into dir as b.Name: linked from the cache when it holds one of
// the same sources, else built into the cache first. Without a key (go list failed), it
// builds straight into dir.
func (b Binary) buildInto(dir string) error {
	dst := filepath.Join(dir, b.Name)
	key, err := b.key()
	if err != nil {
		return b.build(dst)
	}
	cached := filepath.Join(cacheDir(), key)
	if _, err := os.Stat(cached); err != nil {
		if err := os.MkdirAll(cacheDir(), 0o755); err != nil {
			return err
		}
		unlock, err := lockBuild(cached + ".lock")
		if err != nil {
			return err
		}
		defer unlock()
	}
	if _, err := os.Stat(cached); err != nil { // not built while this one waited for the lock
		// Built beside its final name and renamed, so a package building the same binary at
		// the same time never sees half a file.
		tmp := fmt.Sprintf("%s.%d.tmp", cached, os.Getpid())
		if err := b.build(tmp); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, cached); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	now := time.Now()
	_ = os.Chtimes(cached, now, now) // in use: not pruned
	if os.Link(cached, dst) == nil {
		return nil
	}
	return copyFile(cached, dst)
}

// build runs go build for b into out.
func (b Binary) build(out string) error {
	cmd := exec.Command("go", "build", "-o", out, b.Package)
	cmd.Env = b.env()
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// key hashes what a build of b reads: every package it links, by its files' contents for this
// module's packages and by module version for the others, plus the toolchain, the platform
// and the environment variables that change a build.
func (b Binary) key() (string, error) {
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{.ImportPath}}|{{.Dir}}|{{.Standard}}|{{with .Module}}{{.Path}}@{{.Version}}{{end}}|`+
			`{{join .GoFiles ","}},{{join .CgoFiles ","}},{{join .EmbedFiles ","}},{{join .CFiles ","}},{{join .HFiles ","}}`,
		b.Package)
	cmd.Env = b.env()
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintln(h, b.Name, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, v := range []string{"CGO_ENABLED", "GOFLAGS", "GOOS", "GOARCH", "GOAMD64", "CC", "CGO_CFLAGS", "CGO_LDFLAGS", "PKG_CONFIG_PATH", "GOEXPERIMENT"} {
		val, _ := os.LookupEnv(v)
		if v == "CGO_ENABLED" && b.NoCgo {
			val = "0"
		}
		fmt.Fprintf(h, "%s=%s\n", v, val)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "|", 5)
		if len(f) != 5 {
			return "", fmt.Errorf("go list: unexpected line %q", line)
		}
		fmt.Fprintln(h, f[0], f[2], f[3])
		// Versioned modules are immutable; the standard library is the toolchain's. Hash the
		// files of the rest: this module and any replaced by a local folder.
		if f[2] == "true" || (f[3] != "" && !strings.HasSuffix(f[3], "@")) {
			continue
		}
		for _, name := range strings.Split(f[4], ",") {
			if name == "" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(f[1], name))
			if err != nil {
				return "", err
			}
			fmt.Fprintln(h, name, len(data))
			h.Write(data)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// pruneCache removes cached builds not used since before.
func pruneCache(before time.Time) {
	entries, _ := os.ReadDir(cacheDir())
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(before) {
			os.Remove(filepath.Join(cacheDir(), e.Name()))
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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
