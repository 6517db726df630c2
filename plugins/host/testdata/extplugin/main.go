// Command extplugin is an external front-end plugin for the host's tests: the probe front end
// under another name, built as recorder-plugin-ext.
package main

import (
	"context"

	"github.com/screenrec/recorder/frontends/probe"
	"github.com/screenrec/recorder/plugins/sdk"
)

type ext struct{ *probe.Probe }

func (ext) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "ext", Kind: sdk.KindFrontend, Version: "9.9.9"}, nil
}

func main() { sdk.Serve(ext{probe.New()}) }
