// Command uploaderplugin is a tiny uploader plugin binary for the sdk's subprocess test: Info
// logs through slog, Upload fails permanently.
package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/screenrec/recorder/plugins/sdk"
)

func main() {
	sdk.Serve(&sdk.MockUploader{
		InfoFn: func(context.Context) (sdk.Info, error) {
			slog.Info("info called", "answer", 42, slog.Group("req", "id", "x1"))
			return sdk.Info{Name: "exec-test", Kind: sdk.KindUploader, Version: "1.0.0"}, nil
		},
		UploadFn: func(_ context.Context, req sdk.UploadRequest, progress func(sdk.Progress)) (sdk.UploadResult, error) {
			progress(sdk.Progress{Offset: 1, Size: req.Size})
			return sdk.UploadResult{}, fmt.Errorf("upload job %d: 401 Unauthorized: %w", req.JobID, sdk.ErrPermanent)
		},
	})
}
