package sdk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// syncBuffer is a bytes.Buffer safe for the logger's and the test's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestServe_Subprocess runs Serve in a real plugin binary: it dispenses through ClientConfig,
// calls it, checks the plugin's slog lines reach the host's logger, then kills the process.
func TestServe_Subprocess(t *testing.T) {
	t.Parallel()
	bin := buildUploaderPlugin(t)

	var logs syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Output: &logs, Level: hclog.Debug, JSONFormat: true})
	client := plugin.NewClient(ClientConfig(exec.Command(bin), KindUploader, logger))
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start the plugin: %v", err)
	}
	p, err := Dispense(rpc, KindUploader)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := p.(Uploader)
	if !ok {
		t.Fatalf("dispensed a %T, want an Uploader", p)
	}

	ctx := testCtx(t)
	info, err := u.Info(ctx)
	if want := (Info{Name: "exec-test", Kind: KindUploader, Version: "1.0.0"}); err != nil || info != want {
		t.Fatalf("Info = %+v, %v; want %+v", info, err, want)
	}
	var progressed bool
	_, err = u.Upload(ctx, UploadRequest{JobID: 3, Size: 10}, func(Progress) { progressed = true })
	if !errors.Is(err, ErrPermanent) || err.Error() != "upload job 3: 401 Unauthorized: permanent failure" || !progressed {
		t.Errorf("Upload = %v (progress %v), want the plugin's permanent error after progress", err, progressed)
	}

	// The plugin's slog line arrives on the host's logger, with its level and attributes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found map[string]any
		for _, l := range logs.lines() {
			if l["@message"] == "info called" {
				found = l
			}
		}
		if found != nil {
			if found["@level"] != "info" || found["answer"] != float64(42) || found["req.id"] != "x1" {
				t.Errorf("plugin log line on the host = %v, want level info, answer 42, req.id x1", found)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin's log line never reached the host's logger; host log:\n%s", logs.buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Kill the plugin process behind the client's back.
	proc, err := os.FindProcess(client.ReattachConfig().Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !client.Exited(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the client did not notice the plugin exit")
		}
	}
	if _, err := u.Info(ctx); !errors.Is(err, ErrPluginExited) {
		t.Errorf("Info after kill = %v, want an error wrapping ErrPluginExited", err)
	}
	if _, err := u.Upload(context.Background(), UploadRequest{}, nil); !errors.Is(err, ErrPluginExited) {
		t.Errorf("Upload after kill = %v, want an error wrapping ErrPluginExited", err)
	}
}

// buildUploaderPlugin builds testdata/uploaderplugin into the test's temporary folder.
func buildUploaderPlugin(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the plugin binary")
	}
	bin := filepath.Join(t.TempDir(), "uploaderplugin")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command(goTool, append(args, "./testdata/uploaderplugin")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the plugin: %v\n%s", err, out)
	}
	return bin
}
