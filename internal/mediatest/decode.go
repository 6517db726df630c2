package mediatest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// DecodeErrors decodes every frame of path with ffmpeg at log level error and returns what
// ffmpeg reported ("" for a clean file); err is for ffmpeg not running or failing. Frames
// pass to the null output with their own timestamps and time base (a variable frame rate is
// no error).
func DecodeErrors(ctx context.Context, path string) (string, error) {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", fileURL(path), "-fps_mode", "passthrough", "-enc_time_base", "-1", "-f", "null", "-")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stderr.String(), fmt.Errorf("ffmpeg decode %s: %w: %s", path, err, stderr.String())
	}
	return stderr.String(), nil
}
