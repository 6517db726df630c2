package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/screenrec/recorder/engine/api"
)

// Tests of the host → plugin direction: Base, Frontend and Uploader through the harness.

func TestBase_RoundTrip(t *testing.T) {
	t.Parallel()
	info := Info{Name: "srs", Kind: KindFrontend, Version: "1.2.3"}
	schema := Schema{Fields: []Field{
		{Name: "listen", Type: "string", Description: "address", Required: true, Default: "127.0.0.1:18080"},
		{Name: "token", Type: "string", Secret: true},
		{Name: "timeout", Type: "duration"},
	}}
	diags := []Diagnostic{
		{Severity: SeverityError, Field: "origins[2]", Summary: "not a URL", Detail: "missing scheme"},
		{Severity: SeverityWarning, Summary: "deprecated section"},
	}
	var gotConfig []byte
	f := TestFrontend(t, &MockFrontend{
		InfoFn:         func(context.Context) (Info, error) { return info, nil },
		ConfigSchemaFn: func(context.Context) (Schema, error) { return schema, nil },
		ConfigureFn: func(_ context.Context, config []byte) ([]Diagnostic, error) {
			gotConfig = config
			return diags, nil
		},
	})
	ctx := testCtx(t)
	if got, err := f.Info(ctx); err != nil || got != info {
		t.Errorf("Info = %+v, %v; want %+v", got, err, info)
	}
	if got, err := f.ConfigSchema(ctx); err != nil || !reflect.DeepEqual(got, schema) {
		t.Errorf("ConfigSchema = %+v, %v; want %+v", got, err, schema)
	}
	config := []byte(`{"listen":"x"}`)
	got, err := f.Configure(ctx, config)
	if err != nil || !reflect.DeepEqual(got, diags) {
		t.Errorf("Configure = %+v, %v; want %+v", got, err, diags)
	}
	if string(gotConfig) != string(config) {
		t.Errorf("plugin got config %q, want %q", gotConfig, config)
	}
}

// Diagnostics returned together with an error still reach the host.
func TestBase_ConfigureErrorKeepsDiagnostics(t *testing.T) {
	t.Parallel()
	diags := []Diagnostic{{Severity: SeverityError, Field: "listen", Summary: "taken"}}
	u := TestUploader(t, &MockUploader{ConfigureFn: func(context.Context, []byte) ([]Diagnostic, error) {
		return diags, fmt.Errorf("refused: %w", ErrBadConfig)
	}})
	got, err := u.Configure(testCtx(t), []byte(`{}`))
	if !errors.Is(err, ErrBadConfig) || err.Error() != "refused: bad plugin config" {
		t.Errorf("Configure error = %v, want the plugin's, wrapping ErrBadConfig", err)
	}
	if !reflect.DeepEqual(got, diags) {
		t.Errorf("Configure diagnostics = %+v, want %+v", got, diags)
	}
}

// sdkSentinels are the sdk's sentinel errors.
var sdkSentinels = []error{ErrPermanent, ErrNotConfigured, ErrStopped, ErrPluginExited, ErrBadConfig}

func TestPlugin_Errors(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var next error
	u := TestUploader(t, &MockUploader{
		UploadFn: func(context.Context, UploadRequest, func(Progress)) (UploadResult, error) {
			mu.Lock()
			defer mu.Unlock()
			return UploadResult{}, next
		},
	})
	ctx := testCtx(t)
	for _, sentinel := range append(append([]error{}, sdkSentinels...), engineSentinels...) {
		t.Run(sentinel.Error(), func(t *testing.T) {
			sent := fmt.Errorf("upload job 7: 401 Unauthorized: %w", sentinel)
			mu.Lock()
			next = sent
			mu.Unlock()
			_, err := u.Upload(ctx, UploadRequest{JobID: 7}, nil)
			if !errors.Is(err, sentinel) || err.Error() != sent.Error() {
				t.Errorf("Upload error = %q (wraps %v: %v), want %q", err, sentinel, errors.Is(err, sentinel), sent)
			}
		})
	}
	t.Run("Several", func(t *testing.T) {
		sent := fmt.Errorf("%w: %w", ErrPermanent, api.ErrInvalidRequest)
		mu.Lock()
		next = sent
		mu.Unlock()
		_, err := u.Upload(ctx, UploadRequest{}, nil)
		if !errors.Is(err, ErrPermanent) || !errors.Is(err, api.ErrInvalidRequest) || errors.Is(err, ErrStopped) {
			t.Errorf("Upload error %v lost or gained a sentinel", err)
		}
	})
}

