package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/internal/s3server"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/uploaders/s3"
)

type s3Report struct {
	Date          time.Time `json:"date"`
	Server        string    `json:"server"`
	SizeMB        float64   `json:"size_mb"`
	PartBytes     int64     `json:"part_bytes"`
	S3MBps        []float64 `json:"s3_mb_per_s"`
	CurlMBps      []float64 `json:"curl_put_mb_per_s"`
	S3Median      float64   `json:"s3_median_mb_per_s"`
	CurlMedian    float64   `json:"curl_median_mb_per_s"`
	Ratio         float64   `json:"s3_over_curl"`
	Interruptions int       `json:"interruptions"`
	Resent        []int64   `json:"bytes_resent_per_interruption"`
	StoredPerByte float64   `json:"bytes_stored_per_segment_byte"`
}

// runS3 measures the s3 uploader (multipart, sha256 per part) against curl's single signed
// PUT of the same file to the same versitygw, alternating, then the bytes re-sent and
// stored when the server is killed mid-part and restarted, three times in one upload.
func runS3(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "bench-s3-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "segment.mp4")
	sum, err := randomFile(path, uploadSize)
	if err != nil {
		return err
	}
	srv, err := s3server.New(filepath.Join(dir, "root"))
	if err != nil {
		return err
	}
	defer srv.Close()
	const part = 16 << 20
	up, err := s3Uploader(ctx, srv, part)
	if err != nil {
		return err
	}
	req := sdk.UploadRequest{JobID: 1, RecordingID: "bench", SegmentIndex: 1, SegmentPath: path, Size: uploadSize, SHA256: sum,
		Metadata: map[string]string{"userId": "bench", "startTime": "2026-12-01T10:00:00Z"}}
	rep := s3Report{Date: time.Now().UTC(), Server: "versitygw (POSIX backend) on loopback", SizeMB: uploadSize / 1e6, PartBytes: part}
	for round := 0; round < 3; round++ {
		req.RecordingID = fmt.Sprintf("bench-%d", round)
		t0 := time.Now()
		if _, err := up.Upload(ctx, req, nil); err != nil {
			return fmt.Errorf("s3 upload: %w", err)
		}
		rep.S3MBps = append(rep.S3MBps, uploadSize/1e6/time.Since(t0).Seconds())
		t0 = time.Now()
		cmd := exec.CommandContext(ctx, "curl", "-sS", "--fail", "-o", "/dev/null",
			"--aws-sigv4", "aws:amz:"+s3server.Region+":s3", "--user", s3server.AccessKey+":"+s3server.SecretKey,
			"-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
			"-T", path, fmt.Sprintf("%s/%s/curl-%d.mp4", srv.URL, s3server.Bucket, round))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("curl PUT: %v: %s", err, out)
		}
		rep.CurlMBps = append(rep.CurlMBps, uploadSize/1e6/time.Since(t0).Seconds())
	}
	rep.S3Median, rep.CurlMedian = benchmarks.Median(rep.S3MBps), benchmarks.Median(rep.CurlMBps)
	rep.Ratio = rep.S3Median / rep.CurlMedian
	srv.Close()

	// Interruptions, on a fresh server: what it stores is this one segment.
	srv, err = s3server.New(filepath.Join(dir, "root2"))
	if err != nil {
		return err
	}
	defer srv.Close()
	if up, err = s3Uploader(ctx, srv, part); err != nil {
		return err
	}
	var mu sync.Mutex
	var state sdk.Progress
	progress := func(p sdk.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.State != "" {
			state.State = p.State
		}
		state.Location, state.Offset = p.Location, p.Offset
	}
	req.RecordingID = "interrupted"
	for i, partNo := range []string{"3", "7", "11"} {
		srv.SetFault(func(r *http.Request) s3server.Action {
			if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == partNo {
				return s3server.Action{KillAfter: part / 2}
			}
			return s3server.Action{}
		})
		req.Resume = sdk.Resume{Location: state.Location, Offset: state.Offset, State: state.State}
		if _, err := up.Upload(ctx, req, progress); err == nil {
			return fmt.Errorf("interruption %d: the upload did not fail", i)
		}
		srv.SetFault(nil)
		if err := srv.Restart(); err != nil {
			return err
		}
		rep.Interruptions++
	}
	req.Resume = sdk.Resume{Location: state.Location, Offset: state.Offset, State: state.State}
	if _, err := up.Upload(ctx, req, progress); err != nil {
		return fmt.Errorf("final resume: %w", err)
	}
	total := srv.BodyBytes() - uploadSize
	rep.Resent = append(rep.Resent, total/int64(rep.Interruptions))
	rep.StoredPerByte = float64(srv.StoredBytes()) / uploadSize

	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(c.Out, "s3.json"), js, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Upload (s3 uploader, %s) — %s\n\n", rep.Server, rep.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "%.0f MB file, 3 rounds alternated, medians: **s3 %.0f MB/s** (multipart, %d MiB parts, sha256 per part checked by the server, pre-signed URLs) vs **curl PUT %.0f MB/s** (one SigV4 PUT, unsigned payload) to the same server: ratio **%.2f**.\n\n",
		rep.SizeMB, rep.S3Median, part>>20, rep.CurlMedian, rep.Ratio)
	fmt.Fprintf(&b, "Server killed mid-part and restarted %d times in one upload: %d bytes re-sent per interruption on average (part %d); bytes stored per byte of segment after completion: **%.3f**.\n",
		rep.Interruptions, rep.Resent[0], part, rep.StoredPerByte)
	if err := os.WriteFile(filepath.Join(c.Out, "s3.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

func s3Uploader(ctx context.Context, srv *s3server.Server, part int64) (*s3.Uploader, error) {
	up := s3.New()
	raw, _ := json.Marshal(map[string]any{"endpoint": srv.URL, "bucket": s3server.Bucket, "path_style": true,
		"region": s3server.Region, "access_key_id": s3server.AccessKey, "secret_access_key": s3server.SecretKey,
		"part_size": part, "timeout": "60s"})
	diags, err := up.Configure(ctx, raw)
	if err != nil {
		return nil, err
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			return nil, fmt.Errorf("s3 config: %+v", d)
		}
	}
	return up, nil
}
