package noop

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	seg := filepath.Join(t.TempDir(), "seg.mp4")
	if err := os.WriteFile(seg, bytes.Repeat([]byte{7}, 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// Sparse: 256 MiB that cost no disk, read at 2 ms per MiB: half a second, long enough to be
	// cancelled mid-upload.
	big := filepath.Join(t.TempDir(), "big.mp4")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 256<<20); err != nil {
		t.Fatal(err)
	}
	req := sdk.UploadRequest{JobID: 1, SegmentPath: seg, Size: 5 << 20}
	slow := sdk.UploadRequest{JobID: 2, SegmentPath: big, Size: 256 << 20}
	sdktest.Uploader(t, func() sdk.Uploader { return New() }, []byte(`{"delay":"2ms"}`), []byte(`{"delay":"soon"}`), req,
		sdktest.SlowUpload(slow))
}