// The status code of each sentinel, for gRPC-level tooling and non-Go peers.
func TestToStatus_Codes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want codes.Code
	}{
		{api.ErrNotFound, codes.NotFound},
		{api.ErrBusy, codes.Aborted},
		{&api.AlreadyRecordingError{}, codes.AlreadyExists},
		{api.ErrIllegalTransition, codes.FailedPrecondition},
		{api.ErrTerminal, codes.FailedPrecondition},
		{api.ErrTooManySessions, codes.ResourceExhausted},
		{api.ErrSpoolQuota, codes.ResourceExhausted},
		{api.ErrDiskFull, codes.ResourceExhausted},
		{api.ErrInvalidRequest, codes.InvalidArgument},
		{api.ErrClosed, codes.Unavailable},
		{ErrPermanent, codes.FailedPrecondition},
		{ErrNotConfigured, codes.FailedPrecondition},
		{ErrStopped, codes.FailedPrecondition},
		{ErrBadConfig, codes.InvalidArgument},
		{ErrPluginExited, codes.Unavailable},
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{errors.ErrUnsupported, codes.Unimplemented},
		{errors.New("other"), codes.Unknown},
	}
	for _, tc := range tests {
		err := toStatus(fmt.Errorf("wrapped: %w", tc.err))
		if got := status.Code(err); got != tc.want {
			t.Errorf("code of %v = %v, want %v", tc.err, got, tc.want)
		}
	}
	if toStatus(nil) != nil {
		t.Error("toStatus(nil) != nil")
	}
}

func TestUploader_RoundTripAndProgress(t *testing.T) {
	t.Parallel()
	req := UploadRequest{
		JobID: 9, RecordingID: "rec-1", SegmentIndex: 3, SegmentPath: "/spool/rec-1-3.mp4",
		Size: 300, SHA256: "beef", Metadata: map[string]string{"contact": "4711"}, Target: "rws",
		Credentials: &Credentials{Username: "agent", Password: "s3cret"},
		Resume:      Resume{Location: "https://rws/u/1", Offset: 100},
	}
	result := UploadResult{Location: "https://rws/u/1", Bytes: 300}
	var gotReq UploadRequest
	u := TestUploader(t, &MockUploader{
		UploadFn: func(_ context.Context, r UploadRequest, progress func(Progress)) (UploadResult, error) {
			gotReq = r
			for off := int64(100); off <= 300; off += 50 {
				progress(Progress{Location: r.Resume.Location, Offset: off, Size: r.Size})
			}
			return result, nil
		},
	})
	var seen []string
	res, err := u.Upload(testCtx(t), req, func(p Progress) {
		seen = append(seen, fmt.Sprintf("%s@%d/%d", p.Location, p.Offset, p.Size))
	})
	if err != nil || res != result {
		t.Fatalf("Upload = %+v, %v; want %+v", res, err, result)
	}
	if !reflect.DeepEqual(gotReq, req) {
		t.Errorf("plugin got request\n%#v\nwant\n%#v", gotReq, req)
	}
	want := []string{"https://rws/u/1@100/300", "https://rws/u/1@150/300", "https://rws/u/1@200/300", "https://rws/u/1@250/300", "https://rws/u/1@300/300"}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("progress = %v, want %v (all before the result)", seen, want)
	}

	// A request with nothing optional set arrives with nothing set.
	if _, err := u.Upload(testCtx(t), UploadRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotReq, UploadRequest{}) {
		t.Errorf("plugin got %#v for the zero request", gotReq)
	}
}

