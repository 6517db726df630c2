package s3

import (
	"context"
	"sync"

	"github.com/screenrec/recorder/pkg/fleet/fleetconn"
	"github.com/screenrec/recorder/pkg/fleet/fleetsign"
	"github.com/screenrec/recorder/pkg/s3upload"
)

// fleetSigner is the fleet signer (pkg/fleet/fleetsign) connected on first use, so that
// checking a config opens no connection.
type fleetSigner struct {
	cfg fleetconn.Config

	mu     sync.Mutex
	s      *fleetsign.Signer
	closed bool
}

var (
	_ s3upload.Signer    = (*fleetSigner)(nil)
	_ s3upload.Confirmer = (*fleetSigner)(nil)
)

func (f *fleetSigner) get() (*fleetsign.Signer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errClosed
	}
	if f.s == nil {
		s, err := fleetsign.Connect(f.cfg)
		if err != nil {
			return nil, err
		}
		f.s = s
	}
	return f.s, nil
}

func (f *fleetSigner) Sign(ctx context.Context, op s3upload.Operation) (s3upload.SignedRequest, error) {
	s, err := f.get()
	if err != nil {
		return s3upload.SignedRequest{}, err
	}
	return s.Sign(ctx, op)
}

func (f *fleetSigner) Confirm(ctx context.Context, key string) (string, error) {
	s, err := f.get()
	if err != nil {
		return "", err
	}
	return s.Confirm(ctx, key)
}

func (f *fleetSigner) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.s != nil {
		f.s.Close()
	}
}
