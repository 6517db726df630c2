// Command extplugin is an external front-end plugin for the host's tests: the probe front end
// under another name, built as recorder-plugin-ext.
package main

import (
	"context"
	"log/slog"

	"github.com/screenrec/recorder/frontends/probe"
	"github.com/screenrec/recorder/plugins/sdk"
)

type ext struct{ *probe.Probe }

func (ext) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "ext", Kind: sdk.KindFrontend, Version: "9.9.9"}, nil
}

// Serve logs a line with attributes a plugin may well add, that the host's line has already:
// the plugin's own name, and a key slog writes itself.
func (e ext) Serve(ctx context.Context, eng sdk.Engine) ([]sdk.Endpoint, error) {
	slog.Info("ext: serving", "frontend", "ext", "plugin", "ext", "time", "at start", "detail", 42)
	return e.Probe.Serve(ctx, eng)
}

func main() { sdk.Serve(ext{probe.New()}) }
