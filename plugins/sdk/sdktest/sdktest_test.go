package sdktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

// decodeConfig decodes an object config strictly into the given keys' targets, returning an
// error diagnostic per unknown key, badly typed value or missing required key.
func decodeConfig(config []byte, fields map[string]any, required ...string) []sdk.Diagnostic {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(config, &raw); err != nil {
		return []sdk.Diagnostic{{Severity: sdk.SeverityError, Summary: "config is not a JSON object", Detail: err.Error()}}
	}
	var diags []sdk.Diagnostic
	for k, v := range raw {
		target, ok := fields[k]
		if !ok {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityError, Field: k, Summary: "unknown key"})
			continue
		}
		if err := json.Unmarshal(v, target); err != nil {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityError, Field: k, Summary: "wrong type", Detail: err.Error()})
		}
	}
	for _, k := range required {
		if _, ok := raw[k]; !ok {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityError, Field: k, Summary: "required"})
		}
	}
	return diags
}

// testFrontend is a trivial front end: it serves nothing and records its calls.
type testFrontend struct {
	mu                           sync.Mutex
	listen                       string
	configured, serving, stopped bool
	calls                        []string
}

func (f *testFrontend) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

func (f *testFrontend) Info(context.Context) (sdk.Info, error) {
	f.record("Info")
	return sdk.Info{Name: "test", Kind: sdk.KindFrontend, Version: "0.0.1"}, nil
}

func (f *testFrontend) ConfigSchema(context.Context) (sdk.Schema, error) {
	f.record("ConfigSchema")
	return sdk.Schema{Fields: []sdk.Field{{Name: "listen", Type: "string", Required: true, Description: "where to listen"}}}, nil
}

func (f *testFrontend) Configure(_ context.Context, config []byte) ([]sdk.Diagnostic, error) {
	f.record("Configure")
	var listen string
	if diags := decodeConfig(config, map[string]any{"listen": &listen}, "listen"); len(diags) > 0 {
		return diags, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listen, f.configured = listen, true
	return nil, nil
}

func (f *testFrontend) Serve(ctx context.Context, _ sdk.Engine) ([]sdk.Endpoint, error) {
	f.record("Serve")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.stopped:
		return nil, sdk.ErrStopped
	case !f.configured:
		return nil, sdk.ErrNotConfigured
	}
	f.serving = true
	return []sdk.Endpoint{{Name: "api", URL: "http://" + f.listen}}, nil
}

func (f *testFrontend) Stop(context.Context) error {
	f.record("Stop")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serving, f.stopped = false, true
	return nil
}

// brokenStopFrontend's Stop is not idempotent.
type brokenStopFrontend struct{ testFrontend }

func (f *brokenStopFrontend) Stop(ctx context.Context) error {
	f.mu.Lock()
	stopped := f.stopped
	f.mu.Unlock()
	if stopped {
		return fmt.Errorf("already stopped: %w", sdk.ErrStopped)
	}
	return f.testFrontend.Stop(ctx)
}

// testUploader copies the segment into a directory, reporting progress per chunk. Metadata
// "chunk_delay" (a duration) slows it down, for the cancellation check.
type testUploader struct {
	mu    sync.Mutex
	dir   string
	chunk int
	// unconfiguredDir, when set, is where it uploads before Configure: a broken uploader.
	unconfiguredDir string
}

func (u *testUploader) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "copy", Kind: sdk.KindUploader, Version: "0.0.1"}, nil
}

func (u *testUploader) ConfigSchema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{Fields: []sdk.Field{
		{Name: "dir", Type: "string", Required: true, Description: "where copies go"},
		{Name: "chunk", Type: "int", Default: "4096", Description: "bytes per progress report"},
	}}, nil
}

