package sdk

import (
	"testing"

	"github.com/hashicorp/go-plugin"
)

// The in-memory harness: the real implementation behind the real gRPC shims, connected by
// go-plugin's test connection (a local socket in this process, no subprocess), with the
// broker working both ways so a front end's Engine crosses gRPC too.

// TestFrontend serves impl through the gRPC shims and returns the host-side Frontend that
// calls it, as a host would after dispensing a plugin binary. The connection is torn down by
// t.Cleanup.
func TestFrontend(t testing.TB, impl Frontend) Frontend {
	t.Helper()
	p, _ := testPlugin(t, KindFrontend, &FrontendPlugin{Impl: impl})
	return p.(Frontend)
}

// TestUploader serves impl through the gRPC shims and returns the host-side Uploader that
// calls it. The connection is torn down by t.Cleanup.
func TestUploader(t testing.TB, impl Uploader) Uploader {
	t.Helper()
	p, _ := testPlugin(t, KindUploader, &UploaderPlugin{Impl: impl})
	return p.(Uploader)
}

// testPlugin connects a host-side client to the plugin-side server of gp and dispenses kind.
// Stopping the returned server is what a plugin process dying looks like to the host.
func testPlugin(t testing.TB, kind Kind, gp plugin.Plugin) (Plugin, *plugin.GRPCServer) {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{string(kind): gp})
	t.Cleanup(func() {
		// Server first: closing the client first asks the server to stop itself over gRPC,
		// which would race with this Stop.
		server.Stop()
		_ = client.Close()
	})
	p, err := Dispense(client, kind)
	if err != nil {
		t.Fatalf("sdk: %v", err)
	}
	return p, server
}
