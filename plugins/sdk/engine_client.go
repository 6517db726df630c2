package sdk

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/screenrec/recorder/engine/api"
	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

// The plugin side of the Engine service: a front-end plugin gets an engineClient as the Engine
// of Frontend.Serve. Errors keep the engine's sentinels; once the host has stopped serving the
// engine (after Stop, or when the host is gone) calls fail with errors wrapping
// api.ErrClosed.

var _ Engine = (*engineClient)(nil)

// engineErr converts an error of a call into the host's engine.
func engineErr(ctx context.Context, err error) error { return fromStatus(ctx, err, api.ErrClosed) }

// engineClient implements Engine over the Engine service the host serves on the broker.
type engineClient struct {
	client pb.EngineClient
}

func newEngineClient(conn grpc.ClientConnInterface) *engineClient {
	return &engineClient{client: pb.NewEngineClient(conn)}
}

func (c *engineClient) Start(ctx context.Context, req api.StartRequest) (api.Session, error) {
	resp, err := c.client.Start(ctx, startRequestToProto(req))
	if err != nil {
		return api.Session{}, engineErr(ctx, err)
	}
	return sessionFromProto(resp.GetSession())
}

func (c *engineClient) Stop(ctx context.Context, id string) (api.Session, error) {
	resp, err := c.client.Stop(ctx, &pb.EngineStopRequest{Id: id})
	if err != nil {
		return api.Session{}, engineErr(ctx, err)
	}
	return sessionFromProto(resp.GetSession())
}

func (c *engineClient) Mask(ctx context.Context, target api.MaskTarget, on bool) ([]api.Session, error) {
	resp, err := c.client.Mask(ctx, &pb.EngineMaskRequest{Owner: target.Owner, Display: target.Display, On: on})
	if err != nil {
		return nil, engineErr(ctx, err)
	}
	return sessionsFromProto(resp.GetSessions())
}

func (c *engineClient) Get(ctx context.Context, id string) (api.Session, error) {
	resp, err := c.client.Get(ctx, &pb.EngineGetRequest{Id: id})
	if err != nil {
		return api.Session{}, engineErr(ctx, err)
	}
	return sessionFromProto(resp.GetSession())
}

func (c *engineClient) SetUploadAuth(ctx context.Context, owner string, auth *api.UploadAuth) error {
	req := &pb.EngineSetUploadAuthRequest{Owner: owner, Clear: auth == nil}
	if auth != nil {
		req.Username, req.Password = auth.Credentials.Username, auth.Credentials.Password
		req.Server, req.PeerServer = auth.Server, auth.PeerServer
	}
	if _, err := c.client.SetUploadAuth(ctx, req); err != nil {
		return engineErr(ctx, err)
	}
	return nil
}

func (c *engineClient) List(ctx context.Context, f api.ListFilter) ([]api.Session, error) {
	resp, err := c.client.List(ctx, listFilterToProto(f))
	if err != nil {
		return nil, engineErr(ctx, err)
	}
	return sessionsFromProto(resp.GetSessions())
}

// Events returns once the host has subscribed (events it publishes from then on are
// delivered), or with the host's error if it refused. The channel delivers events in order and
// is closed when ctx ends, the host's engine closes its subscription, or the connection is
// gone. Events this side cannot decode (a kind or state name from a newer host) are logged
// and skipped.
func (c *engineClient) Events(ctx context.Context) (<-chan api.Event, error) {
	streamCtx, cancel := context.WithCancel(ctx)
	stream, err := c.client.Events(streamCtx, &pb.EngineEventsRequest{})
	if err != nil {
		cancel()
		return nil, engineErr(ctx, err)
	}
	// Header blocks until the host subscribed or the stream ended; it reports no error
	// itself: a stream that ended without headers has its status in Recv.
	md, _ := stream.Header()
	if len(md.Get(eventsSubscribedHeader)) == 0 {
		_, err := stream.Recv()
		cancel()
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("sdk: the host ended the events stream before subscribing")
			return nil, err
		}
		return nil, engineErr(ctx, err)
	}
	out := make(chan api.Event)
	go func() {
		defer cancel()
		defer close(out)
		for {
			p, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					slog.Debug("sdk: engine events stream ended", "error", engineErr(ctx, err))
				}
				return
			}
			ev, err := eventFromProto(p)
			if err != nil {
				slog.Warn("sdk: skipping an engine event it cannot decode", "error", err)
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
