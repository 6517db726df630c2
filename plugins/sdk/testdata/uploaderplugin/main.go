// Command uploaderplugin is a tiny uploader plugin binary for the sdk's subprocess tests: Info
// logs through slog; Upload works in a span of its own, logs inside it, counts itself, and
// fails permanently.
package main

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel"

	"github.com/screenrec/recorder/plugins/sdk"
)

func main() {
	uploads, _ := otel.Meter("exec-test").Int64Counter("exec_test.uploads")
	sdk.Serve(&sdk.MockUploader{
		InfoFn: func(context.Context) (sdk.Info, error) {
			slog.Info("info called", "answer", 42, slog.Group("req", "id", "x1"))
			return sdk.Info{Name: "exec-test", Kind: sdk.KindUploader, Version: "1.0.0"}, nil
		},
		UploadFn: func(ctx context.Context, req sdk.UploadRequest, progress func(sdk.Progress)) (sdk.UploadResult, error) {
			ctx, span := otel.Tracer("exec-test").Start(ctx, "upload work")
			defer span.End()
			slog.InfoContext(ctx, "uploading", "job", req.JobID)
			uploads.Add(ctx, 1)
			progress(sdk.Progress{Offset: 1, Size: req.Size})
			return sdk.UploadResult{}, fmt.Errorf("upload job %d: 401 Unauthorized: %w", req.JobID, sdk.ErrPermanent)
		},
	})
}
