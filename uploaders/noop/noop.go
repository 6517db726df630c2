// Package noop is an uploader for tests and demos, NOT a product adapter: it "uploads" a segment
// by reading it through (so the file must exist and be readable) and reports it done, or fails
// permanently when configured to.
package noop

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Name is the plugin's name.
const Name = "noop"

// Version is the plugin's version.
const Version = "0.1.0-test"

// Config is the plugin's config section.
type Config struct {
	// Fail makes every upload fail permanently.
	Fail bool `json:"fail" cfg:"fail" desc:"fail every upload permanently"`
	// Delay pauses after every MiB read, to simulate a slow link.
	Delay time.Duration `json:"-" cfg:"delay" min:"0s" max:"1m" desc:"pause after every MiB, to simulate a slow link"`
}

// Noop is the uploader.
type Noop struct {
	mu  sync.Mutex
	cfg *Config
}

var _ sdk.Uploader = (*Noop)(nil)

// New returns an unconfigured uploader.
func New() *Noop { return &Noop{} }

// Info identifies the plugin.
func (n *Noop) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: Name, Kind: sdk.KindUploader, Version: Version}, nil
}

// ConfigSchema describes the config section.
func (n *Noop) ConfigSchema(context.Context) (sdk.Schema, error) {
	return sdkconfig.Schema(Config{}), nil
}

// Configure checks and applies the config.
func (n *Noop) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var cfg Config
	var d sdkconfig.Decoder
	if !d.Decode(raw, &cfg) {
		return d.Diags, nil
	}
	n.mu.Lock()
	n.cfg = &cfg
	n.mu.Unlock()
	return nil, nil
}

// Upload reads the segment through and reports it uploaded.
func (n *Noop) Upload(ctx context.Context, req sdk.UploadRequest, progress func(sdk.Progress)) (sdk.UploadResult, error) {
	n.mu.Lock()
	cfg := n.cfg
	n.mu.Unlock()
	if cfg == nil {
		return sdk.UploadResult{}, sdk.ErrNotConfigured
	}
	if cfg.Fail {
		return sdk.UploadResult{}, fmt.Errorf("noop: configured to fail: %w", sdk.ErrPermanent)
	}
	f, err := os.Open(req.SegmentPath)
	if err != nil {
		return sdk.UploadResult{}, fmt.Errorf("noop: %w: %w", sdk.ErrPermanent, err)
	}
	defer f.Close()
	loc := "noop://" + req.SegmentPath
	var done int64
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return sdk.UploadResult{}, err
		}
		k, err := f.Read(buf)
		done += int64(k)
		if k > 0 && progress != nil {
			progress(sdk.Progress{Location: loc, Offset: done, Size: req.Size})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return sdk.UploadResult{}, fmt.Errorf("noop: %w", err)
		}
		if cfg.Delay > 0 {
			select {
			case <-ctx.Done():
				return sdk.UploadResult{}, ctx.Err()
			case <-time.After(cfg.Delay):
			}
		}
	}
	return sdk.UploadResult{Location: loc, Bytes: done}, nil
}
