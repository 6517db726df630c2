package sdk

import (
	"context"

	"github.com/screenrec/recorder/engine/api"
)

// Function-field mocks of the contract's interfaces, for tests on either side of it. A nil
// field makes its method return zero values and a nil error (MockEngine.Events: a channel
// closed when ctx ends). Mocks are safe for concurrent use as long as their functions are.

var (
	_ Frontend = (*MockFrontend)(nil)
	_ Uploader = (*MockUploader)(nil)
	_ Engine   = (*MockEngine)(nil)
)

// MockFrontend is a Frontend whose methods call its fields.
type MockFrontend struct {
	InfoFn         func(ctx context.Context) (Info, error)
	ConfigSchemaFn func(ctx context.Context) (Schema, error)
	ConfigureFn    func(ctx context.Context, config []byte) ([]Diagnostic, error)
	ServeFn        func(ctx context.Context, eng Engine) ([]Endpoint, error)
	StopFn         func(ctx context.Context) error
}

// Info calls InfoFn.
func (m *MockFrontend) Info(ctx context.Context) (Info, error) {
	if m.InfoFn == nil {
		return Info{}, nil
	}
	return m.InfoFn(ctx)
}

// ConfigSchema calls ConfigSchemaFn.
func (m *MockFrontend) ConfigSchema(ctx context.Context) (Schema, error) {
	if m.ConfigSchemaFn == nil {
		return Schema{}, nil
	}
	return m.ConfigSchemaFn(ctx)
}

// Configure calls ConfigureFn.
func (m *MockFrontend) Configure(ctx context.Context, config []byte) ([]Diagnostic, error) {
	if m.ConfigureFn == nil {
		return nil, nil
	}
	return m.ConfigureFn(ctx, config)
}

// Serve calls ServeFn.
func (m *MockFrontend) Serve(ctx context.Context, eng Engine) ([]Endpoint, error) {
	if m.ServeFn == nil {
		return nil, nil
	}
	return m.ServeFn(ctx, eng)
}

// Stop calls StopFn.
func (m *MockFrontend) Stop(ctx context.Context) error {
	if m.StopFn == nil {
		return nil
	}
	return m.StopFn(ctx)
}

// MockUploader is an Uploader whose methods call its fields.
type MockUploader struct {
	InfoFn         func(ctx context.Context) (Info, error)
	ConfigSchemaFn func(ctx context.Context) (Schema, error)
	ConfigureFn    func(ctx context.Context, config []byte) ([]Diagnostic, error)
	UploadFn       func(ctx context.Context, req UploadRequest, progress func(Progress)) (UploadResult, error)
}

// Info calls InfoFn.
func (m *MockUploader) Info(ctx context.Context) (Info, error) {
	if m.InfoFn == nil {
		return Info{}, nil
	}
	return m.InfoFn(ctx)
}

// ConfigSchema calls ConfigSchemaFn.
func (m *MockUploader) ConfigSchema(ctx context.Context) (Schema, error) {
	if m.ConfigSchemaFn == nil {
		return Schema{}, nil
	}
	return m.ConfigSchemaFn(ctx)
}

// Configure calls ConfigureFn.
func (m *MockUploader) Configure(ctx context.Context, config []byte) ([]Diagnostic, error) {
	if m.ConfigureFn == nil {
		return nil, nil
	}
	return m.ConfigureFn(ctx, config)
}

// Upload calls UploadFn.
func (m *MockUploader) Upload(ctx context.Context, req UploadRequest, progress func(Progress)) (UploadResult, error) {
	if m.UploadFn == nil {
		return UploadResult{}, nil
	}
	return m.UploadFn(ctx, req, progress)
}

// MockEngine is an Engine whose methods call its fields.
type MockEngine struct {
	StartFn  func(ctx context.Context, req api.StartRequest) (api.Session, error)
	StopFn   func(ctx context.Context, id string) (api.Session, error)
	MaskFn   func(ctx context.Context, target api.MaskTarget, on bool) ([]api.Session, error)
	GetFn    func(ctx context.Context, id string) (api.Session, error)
	ListFn   func(ctx context.Context, f api.ListFilter) ([]api.Session, error)
	EventsFn func(ctx context.Context) (<-chan api.Event, error)
	// SetUploadAuthFn answers SetUploadAuth; nil returns nil.
	SetUploadAuthFn func(ctx context.Context, owner string, auth *api.UploadAuth) error
}

// Start calls StartFn.
func (m *MockEngine) Start(ctx context.Context, req api.StartRequest) (api.Session, error) {
	if m.StartFn == nil {
		return api.Session{}, nil
	}
	return m.StartFn(ctx, req)
}

// Stop calls StopFn.
func (m *MockEngine) Stop(ctx context.Context, id string) (api.Session, error) {
	if m.StopFn == nil {
		return api.Session{}, nil
	}
	return m.StopFn(ctx, id)
}

// Mask calls MaskFn.
func (m *MockEngine) Mask(ctx context.Context, target api.MaskTarget, on bool) ([]api.Session, error) {
	if m.MaskFn == nil {
		return nil, nil
	}
	return m.MaskFn(ctx, target, on)
}

// Get calls GetFn.
func (m *MockEngine) Get(ctx context.Context, id string) (api.Session, error) {
	if m.GetFn == nil {
		return api.Session{}, nil
	}
	return m.GetFn(ctx, id)
}

// List calls ListFn.
func (m *MockEngine) List(ctx context.Context, f api.ListFilter) ([]api.Session, error) {
	if m.ListFn == nil {
		return nil, nil
	}
	return m.ListFn(ctx, f)
}

// Events calls EventsFn; with none, it returns a channel that delivers nothing and is closed
// when ctx ends.
func (m *MockEngine) Events(ctx context.Context) (<-chan api.Event, error) {
	if m.EventsFn == nil {
		ch := make(chan api.Event)
		go func() {
			<-ctx.Done()
			close(ch)
		}()
		return ch, nil
	}
	return m.EventsFn(ctx)
}

// SetUploadAuth calls SetUploadAuthFn; with none, it returns nil.
func (m *MockEngine) SetUploadAuth(ctx context.Context, owner string, auth *api.UploadAuth) error {
	if m.SetUploadAuthFn == nil {
		return nil
	}
	return m.SetUploadAuthFn(ctx, owner, auth)
}
