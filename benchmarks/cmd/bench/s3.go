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
	"syscall"
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
	Concurrency   int       `json:"part_concurrency"`
	LoadBefore    string    `json:"loadavg_before"`
	LoadAfter     string    `json:"loadavg_after"`
	S3MBps        []float64 `json:"s3_mb_per_s"`
	S3SeqMBps     []float64 `json:"s3_one_part_at_a_time_mb_per_s"`
	CurlMBps      []float64 `json:"curl_put_mb_per_s"`
	S3Median      float64   `json:"s3_median_mb_per_s"`
	S3SeqMedian   float64   `json:"s3_one_part_at_a_time_median_mb_per_s"`
	CurlMedian    float64   `json:"curl_median_mb_per_s"`
	Ratio         float64   `json:"s3_over_curl"`
	SeqRatio      float64   `json:"s3_one_part_at_a_time_over_curl"`
	CPU           s3CPU     `json:"cpu_seconds_median"`
	Interruptions int       `json:"interruptions"`
	Resent        []int64   `json:"bytes_resent_per_interruption"`
	StoredPerByte float64   `json:"bytes_stored_per_segment_byte"`
}

// s3CPU is CPU seconds per upload (medians): the server's (versitygw), this process's
// (the test proxy in front of the server, plus the uploader in the s3 runs) and curl's.
type s3CPU struct {
	CurlServer         float64 `json:"curl_server"`
	CurlProxy          float64 `json:"curl_proxy"`
	Curl               float64 `json:"curl"`
	S3Server           float64 `json:"s3_server"`
	S3ProxyAndUploader float64 `json:"s3_proxy_and_uploader"`
}

