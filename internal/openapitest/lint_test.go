package openapitest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// The OpenAPI linter every document of the repository must pass with zero errors: Redocly's
// CLI from npm, pinned. The 1.x line, since 2.x needs Node.js 20.19 and Debian 12 ships 18.
const (
	linterPackage = "@redocly/cli"
	linterVersion = "1.34.20"
)

// repoRoot is the repository's root, relative to this package.
const repoRoot = "../.."

// TestLintOpenAPIDocuments lints every OpenAPI document of the repository (any YAML or JSON
// file with a top-level "openapi" version) with the pinned linter's recommended rules
// (redocly.yaml at the root), and fails with its report on any error.
func TestLintOpenAPIDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: installs and runs a Node.js linter")
	}
	docs := openAPIDocuments(t, repoRoot)
	// The front ends' contracts at least: finding none would make this test pass on nothing.
	for _, want := range []string{"frontends/admin/openapi.yaml", "frontends/cloud/openapi.yaml", "frontends/srs/openapi.yaml"} {
		if !slices.Contains(docs, want) {
			t.Fatalf("%s is not among the OpenAPI documents found: %v", want, docs)
		}
	}
	redocly := installLinter(t)
	cmd := exec.Command(redocly, append([]string{"lint", "--format=stylish"}, docs...)...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s@%s lint %s: %v\n%s", linterPackage, linterVersion, strings.Join(docs, " "), err, out)
	}
	t.Logf("%s", out)
}

// openAPIDocuments returns the repository paths (slash-separated, sorted) of the OpenAPI
// documents under root. Hidden folders, node_modules, bin and testdata (documents broken on
// purpose) are not searched.
func openAPIDocuments(t *testing.T, root string) []string {
	t.Helper()
	var docs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "bin" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(name) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !isOpenAPI(b) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		docs = append(docs, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(docs)
	return docs
}

// isOpenAPI reports whether b is a YAML (or JSON) mapping with a top-level "openapi" version.
func isOpenAPI(b []byte) bool {
	if !bytes.Contains(b, []byte("openapi")) {
		return false
	}
	var top map[string]any
	if yaml.Unmarshal(b, &top) != nil {
		return false
	}
	v, ok := top["openapi"].(string)
	return ok && strings.HasPrefix(v, "3.")
}

// installLinter installs the pinned linter (once per machine: into a folder of the temporary
// directory named after its version) and returns its executable. Concurrent test processes
// each install into a folder of their own and rename it into place; the first one wins.
func installLinter(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed (make test installs it: scripts/deps.sh)")
	}
	dir := filepath.Join(os.TempDir(), "recorder-openapi-lint-"+linterVersion)
	bin := filepath.Join(dir, "node_modules", ".bin", "redocly")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "recorder-openapi-lint-install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(npm, "install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save",
		"--loglevel=error", linterPackage+"@"+linterVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s@%s: %v\n%s", linterPackage, linterVersion, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process installed it meanwhile: use theirs.
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("installing %s: %v", dir, errors.Join(err, serr))
		}
	}
	return bin
}
