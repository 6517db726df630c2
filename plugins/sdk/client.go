package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

// Host-side shims: they implement Frontend and Uploader by calling a plugin over gRPC. Errors
// come back with the plugin's message and sentinels (see grpc_errors.go); a plugin that is gone
// gives errors wrapping ErrPluginExited.

var (
	_ Plugin   = (*baseClient)(nil)
	_ Frontend = (*frontendClient)(nil)
	_ Uploader = (*uploaderClient)(nil)
)

// pluginErr converts an error of a call into a plugin.
func pluginErr(ctx context.Context, err error) error { return fromStatus(ctx, err, ErrPluginExited) }

// baseClient implements Plugin over the Base service.
type baseClient struct {
	client pb.BaseClient
	broker *plugin.GRPCBroker // serves the telemetry collector; nil in tests without one
}

func (c *baseClient) Info(ctx context.Context) (Info, error) {
	resp, err := c.client.Info(ctx, &pb.InfoRequest{})
	if err != nil {
		return Info{}, pluginErr(ctx, err)
	}
	return infoFromProto(resp), nil
}

func (c *baseClient) ConfigSchema(ctx context.Context) (Schema, error) {
	resp, err := c.client.ConfigSchema(ctx, &pb.ConfigSchemaRequest{})
	if err != nil {
		return Schema{}, pluginErr(ctx, err)
	}
	return schemaFromProto(resp), nil
}

// Configure returns the plugin's diagnostics; when the plugin also returned an error, the
// diagnostics it returned with it ride along in the status and come back too.
func (c *baseClient) Configure(ctx context.Context, config []byte) ([]Diagnostic, error) {
	resp, err := c.client.Configure(ctx, &pb.ConfigureRequest{Config: config})
	if err != nil {
		var diags []Diagnostic
		if r, ok := statusDetail[*pb.ConfigureResponse](err); ok {
			diags = diagnosticsFromProto(r.GetDiagnostics())
		}
		return diags, pluginErr(ctx, err)
	}
	return diagnosticsFromProto(resp.GetDiagnostics()), nil
}

// frontendClient implements Frontend over the Frontend service. Serve serves the Engine it is
// given on the go-plugin broker for the plugin to call back; Stop stops those servers.
type frontendClient struct {
	*baseClient
	client pb.FrontendClient
	broker *plugin.GRPCBroker
	host   *hostTracing // traces the Engine service; nil: untraced

	mu      sync.Mutex
	engines []*brokeredEngine // engines served for successful Serve calls, until Stop
}

func newFrontendClient(broker *plugin.GRPCBroker, conn grpc.ClientConnInterface, host *hostTracing) *frontendClient {
	return &frontendClient{
		baseClient: &baseClient{client: pb.NewBaseClient(conn), broker: broker},
		client:     pb.NewFrontendClient(conn),
		broker:     broker,
		host:       host,
	}
}

// Serve serves eng on a new broker id, then asks the plugin to serve with it. The Engine
// service stays up until Stop (or until the plugin connection closes); if the plugin refuses
// to serve it is stopped at once.
func (c *frontendClient) Serve(ctx context.Context, eng Engine) ([]Endpoint, error) {
	if eng == nil {
		return nil, errors.New("sdk: Frontend.Serve needs an engine")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	be := serveEngineOnBroker(c.broker, eng, c.host.serverOptions()...)
	resp, err := c.client.Serve(ctx, &pb.ServeRequest{EngineBrokerId: be.id})
	if err != nil {
		be.stop()
		return nil, pluginErr(ctx, err)
	}
	c.mu.Lock()
	c.engines = append(c.engines, be)
	c.mu.Unlock()
	return endpointsFromProto(resp.GetEndpoints()), nil
}

// Stop asks the plugin to stop, then stops serving the engine to it, whatever the plugin
// answered: after Stop (even one cut short by ctx) the plugin can no longer drive the engine.
func (c *frontendClient) Stop(ctx context.Context) error {
	_, err := c.client.Stop(ctx, &pb.StopRequest{})
	c.mu.Lock()
	engines := c.engines
	c.engines = nil
	c.mu.Unlock()
	for _, be := range engines {
		be.stop()
	}
	return pluginErr(ctx, err)
}

// uploaderClient implements Uploader over the Uploader service.
type uploaderClient struct {
	*baseClient
	client pb.UploaderClient
}

func newUploaderClient(broker *plugin.GRPCBroker, conn grpc.ClientConnInterface) *uploaderClient {
	return &uploaderClient{
		baseClient: &baseClient{client: pb.NewBaseClient(conn), broker: broker},
		client:     pb.NewUploaderClient(conn),
	}
}

// Upload calls progress, on the calling goroutine, for each progress message in order, and
// returns once the result arrives or the stream fails.
func (c *uploaderClient) Upload(ctx context.Context, req UploadRequest, progress func(Progress)) (UploadResult, error) {
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if we return before reading it to the end
	stream, err := c.client.Upload(streamCtx, uploadRequestToProto(req))
	if err != nil {
		return UploadResult{}, pluginErr(ctx, err)
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return UploadResult{}, fmt.Errorf("sdk: uploader ended its stream without a result")
		}
		if err != nil {
			return UploadResult{}, pluginErr(ctx, err)
		}
		switch ev := msg.GetEvent().(type) {
		case *pb.UploadResponse_Progress:
			if progress != nil {
				progress(progressFromProto(ev.Progress))
			}
		case *pb.UploadResponse_Result:
			return resultFromProto(ev.Result), nil
		}
	}
}
