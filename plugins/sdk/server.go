package sdk

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

// Plugin-side shims: they serve the gRPC services by forwarding to the implementation. Every
// call gets the RPC's context, so the host's cancellation and deadline reach the
// implementation; errors go back as statuses that keep their sentinels (grpc_errors.go).

var (
	_ pb.BaseServer     = (*baseServer)(nil)
	_ pb.FrontendServer = (*frontendServer)(nil)
	_ pb.UploaderServer = (*uploaderServer)(nil)
)

// baseServer serves the Base service for any plugin.
type baseServer struct {
	pb.UnimplementedBaseServer
	impl   Plugin
	broker *plugin.GRPCBroker
	tel    *pluginTelemetry // nil: not in a plugin process of Serve, no telemetry
}

// Telemetry connects the process's telemetry to the host's collector on the broker.
func (s *baseServer) Telemetry(ctx context.Context, req *pb.TelemetryRequest) (*pb.TelemetryResponse, error) {
	if s.tel == nil {
		return nil, status.Error(codes.Unimplemented, "sdk: this plugin reports no telemetry")
	}
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if err := s.tel.connect(ctx, s.broker, info.Name, req); err != nil {
		return nil, toStatus(err)
	}
	return &pb.TelemetryResponse{}, nil
}

// FlushTelemetry exports what the process's telemetry holds.
func (s *baseServer) FlushTelemetry(ctx context.Context, _ *pb.FlushTelemetryRequest) (*pb.FlushTelemetryResponse, error) {
	if s.tel != nil {
		if err := s.tel.flush(ctx); err != nil {
			return nil, toStatus(err)
		}
	}
	return &pb.FlushTelemetryResponse{}, nil
}

func (s *baseServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return infoToProto(info), nil
}

func (s *baseServer) ConfigSchema(ctx context.Context, _ *pb.ConfigSchemaRequest) (*pb.ConfigSchemaResponse, error) {
	schema, err := s.impl.ConfigSchema(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return schemaToProto(schema), nil
}

// Configure sends diagnostics in the response; when the implementation also returned an
// error, they ride along in the error status so the host still gets them.
func (s *baseServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	diags, err := s.impl.Configure(ctx, req.GetConfig())
	resp := &pb.ConfigureResponse{Diagnostics: diagnosticsToProto(diags)}
	if err != nil {
		if len(resp.Diagnostics) > 0 {
			return nil, toStatus(err, resp)
		}
		return nil, toStatus(err)
	}
	return resp, nil
}

// frontendServer serves the Frontend service. Serve dials the Engine the host serves on the
// broker and hands the implementation a client of it; Stop closes those connections once the
// implementation has stopped.
type frontendServer struct {
	pb.UnimplementedFrontendServer
	impl   Frontend
	broker *plugin.GRPCBroker

	mu    sync.Mutex
	conns []*grpc.ClientConn // engine connections of successful Serve calls, until Stop
}

func (s *frontendServer) Serve(ctx context.Context, req *pb.ServeRequest) (*pb.ServeResponse, error) {
	conn, err := dialBroker(ctx, s.broker, req.GetEngineBrokerId(), "engine", pluginClientHandler())
	if err != nil {
		return nil, toStatus(err)
	}
	eps, err := s.impl.Serve(ctx, newEngineClient(conn))
	if err != nil {
		_ = conn.Close()
		return nil, toStatus(err)
	}
	s.mu.Lock()
	s.conns = append(s.conns, conn)
	s.mu.Unlock()
	return &pb.ServeResponse{Endpoints: endpointsToProto(eps)}, nil
}

// Stop stops the implementation, then closes its engine connections whatever it answered: the
// host stops serving the engine after Stop anyway.
func (s *frontendServer) Stop(ctx context.Context, _ *pb.StopRequest) (*pb.StopResponse, error) {
	err := s.impl.Stop(ctx)
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.StopResponse{}, nil
}

// dialBroker dials the host's service (what) under broker id, giving up when ctx ends
// (broker.Dial itself waits up to 5 s for the host's connection info and takes no context).
func dialBroker(ctx context.Context, broker *plugin.GRPCBroker, id uint32, what string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	type dialed struct {
		conn *grpc.ClientConn
		err  error
	}
	ch := make(chan dialed, 1)
	go func() {
		conn, err := broker.DialWithOptions(id, opts...)
		ch <- dialed{conn, err}
	}()
	select {
	case d := <-ch:
		if d.err != nil {
			return nil, fmt.Errorf("sdk: dial the host's %s (broker id %d): %w", what, id, d.err)
		}
		return d.conn, nil
	case <-ctx.Done():
		go func() { // do not leak a connection that arrives late
			if d := <-ch; d.conn != nil {
				_ = d.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// uploaderServer serves the Uploader service.
type uploaderServer struct {
	pb.UnimplementedUploaderServer
	impl Uploader
}

// Upload streams each progress report as the implementation makes it, then the result. Progress
// reports made concurrently are serialised; those made after Upload returned are dropped.
func (s *uploaderServer) Upload(req *pb.UploadRequest, stream grpc.ServerStreamingServer[pb.UploadResponse]) error {
	var (
		mu   sync.Mutex
		done bool
	)
	progress := func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		// A failed send means the stream is gone; the implementation learns it from ctx.
		_ = stream.Send(progressToProto(p))
	}
	res, err := s.impl.Upload(stream.Context(), uploadRequestFromProto(req), progress)
	mu.Lock()
	done = true
	mu.Unlock()
	if err != nil {
		return toStatus(err)
	}
	return stream.Send(resultToProto(res))
}
