// Package sdktest holds the conformance suites every plugin implementation must pass, built-in
// or external. Each suite runs its checks twice: on the implementation directly (as the host
// runs a built-in) and through the real gRPC shims of sdk.TestFrontend / sdk.TestUploader (as
// the host runs a plugin binary), so an implementation behaves the same either way.
//
// Call a suite from the implementation's own tests:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Uploader(t, func() sdk.Uploader { return New() }, good, bad, req,
//			sdktest.SlowUpload(slowReq))
//	}
package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
)

// Timeouts of the suites; variables so the suites' own tests can shorten them.
var (
	// cancelAfter is how long a call runs before the suite cancels it.
	cancelAfter = 50 * time.Millisecond
	// returnWithin bounds how long a cancelled call may take to return.
	returnWithin = 2 * time.Second
	// callTimeout bounds every other call, so a hung implementation fails instead of hanging.
	callTimeout = 10 * time.Second
)

// Option tunes a suite.
type Option func(*options)

type options struct {
	slowUpload *sdk.UploadRequest
}

// SlowUpload gives the Uploader suite a request that keeps the implementation busy for well
// over 50 ms (against a server that stalls, say), for the check that cancelling an upload in
// flight makes it return promptly with a context error. Without it the suite uses its plain
// request, and skips that check if the upload finishes before it is cancelled.
func SlowUpload(req sdk.UploadRequest) Option {
	return func(o *options) { o.slowUpload = &req }
}

// mode is one way of running an implementation: directly or through the gRPC shims.
type mode[T any] struct {
	name string
	wrap func(testing.TB, T) T
}

// Frontend runs the conformance suite for front ends. newImpl returns a fresh, unconfigured
// implementation (it is called once per check); good is a config it accepts, bad one it must
// refuse with diagnostics (nil skips that check). The implementation is served with an
// sdk.MockEngine, so it must not need the engine to start.
//
// Checks: Info (kind, name, version); ConfigSchema (valid, and covering good's keys and
// required fields); Configure(bad) (error diagnostics naming a field, plugin still usable);
// Configure(good) (no error diagnostics); Serve before Configure (sdk.ErrNotConfigured);
// Serve then Stop twice (both nil); Serve after Stop (sdk.ErrStopped); Serve with a cancelled
// ctx (a context error, promptly).
func Frontend(t *testing.T, newImpl func() sdk.Frontend, good, bad []byte) {
	t.Helper()
	modes := []mode[sdk.Frontend]{
		{"Direct", func(_ testing.TB, f sdk.Frontend) sdk.Frontend { return f }},
		{"GRPC", sdk.TestFrontend},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			newF := func(t *testing.T) sdk.Frontend { return m.wrap(t, newImpl()) }
			t.Run("Info", func(t *testing.T) { checkInfo(t, newF(t), sdk.KindFrontend) })
			t.Run("ConfigSchema", func(t *testing.T) { checkSchema(t, newF(t), good) })
			t.Run("ConfigureGood", func(t *testing.T) { configure(t, newF(t), good) })
			t.Run("ConfigureBad", func(t *testing.T) {
				if bad == nil {
					t.Skip("no bad config given")
				}
				f := newF(t)
				checkConfigureBad(t, f, bad, good)
				ctx := callCtx(t)
				if _, err := f.Serve(ctx, &sdk.MockEngine{}); err != nil {
					t.Fatalf("Serve after Configure(bad) then Configure(good) = %v, want nil", err)
				}
				if err := f.Stop(ctx); err != nil {
					t.Errorf("Stop = %v, want nil", err)
				}
			})
			t.Run("ServeBeforeConfigure", func(t *testing.T) {
				f := newF(t)
				ctx := callCtx(t)
				_, err := f.Serve(ctx, &sdk.MockEngine{})
				if err == nil {
					_ = f.Stop(ctx)
				}
				if !errors.Is(err, sdk.ErrNotConfigured) {
					t.Errorf("Serve before Configure = %v, want an error wrapping sdk.ErrNotConfigured", err)
				}
			})
			t.Run("ServeStop", func(t *testing.T) {
				f := newF(t)
				configure(t, f, good)
				ctx := callCtx(t)
				eps, err := f.Serve(ctx, &sdk.MockEngine{})
				if err != nil {
					t.Fatalf("Serve = %v, want nil", err)
				}
				for i, ep := range eps {
					if ep.Name == "" || ep.URL == "" {
						t.Errorf("endpoint %d = %+v, want a name and a URL", i, ep)
					}
				}
				if err := f.Stop(ctx); err != nil {
					t.Errorf("Stop = %v, want nil", err)
				}
				if err := f.Stop(ctx); err != nil {
					t.Errorf("second Stop = %v, want nil (Stop is idempotent)", err)
				}
			})
			t.Run("ServeAfterStop", func(t *testing.T) {
				f := newF(t)
				configure(t, f, good)
				ctx := callCtx(t)
				if _, err := f.Serve(ctx, &sdk.MockEngine{}); err != nil {
					t.Fatalf("Serve = %v, want nil", err)
				}
				if err := f.Stop(ctx); err != nil {
					t.Fatalf("Stop = %v, want nil", err)
				}
				_, err := f.Serve(ctx, &sdk.MockEngine{})
				if err == nil {
					_ = f.Stop(ctx)
				}
				if !errors.Is(err, sdk.ErrStopped) {
					t.Errorf("Serve after Stop = %v, want an error wrapping sdk.ErrStopped", err)
				}
			})
			t.Run("ServeCancelledContext", func(t *testing.T) {
				f := newF(t)
				configure(t, f, good)
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				err := promptly(t, "Serve with a cancelled ctx", func() error {
					_, err := f.Serve(ctx, &sdk.MockEngine{})
					if err == nil {
						_ = f.Stop(callCtx(t))
					}
					return err
				})
				if !isCtxErr(err) {
					t.Errorf("Serve with a cancelled ctx = %v, want a context error", err)
				}
			})
		})
	}
}