// runS3 measures the s3 uploader (multipart, sha256 per part) at its default part
// concurrency and one part at a time against curl's single signed PUT of the same file to
// the same versitygw, in an order that rotates every round, then the bytes re-sent and
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
	up, err := s3Uploader(ctx, srv, part, 0)
	if err != nil {
		return err
	}
	seq, err := s3Uploader(ctx, srv, part, 1)
	if err != nil {
		return err
	}
	req := sdk.UploadRequest{JobID: 1, RecordingID: "bench", SegmentIndex: 1, SegmentPath: path, Size: uploadSize, SHA256: sum,
		Metadata: map[string]string{"userId": "bench", "startTime": "2026-12-01T10:00:00Z"}}
	rep := s3Report{Date: time.Now().UTC(), Server: "versitygw (POSIX backend) on loopback", SizeMB: uploadSize / 1e6, PartBytes: part,
		Concurrency: s3.DefaultPartConcurrency, LoadBefore: loadavg()}
	serverCPU := func() float64 { return procCPU(srv.Root) }
	var cpu struct{ curlServer, curlProxy, curl, s3Server, s3Self []float64 }
	runs := []func(round int) error{
		func(round int) error { // curl
			g0, s0 := serverCPU(), selfCPU()
			t0 := time.Now()
			cmd := exec.CommandContext(ctx, "curl", "-sS", "--fail", "-o", "/dev/null",
				"--aws-sigv4", "aws:amz:"+s3server.Region+":s3", "--user", s3server.AccessKey+":"+s3server.SecretKey,
				"-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
				"-T", path, fmt.Sprintf("%s/%s/curl-%d.mp4", srv.URL, s3server.Bucket, round))
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("curl PUT: %v: %s", err, out)
			}
			rep.CurlMBps = append(rep.CurlMBps, uploadSize/1e6/time.Since(t0).Seconds())
			cpu.curlServer = append(cpu.curlServer, serverCPU()-g0)
			cpu.curlProxy = append(cpu.curlProxy, selfCPU()-s0)
			cpu.curl = append(cpu.curl, (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds())
			return nil
		},
		func(round int) error { // s3, default part concurrency
			req.RecordingID = fmt.Sprintf("bench-%d", round)
			g0, s0 := serverCPU(), selfCPU()
			t0 := time.Now()
			if _, err := up.Upload(ctx, req, nil); err != nil {
				return fmt.Errorf("s3 upload: %w", err)
			}
			rep.S3MBps = append(rep.S3MBps, uploadSize/1e6/time.Since(t0).Seconds())
			cpu.s3Server = append(cpu.s3Server, serverCPU()-g0)
			cpu.s3Self = append(cpu.s3Self, selfCPU()-s0)
			return nil
		},
		func(round int) error { // s3, one part at a time
			req.RecordingID = fmt.Sprintf("bench-seq-%d", round)
			t0 := time.Now()
			if _, err := seq.Upload(ctx, req, nil); err != nil {
				return fmt.Errorf("s3 upload, one part at a time: %w", err)
			}
			rep.S3SeqMBps = append(rep.S3SeqMBps, uploadSize/1e6/time.Since(t0).Seconds())
			return nil
		},
	}
	for round := 0; round < max(c.Rounds, 3); round++ {
		for i := range runs {
			if err := runs[(i+round)%len(runs)](round); err != nil {
				return err
			}
		}
	}
	rep.LoadAfter = loadavg()
	rep.S3SeqMedian = benchmarks.Median(rep.S3SeqMBps)
	rep.SeqRatio = rep.S3SeqMedian / benchmarks.Median(rep.CurlMBps)
	rep.CPU = s3CPU{CurlServer: benchmarks.Median(cpu.curlServer), CurlProxy: benchmarks.Median(cpu.curlProxy), Curl: benchmarks.Median(cpu.curl),
		S3Server: benchmarks.Median(cpu.s3Server), S3ProxyAndUploader: benchmarks.Median(cpu.s3Self)}
	rep.S3Median, rep.CurlMedian = benchmarks.Median(rep.S3MBps), benchmarks.Median(rep.CurlMBps)
	rep.Ratio = rep.S3Median / rep.CurlMedian
	srv.Close()

	// Interruptions, on a fresh server: what it stores is this one segment.
	srv, err = s3server.New(filepath.Join(dir, "root2"))
	if err != nil {
		return err
	}
	defer srv.Close()
	if up, err = s3Uploader(ctx, srv, part, 0); err != nil {
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
	fmt.Fprintf(&b, "%.0f MB file, %d rounds in a rotating order, medians: **s3 %.0f MB/s** (multipart, %d MiB parts, %d in flight, sha256 per part checked by the server, pre-signed URLs) vs **curl PUT %.0f MB/s** (one SigV4 PUT, unsigned payload) to the same server: ratio **%.2f** (one part at a time: %.0f MB/s, %.2f). Load average %s before, %s after.\n\n",
		rep.SizeMB, len(rep.CurlMBps), rep.S3Median, part>>20, rep.Concurrency, rep.CurlMedian, rep.Ratio, rep.S3SeqMedian, rep.SeqRatio, rep.LoadBefore, rep.LoadAfter)
	fmt.Fprintf(&b, "CPU seconds per upload (medians): curl run — server %.2f, proxy %.2f, curl %.2f (%.2f in all); s3 run — server %.2f, proxy and uploader %.2f (%.2f in all).\n\n",
		rep.CPU.CurlServer, rep.CPU.CurlProxy, rep.CPU.Curl, rep.CPU.CurlServer+rep.CPU.CurlProxy+rep.CPU.Curl,
		rep.CPU.S3Server, rep.CPU.S3ProxyAndUploader, rep.CPU.S3Server+rep.CPU.S3ProxyAndUploader)
	fmt.Fprintf(&b, "Server killed mid-part and restarted %d times in one upload: %d bytes re-sent per interruption on average (part %d); bytes stored per byte of segment after completion: **%.3f**.\n",
		rep.Interruptions, rep.Resent[0], part, rep.StoredPerByte)
	if err := os.WriteFile(filepath.Join(c.Out, "s3.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

// s3Uploader is the uploader configured for srv; concurrency 0: the default.
func s3Uploader(ctx context.Context, srv *s3server.Server, part int64, concurrency int) (*s3.Uploader, error) {
	up := s3.New()
	m := map[string]any{"endpoint": srv.URL, "bucket": s3server.Bucket, "path_style": true,
		"region": s3server.Region, "access_key_id": s3server.AccessKey, "secret_access_key": s3server.SecretKey,
		"part_size": part, "timeout": "60s"}
	if concurrency > 0 {
		m["part_concurrency"] = concurrency
	}
	raw, _ := json.Marshal(m)
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

// procCPU is the user+system CPU seconds of the processes whose command line contains sub
// (versitygw, by its root folder), from /proc.
func procCPU(sub string) float64 {
	ents, _ := os.ReadDir("/proc")
	var total float64
	for _, e := range ents {
		cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(cl), sub) {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		i := strings.LastIndexByte(string(st), ')')
		if err != nil || i < 0 {
			continue
		}
		f := strings.Fields(string(st[i+1:]))
		if len(f) < 13 {
			continue
		}
		var user, sys float64
		fmt.Sscan(f[11], &user) // utime, in clock ticks (100 a second on Linux)
		fmt.Sscan(f[12], &sys)
		total += (user + sys) / 100
	}
	return total
}

// selfCPU is this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// loadavg is /proc/loadavg's three averages.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
