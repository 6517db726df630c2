package host

import (
	"context"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/plugins/sdk"
)

// EngineAPI adapts an engine to the API front ends drive.
func EngineAPI(e *engine.Engine) sdk.Engine { return engineAPI{e} }

type engineAPI struct{ *engine.Engine }

func (a engineAPI) Events(ctx context.Context) (<-chan engine.Event, error) {
	return a.Engine.Events(ctx), nil
}

func (a engineAPI) SetUploadAuth(_ context.Context, owner string, auth *engine.UploadAuth) error {
	a.Engine.SetUploadAuth(owner, auth)
	return nil
}