func (u *testUploader) Configure(_ context.Context, config []byte) ([]sdk.Diagnostic, error) {
	dir, chunk := "", 4096
	if diags := decodeConfig(config, map[string]any{"dir": &dir, "chunk": &chunk}, "dir"); len(diags) > 0 {
		return diags, nil
	}
	if chunk <= 0 {
		return []sdk.Diagnostic{{Severity: sdk.SeverityError, Field: "chunk", Summary: "must be positive"}}, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.dir, u.chunk = dir, chunk
	return nil, nil
}

func (u *testUploader) Upload(ctx context.Context, req sdk.UploadRequest, progress func(sdk.Progress)) (sdk.UploadResult, error) {
	if err := ctx.Err(); err != nil {
		return sdk.UploadResult{}, err
	}
	u.mu.Lock()
	dir, chunk := u.dir, u.chunk
	u.mu.Unlock()
	if dir == "" {
		if u.unconfiguredDir == "" {
			return sdk.UploadResult{}, sdk.ErrNotConfigured
		}
		dir, chunk = u.unconfiguredDir, 4096
	}
	var delay time.Duration
	if d, ok := req.Metadata["chunk_delay"]; ok {
		var err error
		if delay, err = time.ParseDuration(d); err != nil {
			return sdk.UploadResult{}, fmt.Errorf("chunk_delay: %w", err)
		}
	}
	src, err := os.Open(req.SegmentPath)
	if err != nil {
		return sdk.UploadResult{}, fmt.Errorf("%w: %w", sdk.ErrPermanent, err)
	}
	defer src.Close()
	dstPath := filepath.Join(dir, fmt.Sprintf("%s-%d%s", req.RecordingID, req.SegmentIndex, filepath.Ext(req.SegmentPath)))
	dst, err := os.Create(dstPath)
	if err != nil {
		return sdk.UploadResult{}, err
	}
	defer dst.Close()
	var n int64
	for {
		w, err := io.CopyN(dst, src, int64(chunk))
		n += w
		if w > 0 && progress != nil {
			progress(sdk.Progress{Location: dstPath, Offset: n, Size: req.Size})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return sdk.UploadResult{}, err
		}
		select {
		case <-ctx.Done():
			return sdk.UploadResult{}, ctx.Err()
		case <-time.After(delay):
		}
	}
	if err := dst.Close(); err != nil {
		return sdk.UploadResult{}, err
	}
	return sdk.UploadResult{Location: "file://" + dstPath, Bytes: n}, nil
}

func TestFrontendSuite(t *testing.T) {
	var made []*testFrontend
	var mu sync.Mutex
	sdktest.Frontend(t, func() sdk.Frontend {
		f := &testFrontend{}
		mu.Lock()
		made = append(made, f)
		mu.Unlock()
		return f
	}, []byte(`{"listen":"127.0.0.1:18080"}`), []byte(`{"listen":5,"extra":true}`))

	// The suite really drove the implementations, in both modes.
	counts := map[string]int{}
	for _, f := range made {
		for _, c := range f.calls {
			counts[c]++
		}
	}
	for _, c := range []string{"Info", "ConfigSchema", "Configure", "Serve", "Stop"} {
		if counts[c] < 2 {
			t.Errorf("%s was called %d times, want it in both modes", c, counts[c])
		}
	}
}

// uploaderFixture returns the suite's arguments for a testUploader: good and bad configs, a
// request for a 100 kB temp file, and a slow variant of it.
func uploaderFixture(t *testing.T) (good, bad []byte, req, slow sdk.UploadRequest, data []byte) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "segment.mp4")
	data = bytes.Repeat([]byte("0123456789"), 10_000)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	good, _ = json.Marshal(map[string]any{"dir": t.TempDir(), "chunk": 16384})
	bad = []byte(`{"chunk":-1}`)
	req = sdk.UploadRequest{JobID: 1, RecordingID: "rec", SegmentPath: src, Size: int64(len(data)), Target: "test"}
	slow = req
	slow.RecordingID = "slow"
	slow.Metadata = map[string]string{"chunk_delay": "100ms"}
	return good, bad, req, slow, data
}

func TestUploaderSuite(t *testing.T) {
	good, bad, req, slow, data := uploaderFixture(t)
	sdktest.Uploader(t, func() sdk.Uploader { return &testUploader{} }, good, bad, req, sdktest.SlowUpload(slow))

	var cfg struct{ Dir string }
	_ = json.Unmarshal(good, &cfg)
	got, err := os.ReadFile(filepath.Join(cfg.Dir, "rec-0.mp4"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("the suite's upload did not copy the file: %d bytes, %v", len(got), err)
	}
}

// The suites must fail broken implementations. A failing suite fails its test, so each broken
// implementation runs in a child process (this test binary, one test selected) and the parent
// checks that the right checks failed.

const brokenEnv = "SDKTEST_RUN_BROKEN"

func TestBrokenFrontend(t *testing.T) {
	if os.Getenv(brokenEnv) != "frontend" {
		t.Skip("run by TestSuitesFailBrokenImplementations")
	}
	sdktest.Frontend(t, func() sdk.Frontend { return &brokenStopFrontend{} },
		[]byte(`{"listen":"127.0.0.1:18080"}`), []byte(`{"listen":5}`))
}

func TestBrokenUploader(t *testing.T) {
	if os.Getenv(brokenEnv) != "uploader" {
		t.Skip("run by TestSuitesFailBrokenImplementations")
	}
	good, bad, req, slow, _ := uploaderFixture(t)
	dir := t.TempDir()
	sdktest.Uploader(t, func() sdk.Uploader { return &testUploader{unconfiguredDir: dir} }, good, bad, req, sdktest.SlowUpload(slow))
}

func TestSuitesFailBrokenImplementations(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("child process")
	}
	tests := []struct {
		env, test  string
		wantFailed []string
		wantPassed []string
	}{
		{
			env: "frontend", test: "TestBrokenFrontend",
			wantFailed: []string{"TestBrokenFrontend/Direct/ServeStop", "TestBrokenFrontend/GRPC/ServeStop"},
			wantPassed: []string{"TestBrokenFrontend/Direct/Info", "TestBrokenFrontend/GRPC/ServeAfterStop"},
		},
		{
			env: "uploader", test: "TestBrokenUploader",
			wantFailed: []string{"TestBrokenUploader/Direct/UploadBeforeConfigure", "TestBrokenUploader/GRPC/UploadBeforeConfigure"},
			wantPassed: []string{"TestBrokenUploader/Direct/Upload", "TestBrokenUploader/GRPC/UploadCancelMidCall"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.test, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^"+tc.test+"$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tc.env)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a broken implementation:\n%s", out)
			}
			for _, name := range tc.wantFailed {
				if !bytes.Contains(out, []byte("--- FAIL: "+name+" ")) {
					t.Errorf("%s did not fail:\n%s", name, out)
				}
			}
			for _, name := range tc.wantPassed {
				if !bytes.Contains(out, []byte("--- PASS: "+name+" ")) {
					t.Errorf("%s did not pass:\n%s", name, out)
				}
			}
			if t.Failed() {
				return
			}
			t.Logf("failed as expected:\n%s", grepLines(string(out), "--- FAIL"))
		})
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
