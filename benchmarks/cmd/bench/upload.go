package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/internal/rwsserver"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/uploaders/rws"
)

type uploadReport struct {
	Date          time.Time `json:"date"`
	SizeMB        float64   `json:"size_mb"`
	RWSMBps       []float64 `json:"rws_mb_per_s"`
	CurlMBps      []float64 `json:"curl_put_mb_per_s"`
	RWSMedian     float64   `json:"rws_median_mb_per_s"`
	CurlMedian    float64   `json:"curl_median_mb_per_s"`
	Ratio         float64   `json:"rws_over_curl"`
	Interruptions int       `json:"interruptions"`
	Resent        []int64   `json:"bytes_resent_per_interruption"`
	ChunkBytes    int64     `json:"chunk_bytes"`
}

// uploadSize is the file both tools send.
const uploadSize = 200 << 20

// runUpload measures the rws uploader against curl PUT of the same file to a plain HTTP server
// on loopback, alternating, and the bytes re-sent when a link drops mid-upload.
func runUpload(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "bench-upload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "segment.mp4")
	sum, err := randomFile(path, uploadSize)
	if err != nil {
		return err
	}
	users := map[string]string{"bench": "pw"}
	srv, err := rwsserver.Start(ctx, rwsserver.Config{Dir: filepath.Join(dir, "rws"), Listen: "127.0.0.1:0", Users: users})
	if err != nil {
		return err
	}
	defer srv.Close()
	up := rws.New()
	cfg, _ := json.Marshal(map[string]any{"server": srv.URL(), "username": "bench", "password": "pw"})
	if _, err := up.Configure(ctx, cfg); err != nil {
		return err
	}
	plain, plainURL, err := plainPUTServer(filepath.Join(dir, "put"))
	if err != nil {
		return err
	}
	defer plain.Close()
	req := sdk.UploadRequest{JobID: 1, RecordingID: "bench", SegmentPath: path, Size: uploadSize, SHA256: sum,
		Metadata: map[string]string{"filename": "segment.mp4"}}
	rep := uploadReport{Date: time.Now().UTC(), SizeMB: uploadSize / 1e6}
	for round := 0; round < 3; round++ {
		t0 := time.Now()
		if _, err := up.Upload(ctx, req, nil); err != nil {
			return fmt.Errorf("rws upload: %w", err)
		}
		rep.RWSMBps = append(rep.RWSMBps, uploadSize/1e6/time.Since(t0).Seconds())
		t0 = time.Now()
		out, err := exec.CommandContext(ctx, "curl", "-sS", "-f", "-T", path, plainURL).CombinedOutput()
		if err != nil {
			return fmt.Errorf("curl: %v: %s", err, out)
		}
		rep.CurlMBps = append(rep.CurlMBps, uploadSize/1e6/time.Since(t0).Seconds())
		fmt.Fprintf(os.Stderr, "upload round %d: rws %.0f MB/s, curl PUT %.0f MB/s\n", round+1, rep.RWSMBps[round], rep.CurlMBps[round])
	}
	rep.RWSMedian, rep.CurlMedian = benchmarks.Median(rep.RWSMBps), benchmarks.Median(rep.CurlMBps)
	rep.Ratio = rep.RWSMedian / rep.CurlMedian

	// Interruptions: the link drops at random points; each resume re-sends what was in flight.
	rep.ChunkBytes = 4 << 20
	for i, at := range []int64{30 << 20, 77 << 20, 123 << 20, 150 << 20, 190 << 20} {
		before := srv.Stats().ChunkBytes
		var last sdk.Progress
		if err := srv.SetFaults(rwsserver.Faults{DropAfterBytes: at}); err != nil {
			return err
		}
		_, err := up.Upload(ctx, req, func(p sdk.Progress) { last = p })
		if err == nil {
			return fmt.Errorf("interruption %d: the upload did not fail", i)
		}
		resumed := req
		resumed.Resume = sdk.Resume{Location: last.Location, Offset: last.Offset}
		if _, err := up.Upload(ctx, resumed, nil); err != nil {
			return fmt.Errorf("resume %d: %w", i, err)
		}
		rep.Resent = append(rep.Resent, srv.Stats().ChunkBytes-before-uploadSize)
		rep.Interruptions++
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(c.Out, "upload.json"), js, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Upload (rws uploader, tus on loopback) — %s\n\n", rep.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "%.0f MB file, 3 rounds alternated, medians: **rws %.0f MB/s** (4 MiB chunks, sha256 per chunk and of the whole file, tusd file store) vs **curl PUT %.0f MB/s** to a plain Go HTTP server writing to disk: ratio **%.2f**.\n\n",
		rep.SizeMB, rep.RWSMedian, rep.CurlMedian, rep.Ratio)
	fmt.Fprintf(&b, "Link dropped mid-upload %d times; bytes re-sent after each resume: %v (chunk size %d).\n", rep.Interruptions, rep.Resent, rep.ChunkBytes)
	if err := os.WriteFile(filepath.Join(c.Out, "upload.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

// randomFile writes size random bytes to path and returns their sha256.
func randomFile(path string, size int64) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// plainPUTServer stores PUT bodies in dir: the baseline a tus upload is compared with.
func plainPUTServer(dir string) (*http.Server, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "PUT only", http.StatusMethodNotAllowed)
			return
		}
		f, err := os.Create(filepath.Join(dir, filepath.Base(r.URL.Path)))
		if err == nil {
			_, err = io.Copy(f, r.Body)
			err = errors.Join(err, f.Sync(), f.Close())
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String() + "/segment.mp4", nil
}
