package sdk

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/screenrec/recorder/engine/api"
	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

// The host side of the Engine service: the host serves an Engine (usually the engine itself) to
// a front-end plugin over the go-plugin broker, one gRPC server per Frontend.Serve call.

var _ pb.EngineServer = (*engineServer)(nil)

// eventsSubscribedHeader is the response header the Events RPC sends once the host has
// subscribed, so the client knows the subscription stands before its Events call returns.
const eventsSubscribedHeader = "recorder-events-subscribed"

// engineServer serves the Engine service by forwarding to impl.
type engineServer struct {
	pb.UnimplementedEngineServer
	impl Engine
}

func (s *engineServer) Start(ctx context.Context, req *pb.EngineStartRequest) (*pb.EngineStartResponse, error) {
	sess, err := s.impl.Start(ctx, startRequestFromProto(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.EngineStartResponse{Session: sessionToProto(sess)}, nil
}

func (s *engineServer) Stop(ctx context.Context, req *pb.EngineStopRequest) (*pb.EngineStopResponse, error) {
	sess, err := s.impl.Stop(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.EngineStopResponse{Session: sessionToProto(sess)}, nil
}

func (s *engineServer) Mask(ctx context.Context, req *pb.EngineMaskRequest) (*pb.EngineMaskResponse, error) {
	target := api.MaskTarget{Owner: req.GetOwner(), Display: req.GetDisplay()}
	sessions, err := s.impl.Mask(ctx, target, req.GetOn())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.EngineMaskResponse{Sessions: sessionsToProto(sessions)}, nil
}

func (s *engineServer) Get(ctx context.Context, req *pb.EngineGetRequest) (*pb.EngineGetResponse, error) {
	sess, err := s.impl.Get(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.EngineGetResponse{Session: sessionToProto(sess)}, nil
}

func (s *engineServer) SetUploadAuth(ctx context.Context, req *pb.EngineSetUploadAuthRequest) (*pb.EngineSetUploadAuthResponse, error) {
	var auth *api.UploadAuth
	if !req.GetClear() {
		auth = &api.UploadAuth{Credentials: api.Credentials{Username: req.GetUsername(), Password: req.GetPassword()},
			Server: req.GetServer(), PeerServer: req.GetPeerServer()}
	}
	if err := s.impl.SetUploadAuth(ctx, req.GetOwner(), auth); err != nil {
		return nil, toStatus(err)
	}
	return &pb.EngineSetUploadAuthResponse{}, nil
}

func (s *engineServer) List(ctx context.Context, req *pb.EngineListRequest) (*pb.EngineListResponse, error) {
	f, err := listFilterFromProto(req)
	if err != nil {
		return nil, toStatus(fmt.Errorf("%w: list filter: %w", api.ErrInvalidRequest, err))
	}
	sessions, err := s.impl.List(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.EngineListResponse{Sessions: sessionsToProto(sessions)}, nil
}

// Events subscribes with the stream's context (so the subscription ends when the plugin
// cancels or goes away), sends the subscribed header, then forwards events in order until the
// engine closes the channel (the stream then ends cleanly) or the stream's context ends.
func (s *engineServer) Events(_ *pb.EngineEventsRequest, stream grpc.ServerStreamingServer[pb.Event]) error {
	ctx := stream.Context()
	ch, err := s.impl.Events(ctx)
	if err != nil {
		return toStatus(err)
	}
	if err := stream.SendHeader(metadata.Pairs(eventsSubscribedHeader, "1")); err != nil {
		return err
	}
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return nil
			}
			if err := stream.Send(eventToProto(ev)); err != nil {
				return err
			}
		case <-ctx.Done():
			return toStatus(ctx.Err())
		}
	}
}

// brokeredEngine is one Engine service served on the broker for one Frontend.Serve call.
type brokeredEngine struct {
	id uint32

	mu      sync.Mutex
	srv     *grpc.Server // nil until AcceptAndServe has built it
	stopped bool
}

// serveEngineOnBroker starts serving eng on a new broker id, in the background, with extra
// server options (tracing). The plugin dials the id; stop ends the service.
func serveEngineOnBroker(broker *plugin.GRPCBroker, eng Engine, extra ...grpc.ServerOption) *brokeredEngine {
	be := &brokeredEngine{id: broker.NextId()}
	go broker.AcceptAndServe(be.id, func(opts []grpc.ServerOption) *grpc.Server {
		srv := grpc.NewServer(append(opts, extra...)...)
		pb.RegisterEngineServer(srv, &engineServer{impl: eng})
		be.mu.Lock()
		defer be.mu.Unlock()
		be.srv = srv
		if be.stopped {
			srv.Stop() // stop came first: Serve will return at once
		}
		return srv
	})
	return be
}

// stop stops the service, cancelling calls and event streams in flight. It is idempotent; the
// broker's goroutine and listener end with it.
func (be *brokeredEngine) stop() {
	be.mu.Lock()
	be.stopped = true
	srv := be.srv
	be.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}
