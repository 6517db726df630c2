package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

// The go-plugin glue: one GRPCPlugin wrapper per kind, the plugin maps the host and plugins
// share, Serve (the entry point of every plugin binary) and, for the host, ClientConfig and
// Dispense.

var (
	_ plugin.GRPCPlugin = (*FrontendPlugin)(nil)
	_ plugin.Plugin     = (*FrontendPlugin)(nil)
	_ plugin.GRPCPlugin = (*UploaderPlugin)(nil)
	_ plugin.Plugin     = (*UploaderPlugin)(nil)
)

// FrontendPlugin is the go-plugin wrapper of a Frontend, gRPC only. A plugin binary serves
// it (Serve does that); the host puts an empty one in its plugin map (PluginMap does that)
// and dispenses a Frontend that calls the plugin.
type FrontendPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the front end itself; set on the plugin side only, unused by the host.
	Impl Frontend

	tel  *pluginTelemetry // plugin side, under Serve: the process's telemetry
	host *hostTracing     // host side, with WithTracing
}

// GRPCServer registers the Base and Frontend services, forwarding to Impl.
func (p *FrontendPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("sdk: FrontendPlugin.Impl is nil")
	}
	pb.RegisterBaseServer(s, &baseServer{impl: p.Impl, broker: broker, tel: p.tel})
	pb.RegisterFrontendServer(s, &frontendServer{impl: p.Impl, broker: broker})
	return nil
}

// GRPCClient returns a Frontend that calls the plugin over c; its Serve serves the Engine to
// the plugin over broker.
func (p *FrontendPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return newFrontendClient(broker, c, p.host), nil
}

// UploaderPlugin is the go-plugin wrapper of an Uploader, gRPC only; see FrontendPlugin.
type UploaderPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the uploader itself; set on the plugin side only, unused by the host.
	Impl Uploader

	tel *pluginTelemetry // plugin side, under Serve: the process's telemetry
}

// GRPCServer registers the Base and Uploader services, forwarding to Impl.
func (p *UploaderPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("sdk: UploaderPlugin.Impl is nil")
	}
	pb.RegisterBaseServer(s, &baseServer{impl: p.Impl, broker: broker, tel: p.tel})
	pb.RegisterUploaderServer(s, &uploaderServer{impl: p.Impl})
	return nil
}

// GRPCClient returns an Uploader that calls the plugin over c.
func (p *UploaderPlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return newUploaderClient(broker, c), nil
}

// PluginMap returns the host's plugin map for one kind: the kind's name mapped to an empty
// wrapper. It is empty for an unknown kind.
func PluginMap(kind Kind) plugin.PluginSet { return pluginMap(kind, nil) }

func pluginMap(kind Kind, host *hostTracing) plugin.PluginSet {
	switch kind {
	case KindFrontend:
		return plugin.PluginSet{string(KindFrontend): &FrontendPlugin{host: host}}
	case KindUploader:
		return plugin.PluginSet{string(KindUploader): &UploaderPlugin{}}
	}
	return plugin.PluginSet{}
}

// PluginSet returns the host's plugin map for every kind, keyed by kind name. A plugin binary
// serves one kind only; dispensing another from it gives a client whose calls fail with
// errors wrapping errors.ErrUnsupported.
func PluginSet() plugin.PluginSet {
	return plugin.PluginSet{
		string(KindFrontend): &FrontendPlugin{},
		string(KindUploader): &UploaderPlugin{},
	}
}

// ClientConfig returns the go-plugin client config that starts the plugin binary cmd, of the
// given kind: the shared Handshake, PluginMap(kind), gRPC only, and logger, which receives the
// plugin's log lines (see Serve) under a sub-logger named after the binary. The plugin's own
// stdout and stderr streams (SyncStdout/SyncStderr) are discarded. WithTracing traces the
// connection.
func ClientConfig(cmd *exec.Cmd, kind Kind, logger hclog.Logger, opts ...ClientOption) *plugin.ClientConfig {
	var o clientOptions
	for _, opt := range opts {
		opt(&o)
	}
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          pluginMap(kind, o.tracing),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
		GRPCDialOptions:  o.tracing.dialOptions(),
	}
}

// Dispense returns the host-side client of the plugin of the given kind that c is connected
// to: a Frontend for KindFrontend, an Uploader for KindUploader. c is usually what
// (*plugin.Client).Client returned for a ClientConfig of the same kind.
func Dispense(c plugin.ClientProtocol, kind Kind) (Plugin, error) {
	raw, err := c.Dispense(string(kind))
	if err != nil {
		return nil, fmt.Errorf("sdk: dispense the %s plugin: %w", kind, err)
	}
	p, ok := raw.(Plugin)
	if !ok {
		return nil, fmt.Errorf("sdk: dispensed %s plugin is a %T, not an sdk.Plugin", kind, raw)
	}
	return p, nil
}

// Serve serves p from a plugin binary: call it from main, and print nothing to stdout before
// (stdout carries the go-plugin handshake). p must be a Frontend or an Uploader; a value that
// is both is served as a Frontend. Serve returns only when the host closes the plugin; on a p
// of neither kind it logs and exits with status 1.
//
// Serve first makes slog.Default() (and so the standard log package) write hclog-compatible
// JSON lines ("@level", "@message", "@timestamp", then the attributes) to the process's
// stderr, at debug level and above. The host's go-plugin client parses those lines and
// re-logs them on its own logger, so plugins just log with slog; a line logged with a context
// inside a span carries its trace_id and span_id.
//
// Serve also makes the process ready for telemetry: when the host connects it (see
// ConnectTelemetry), OpenTelemetry's global tracer and meter providers and propagator are set
// to ones that send to the host, so a plugin instruments itself with the globals
// (otel.Tracer, otel.Meter, or middleware that uses them by default). Its gRPC server
// carries trace context from the host's calls. Before returning, Serve flushes what telemetry
// holds.
func Serve(p Plugin) {
	stderr := os.Stderr // plugin.Serve swaps os.Stderr for a pipe the host does not read
	slog.SetDefault(slog.New(NewLogHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))

	tel := &pluginTelemetry{global: true}
	defer func() {
		// The host asked for a flush before stopping us; this sends what ended since, if the
		// host still listens. Short: the host waits for this process to exit.
		ctx, cancel := context.WithTimeout(context.Background(), exitFlushTimeout)
		defer cancel()
		tel.shutdown(ctx)
	}()
	var plugins plugin.PluginSet
	switch impl := p.(type) {
	case Frontend:
		plugins = plugin.PluginSet{string(KindFrontend): &FrontendPlugin{Impl: impl, tel: tel}}
	case Uploader:
		plugins = plugin.PluginSet{string(KindUploader): &UploaderPlugin{Impl: impl, tel: tel}}
	default:
		slog.Error("sdk.Serve: the plugin is neither a Frontend nor an Uploader", "type", fmt.Sprintf("%T", p))
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugins,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, pluginServerHandler()))
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Level:      hclog.Info,
			Output:     stderr,
			JSONFormat: true,
		}),
	})
}