// blockingUploader returns an uploader whose Upload waits for its ctx to end and reports the ctx
// error it saw on observed.
func blockingUploader(observed chan<- error) *MockUploader {
	return &MockUploader{UploadFn: func(ctx context.Context, _ UploadRequest, _ func(Progress)) (UploadResult, error) {
		<-ctx.Done()
		observed <- ctx.Err()
		return UploadResult{}, ctx.Err()
	}}
}

func TestUploader_ContextCancel(t *testing.T) {
	t.Parallel()
	observed := make(chan error, 1)
	u := TestUploader(t, blockingUploader(observed))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := u.Upload(ctx, UploadRequest{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Upload error = %v, want context.Canceled", err)
	}
	select {
	case err := <-observed:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the plugin's ctx ended with %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the plugin's ctx was not cancelled")
	}
}

// The caller's deadline reaches the plugin as its ctx's deadline. (The plugin's ctx may end as
// Canceled rather than DeadlineExceeded: the caller's cancellation can arrive before the
// plugin's own timer fires.)
func TestUploader_Deadline(t *testing.T) {
	t.Parallel()
	deadlines := make(chan time.Time, 1)
	u := TestUploader(t, &MockUploader{UploadFn: func(ctx context.Context, _ UploadRequest, _ func(Progress)) (UploadResult, error) {
		d, _ := ctx.Deadline()
		deadlines <- d
		<-ctx.Done()
		return UploadResult{}, ctx.Err()
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	start := time.Now()
	if _, err := u.Upload(ctx, UploadRequest{}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Upload error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Upload returned after %v", d)
	}
	if got := <-deadlines; got.IsZero() || got.Sub(want).Abs() > 50*time.Millisecond {
		t.Errorf("the plugin's deadline = %v, want about %v", got, want)
	}
}

// Stopping the harness's server mid-call is what a plugin process dying looks like.
func TestPluginExited_MidCall(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	impl := &MockUploader{UploadFn: func(ctx context.Context, _ UploadRequest, _ func(Progress)) (UploadResult, error) {
		close(started)
		<-ctx.Done()
		return UploadResult{}, ctx.Err()
	}}
	p, server := testPlugin(t, KindUploader, &UploaderPlugin{Impl: impl})
	u := p.(Uploader)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-started
		server.Stop()
	}()
	_, err := u.Upload(testCtx(t), UploadRequest{}, nil)
	<-stopped // before the harness's cleanup stops the server again
	if !errors.Is(err, ErrPluginExited) {
		t.Errorf("Upload error = %v, want an error wrapping ErrPluginExited", err)
	}
	if _, err := u.Info(testCtx(t)); !errors.Is(err, ErrPluginExited) {
		t.Errorf("Info after the plugin died = %v, want an error wrapping ErrPluginExited", err)
	}
}

func TestFrontend_ServeRefusedStopsEngine(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var eng Engine
	f := TestFrontend(t, &MockFrontend{ServeFn: func(_ context.Context, e Engine) ([]Endpoint, error) {
		mu.Lock()
		eng = e
		mu.Unlock()
		return nil, fmt.Errorf("listen: %w", ErrNotConfigured)
	}})
	ctx := testCtx(t)
	if _, err := f.Serve(ctx, &MockEngine{}); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Serve = %v, want ErrNotConfigured", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, err := eng.Get(ctx, "x"); !errors.Is(err, api.ErrClosed) {
		t.Errorf("engine use after a refused Serve = %v, want api.ErrClosed", err)
	}
}

func TestPlugin_UnsupportedKind(t *testing.T) {
	t.Parallel()
	// A frontend binary dispensed as an uploader: the Uploader service is not there.
	client, _ := pluginTestConn(t, string(KindFrontend), &FrontendPlugin{Impl: &MockFrontend{}})
	client.Plugins = PluginSet()
	p, err := Dispense(client, KindUploader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.(Uploader).Upload(testCtx(t), UploadRequest{}, nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Upload on a front end = %v, want errors.ErrUnsupported", err)
	}
	if _, err := Dispense(client, "nope"); err == nil {
		t.Error("Dispense of an unknown kind succeeded")
	}
}
