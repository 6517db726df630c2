package engine_test

import (
	"go/parser"
	"go/token"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/screenrec/recorder/internal/xvfb"
)

// TestExample runs Example on a private display and checks what it prints. Example has no
// Output comment because it records a real display, which the short tier (go test -short)
// does without; go test runs every example with one.
func TestExample(t *testing.T) {
	srv := xvfb.StartForTest(t, xvfb.TwoMonitors)
	t.Setenv("DISPLAY", srv.Display) // not parallel: no other test runs meanwhile
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	func() {
		defer func() { os.Stdout = stdout; w.Close() }()
		Example()
	}()
	const want = "started: recording\nended: completed segments: 1 checksummed: true\n"
	if got := <-out; got != want {
		t.Errorf("Example printed %q, want %q", got, want)
	}
}

// An OEM copies the example into their own module: it imports nothing internal.
func TestExampleImportsNoInternalPackage(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "example_test.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		if strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal") {
			t.Errorf("example_test.go imports %s, which an OEM cannot import", path)
		}
	}
}
