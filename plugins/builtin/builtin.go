// Package builtin is the catalog of the recorder's built-in adapters. It links the adapters and
// the SDK only, no cgo, so that the recorder-builtin binary, which serves these adapters as
// plugin processes, maps no FFmpeg or SQLite.
package builtin

import (
	"sort"

	"github.com/screenrec/recorder/frontends/cloud"
	"github.com/screenrec/recorder/frontends/fleet"
	"github.com/screenrec/recorder/frontends/probe"
	"github.com/screenrec/recorder/frontends/srs"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/uploaders/noop"
	"github.com/screenrec/recorder/uploaders/rws"
	s3 "github.com/screenrec/recorder/uploaders/s3"
)

// Executable is the file name of the binary that serves built-in adapters as plugin
// processes (`recorder-builtin --kind KIND NAME`); it is installed next to the recorder.
const Executable = "recorder-builtin"

// Registration is a built-in adapter.
type Registration struct {
	Name string
	Kind sdk.Kind
	// New returns a fresh, unconfigured implementation.
	New func() sdk.Plugin
	// Test marks adapters meant for tests and demos, not production.
	Test bool
}

// registrations is where every built-in adapter is registered.
var registrations = []Registration{
	{Name: srs.Name, Kind: sdk.KindFrontend, New: func() sdk.Plugin { return srs.New() }},
	{Name: cloud.Name, Kind: sdk.KindFrontend, New: func() sdk.Plugin { return cloud.New() }},
	{Name: fleet.Name, Kind: sdk.KindFrontend, New: func() sdk.Plugin { return fleet.New() }},
	{Name: probe.Name, Kind: sdk.KindFrontend, New: func() sdk.Plugin { return probe.New() }, Test: true},
	{Name: rws.Name, Kind: sdk.KindUploader, New: func() sdk.Plugin { return rws.New() }},
	{Name: s3.Name, Kind: sdk.KindUploader, New: func() sdk.Plugin { return s3.New() }},
	{Name: noop.Name, Kind: sdk.KindUploader, New: func() sdk.Plugin { return noop.New() }, Test: true},
}

// All lists the built-in adapters, by kind then name.
func All() []Registration {
	out := append([]Registration(nil), registrations...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Lookup returns the built-in adapter of that kind and name.
func Lookup(kind sdk.Kind, name string) (Registration, bool) {
	for _, r := range registrations {
		if r.Kind == kind && r.Name == name {
			return r, true
		}
	}
	return Registration{}, false
}