// Uploader runs the conformance suite for uploaders. newImpl returns a fresh, unconfigured
// implementation (called once per check); good is a config it accepts, bad one it must refuse
// with diagnostics (nil skips that check); req is an upload against something real (a temp
// file to a test server, say) that good's config can reach.
//
// Checks: Info, ConfigSchema, Configure(bad), Configure(good) as for front ends; Upload before
// Configure (sdk.ErrNotConfigured); Upload(req) (succeeds, with progress in order and none
// after the return, or fails with a clear error); Upload with a cancelled ctx (a context error,
// promptly); an Upload cancelled after 50 ms returns within 2 s with a context error (see
// SlowUpload).
func Uploader(t *testing.T, newImpl func() sdk.Uploader, good, bad []byte, req sdk.UploadRequest, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	modes := []mode[sdk.Uploader]{
		{"Direct", func(_ testing.TB, u sdk.Uploader) sdk.Uploader { return u }},
		{"GRPC", sdk.TestUploader},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			newU := func(t *testing.T) sdk.Uploader { return m.wrap(t, newImpl()) }
			t.Run("Info", func(t *testing.T) { checkInfo(t, newU(t), sdk.KindUploader) })
			t.Run("ConfigSchema", func(t *testing.T) { checkSchema(t, newU(t), good) })
			t.Run("ConfigureGood", func(t *testing.T) { configure(t, newU(t), good) })
			t.Run("ConfigureBad", func(t *testing.T) {
				if bad == nil {
					t.Skip("no bad config given")
				}
				u := newU(t)
				checkConfigureBad(t, u, bad, good)
				if _, err := u.Upload(callCtx(t), req, nil); errors.Is(err, sdk.ErrNotConfigured) {
					t.Errorf("Upload after Configure(bad) then Configure(good) = %v, want it configured", err)
				}
			})
			t.Run("UploadBeforeConfigure", func(t *testing.T) {
				u := newU(t)
				if _, err := u.Upload(callCtx(t), req, nil); !errors.Is(err, sdk.ErrNotConfigured) {
					t.Errorf("Upload before Configure = %v, want an error wrapping sdk.ErrNotConfigured", err)
				}
			})
			t.Run("Upload", func(t *testing.T) {
				u := newU(t)
				configure(t, u, good)
				rec := &progressRecorder{}
				res, err := u.Upload(callCtx(t), req, rec.record)
				rec.returned()
				if err != nil {
					if errors.Is(err, sdk.ErrNotConfigured) || err.Error() == "" {
						t.Fatalf("Upload = %v, want success or a clear error", err)
					}
					t.Logf("Upload failed (allowed, if the error is clear): %v", err)
				} else if res.Bytes < 0 {
					t.Errorf("Upload result %+v has negative Bytes", res)
				}
				time.Sleep(cancelAfter) // let late progress calls show up
				rec.check(t, req.Size)
			})
			t.Run("UploadCancelledContext", func(t *testing.T) {
				u := newU(t)
				configure(t, u, good)
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				err := promptly(t, "Upload with a cancelled ctx", func() error {
					_, err := u.Upload(ctx, req, nil)
					return err
				})
				if !isCtxErr(err) {
					t.Errorf("Upload with a cancelled ctx = %v, want a context error", err)
				}
			})
			t.Run("UploadCancelMidCall", func(t *testing.T) {
				u := newU(t)
				configure(t, u, good)
				r := req
				if o.slowUpload != nil {
					r = *o.slowUpload
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				timer := time.AfterFunc(cancelAfter, cancel)
				err := promptly(t, "Upload cancelled mid-call", func() error {
					_, err := u.Upload(ctx, r, nil)
					return err
				})
				cancelledFirst := !timer.Stop()
				if err == nil {
					if o.slowUpload == nil {
						t.Skip("the upload finished before it was cancelled; pass sdktest.SlowUpload to check cancellation")
					}
					if !cancelledFirst {
						t.Fatalf("the SlowUpload request finished within %v; it must take longer", cancelAfter)
					}
				}
				if !isCtxErr(err) {
					t.Errorf("Upload cancelled mid-call = %v, want a context error", err)
				}
			})
		})
	}
}

