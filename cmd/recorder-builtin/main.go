// Command recorder-builtin serves one of the recorder's built-in adapters as a plugin process:
// `recorder run` starts it as `recorder-builtin --kind frontend|uploader NAME`, people do not.
// It is built without cgo and links no engine, so a plugin process starts fast and maps none
// of FFmpeg's shared libraries.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/screenrec/recorder/internal/memtrim"
	"github.com/screenrec/recorder/plugins/builtin"
	"github.com/screenrec/recorder/plugins/sdk"
)

func main() {
	_ = memtrim.Trim() // a saving, not a requirement
	fs := flag.NewFlagSet(builtin.Executable, flag.ExitOnError)
	kind := fs.String("kind", string(sdk.KindFrontend), "frontend or uploader")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s --kind frontend|uploader NAME\n"+
			"Serves a built-in adapter as a plugin process; `recorder run` starts it.\n", builtin.Executable)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:]) // exits on a bad flag
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	name := fs.Arg(0)
	reg, ok := builtin.Lookup(sdk.Kind(*kind), name)
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: no built-in %s named %q\n", builtin.Executable, *kind, name)
		os.Exit(2)
	}
	sdk.Serve(reg.New()) // returns when the host ends the plugin
}
