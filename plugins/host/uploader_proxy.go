package host

import (
	"context"
	"fmt"

	"github.com/screenrec/recorder/plugins/sdk"
)

// uploaderOf calls whichever implementation currently runs an uploader instance.
type uploaderOf struct{ in *instance }

func (u uploaderOf) impl() (sdk.Uploader, error) {
	up, ok := u.in.current().(sdk.Uploader)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPlugin, u.in.desc)
	}
	return up, nil
}

func (u uploaderOf) Info(ctx context.Context) (sdk.Info, error) {
	up, err := u.impl()
	if err != nil {
		return sdk.Info{}, err
	}
	return up.Info(ctx)
}

func (u uploaderOf) ConfigSchema(ctx context.Context) (sdk.Schema, error) {
	up, err := u.impl()
	if err != nil {
		return sdk.Schema{}, err
	}
	return up.ConfigSchema(ctx)
}

func (u uploaderOf) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	up, err := u.impl()
	if err != nil {
		return nil, err
	}
	return up.Configure(ctx, raw)
}

func (u uploaderOf) Upload(ctx context.Context, req sdk.UploadRequest, progress func(sdk.Progress)) (sdk.UploadResult, error) {
	up, err := u.impl()
	if err != nil {
		return sdk.UploadResult{}, err
	}
	return up.Upload(ctx, req, progress)
}
