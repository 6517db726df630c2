package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/screenrec/recorder/benchmarks"
	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/internal/xvfb"
	"github.com/screenrec/recorder/plugins/host"
	"github.com/screenrec/recorder/plugins/sdk"
)

type cloudReport struct {
	Date     time.Time `json:"date"`
	StartMS  []float64 `json:"start_ms"`
	MedianMS float64   `json:"start_median_ms"`
	P95MS    float64   `json:"start_p95_ms"`
	Answered []int     `json:"statuses"`
	OKShare  float64   `json:"share_200"`
}

// runCloud measures the cloud front end as a plugin process: start → answer latency and how
// often the first frame is confirmed within the window (200) rather than not (202).
func runCloud(ctx context.Context, c config, srv *xvfb.Server) error {
	spool, err := os.MkdirTemp("", "bench-cloud-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(spool)
	eng, err := engine.New(ctx, engine.Config{SpoolDir: spool, MinFreeDisk: -1, FPS: c.FPS})
	if err != nil {
		return err
	}
	defer eng.Close(context.Background())
	h := host.New(host.EngineAPI(eng), host.Options{BuiltinExecutable: c.builtinExecutable(),
		Env: func(k string) (string, bool) { return "bench-signing-key-0123456789abcdef0123", k == "BENCH_KEY" }})
	defer h.Close(context.Background())
	sum := sha256.Sum256([]byte("bench-secret"))
	if err := h.Load(ctx, []host.Spec{{Name: "cloud", Kind: sdk.KindFrontend, Config: map[string]any{
		"listen":       "127.0.0.1:0",
		"users":        []map[string]any{{"id": "bench", "display": srv.Display}},
		"access_keys":  []map[string]any{{"id": "k", "secret_sha256": hex.EncodeToString(sum[:]), "permissions": []string{"RecordScreenInteraction"}}},
		"signing_keys": []map[string]any{{"id": "s1", "key": map[string]any{"env": "BENCH_KEY"}}},
	}}}); err != nil {
		return err
	}
	if err := h.Serve(ctx); err != nil {
		return err
	}
	base := h.Endpoints()["cloud"][0].URL
	body, _ := json.Marshal(map[string]string{"accessKeyId": "k", "accessKeySecret": "bench-secret"})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := postJSON(base+"/authentication/v1/token/access-key", "", body, &tok); err != nil {
		return err
	}
	rep := cloudReport{Date: time.Now().UTC()}
	ok := 0
	for i := 0; i < 20; i++ {
		var a struct {
			ContactID int64 `json:"contactId"`
		}
		t0 := time.Now()
		status, err := post(base+"/interaction-recording-management-service/v1/interactions/start-screen-interaction-recording?userId=bench&recordingDuration=60", tok.AccessToken, &a)
		if err != nil {
			return err
		}
		rep.StartMS = append(rep.StartMS, float64(time.Since(t0).Microseconds())/1000)
		rep.Answered = append(rep.Answered, status)
		if status == http.StatusOK {
			ok++
		}
		if _, err := post(fmt.Sprintf("%s/interaction-recording-management-service/v1/interactions/stop-screen-interaction-recording?userId=bench&contactId=%d", base, a.ContactID), tok.AccessToken, nil); err != nil {
			return err
		}
		for { // the next start must not find this one still running
			list, _ := eng.List(ctx, engine.ListFilter{Owner: "bench"})
			if len(list) > 0 && list[len(list)-1].State.Terminal() {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	sorted := slices.Clone(rep.StartMS)
	slices.Sort(sorted)
	rep.MedianMS, rep.P95MS = benchmarks.Median(sorted), sorted[len(sorted)*95/100]
	rep.OKShare = float64(ok) / float64(len(rep.StartMS))
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(c.Out, "cloud.json"), js, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Cloud start/stop API (plugin process) — %s\n\n", rep.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "Start → answer, %d starts (each a new capture and encoder): **median %.0f ms, p95 %.0f ms**; answered 200 (first frame confirmed within the window) **%.0f%%** of the time, 202 otherwise.\n",
		len(rep.StartMS), rep.MedianMS, rep.P95MS, 100*rep.OKShare)
	if err := os.WriteFile(filepath.Join(c.Out, "cloud.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

func post(url, token string, out any) (int, error) {
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return resp.StatusCode, fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return resp.StatusCode, nil
}

func postJSON(url, token string, body []byte, out any) error {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