// callCtx returns a context that bounds one check's calls.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// promptly runs call and fails the test if it does not return within returnWithin.
func promptly(t *testing.T, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(returnWithin + cancelAfter):
		t.Fatalf("%s did not return within %v", what, time.Since(start).Round(time.Millisecond))
		return nil
	}
}

func checkInfo(t *testing.T, p sdk.Plugin, kind sdk.Kind) {
	t.Helper()
	info, err := p.Info(callCtx(t))
	if err != nil {
		t.Fatalf("Info = %v", err)
	}
	if info.Kind != kind {
		t.Errorf("Info().Kind = %q, want %q", info.Kind, kind)
	}
	if info.Name == "" || info.Version == "" {
		t.Errorf("Info() = %+v, want a name and a version", info)
	}
}

func checkSchema(t *testing.T, p sdk.Plugin, good []byte) {
	t.Helper()
	schema, err := p.ConfigSchema(callCtx(t))
	if err != nil {
		t.Fatalf("ConfigSchema = %v", err)
	}
	names := map[string]sdk.Field{}
	for i, f := range schema.Fields {
		if f.Name == "" {
			t.Errorf("field %d has no name", i)
		}
		if _, dup := names[f.Name]; dup {
			t.Errorf("field %q appears twice", f.Name)
		}
		if !slices.Contains(sdk.FieldTypes, f.Type) {
			t.Errorf("field %q has type %q, want one of %s", f.Name, f.Type, strings.Join(sdk.FieldTypes, ", "))
		}
		names[f.Name] = f
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(good, &keys) != nil {
		return // not an object: nothing more to compare
	}
	for k := range keys {
		if _, ok := names[k]; !ok {
			t.Errorf("the good config sets %q, which the schema does not describe", k)
		}
	}
	for name, f := range names {
		if _, ok := keys[name]; f.Required && !ok {
			t.Errorf("field %q is required but the good config does not set it", name)
		}
	}
}

// configure applies good and fails the test if it is refused.
func configure(t *testing.T, p sdk.Plugin, good []byte) {
	t.Helper()
	diags, err := p.Configure(callCtx(t), good)
	if err != nil {
		t.Fatalf("Configure(good) = %v, %v; want no error", diags, err)
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			t.Fatalf("Configure(good) refused it: %+v", diags)
		}
		if d.Summary == "" {
			t.Errorf("diagnostic %+v has no summary", d)
		}
	}
}

// checkConfigureBad checks that bad is refused with error diagnostics naming a field, then
// that good is still accepted.
func checkConfigureBad(t *testing.T, p sdk.Plugin, bad, good []byte) {
	t.Helper()
	diags, err := p.Configure(callCtx(t), bad)
	if err != nil && !errors.Is(err, sdk.ErrBadConfig) {
		t.Fatalf("Configure(bad) error = %v; bad config is reported as diagnostics", err)
	}
	refused := false
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			refused = true
			if d.Field == "" || d.Summary == "" {
				t.Errorf("Configure(bad) diagnostic %+v, want a field and a summary", d)
			}
		}
	}
	if !refused {
		t.Fatalf("Configure(bad) = %+v, want at least one error diagnostic", diags)
	}
	configure(t, p, good)
}

// progressRecorder records progress calls and flags those made after Upload returned.
type progressRecorder struct {
	mu    sync.Mutex
	calls []sdk.Progress
	done  bool
	late  int
}

func (r *progressRecorder) record(p sdk.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		r.late++
		return
	}
	r.calls = append(r.calls, p)
}

func (r *progressRecorder) returned() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

// check wants offsets that never go back and stay within size (when size is known), and no
// call after Upload returned.
func (r *progressRecorder) check(t *testing.T, size int64) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.late > 0 {
		t.Errorf("progress was called %d times after Upload returned", r.late)
	}
	for i, p := range r.calls {
		if i > 0 && p.Offset < r.calls[i-1].Offset {
			t.Errorf("progress went back: %+v after %+v", p, r.calls[i-1])
		}
		if p.Offset < 0 || (size > 0 && p.Offset > size) {
			t.Errorf("progress %+v is outside 0..%d", p, size)
		}
	}
}
