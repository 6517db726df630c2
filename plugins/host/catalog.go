// Package host runs the recorder's adapters: built-in ones from a catalog and external
// recorder-plugin-<name> binaries from a plugin folder, each in-process or as a go-plugin
// subprocess. It validates their config at load, supervises plugin processes (restarting one
// that dies while recordings go on in the engine), routes their logs into slog, and stops them
// cleanly.
package host

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/screenrec/recorder/frontends/cloud"
	"github.com/screenrec/recorder/frontends/probe"
	"github.com/screenrec/recorder/frontends/srs"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/uploaders/noop"
	"github.com/screenrec/recorder/uploaders/rws"
)

// Registration is a built-in adapter.
type Registration struct {
	Name string
	Kind sdk.Kind
	// New returns a fresh, unconfigured implementation.
	New func() sdk.Plugin
	// Test marks adapters meant for tests and demos, not production.
	Test bool
}

// builtins is where every built-in adapter is registered.
var builtins = []Registration{
	{Name: srs.Name, Kind: sdk.KindFrontend, New: func() sdk.Plugin { return srs.New() }},
	{Name: cloud.Name, Kind: sdk.KindFrontend, New: func() sdk.Plugin { return cloud.New() }},
	{Name: probe.Name, Kind: sdk.KindFrontend, New: func() sdk.Plugin { return probe.New() }, Test: true},
	{Name: rws.Name, Kind: sdk.KindUploader, New: func() sdk.Plugin { return rws.New() }},
	{Name: noop.Name, Kind: sdk.KindUploader, New: func() sdk.Plugin { return noop.New() }, Test: true},
}

// Builtins lists the built-in adapters, by kind then name.
func Builtins() []Registration {
	out := append([]Registration(nil), builtins...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Builtin returns the built-in adapter of that kind and name.
func Builtin(kind sdk.Kind, name string) (Registration, bool) {
	for _, r := range builtins {
		if r.Kind == kind && r.Name == name {
			return r, true
		}
	}
	return Registration{}, false
}

// ExternalPrefix starts the file name of every external plugin binary.
const ExternalPrefix = "recorder-plugin-"

// External is a plugin binary found in the plugin folder.
type External struct {
	Name string
	Path string
}

// Discover lists the recorder-plugin-<name> executables in dir (none when dir is empty or
// missing).
func Discover(dir string) ([]External, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plugin dir: %w", err)
	}
	var out []External
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), ExternalPrefix)
		if !ok || name == "" || e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Mode()&0o111 == 0 {
			continue
		}
		out = append(out, External{Name: name, Path: filepath.Join(dir, e.Name())})
	}
	return out, nil
}
