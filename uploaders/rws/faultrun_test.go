package rws

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/rwsserver"
	"github.com/screenrec/recorder/internal/uploadfault"
)

// faultRun uploads segments segments through the rws uploader to two RWS servers (primary
// and peer) while both suffer a random fault mix — 503s, connections cut mid-chunk,
// corrupted chunks, answers lost after the last chunk was stored, restarts — and checks
// what they hold at the end.
func faultRun(tb testing.TB, segments int, seed uint64) (uploadfault.RWSOutcome, uploadfault.Report, map[string]int) {
	tb.Helper()
	ctx := context.Background()
	users := map[string]string{svcUser: svcPass}
	var servers []*uploadfault.RWSServer
	for range 2 {
		s, err := uploadfault.StartRWS(ctx, tb.TempDir(), users)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		servers = append(servers, s)
	}
	primary, peer := servers[0], servers[1]
	jobs, err := uploadfault.Segments(tb.TempDir(), segments, 64<<10, 512<<10, seed)
	if err != nil {
		tb.Fatal(err)
	}
	u := New()
	u.log = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	raw := configJSON(primary.URL(), peer.URL(), map[string]any{"chunk_size": "16KiB", "timeout": "1s", "cooldown": "300ms"})
	if _, err := u.Configure(ctx, raw); err != nil {
		tb.Fatal(err)
	}

	// Every request takes 5 ms more: the run lasts long enough for faults to land mid-upload.
	pace := rwsserver.Faults{DelayMS: 5}
	for _, s := range servers {
		_ = s.SetFaults(pace)
	}
	chaosCtx, stopChaos := context.WithCancel(ctx)
	var mu sync.Mutex
	fired := map[string]int{}
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		uploadfault.Chaos(chaosCtx, seed, 30*time.Millisecond, 200*time.Millisecond, func(r *rand.Rand) {
			s := primary
			if r.IntN(3) == 0 {
				s = peer
			}
			what, err := uploadfault.RWSFault(chaosCtx, s, r, 40<<10, pace)
			mu.Lock()
			fired[what]++
			mu.Unlock()
			if err != nil {
				tb.Logf("fault %s: %v", what, err)
			}
		})
	}()
	rep, runErr := uploadfault.Run(ctx, u, jobs, uploadfault.Config{Concurrency: 3, Retry: 50 * time.Millisecond, AttemptTimeout: time.Minute})
	stopChaos()
	<-chaosDone
	for _, s := range servers {
		_ = s.SetFaults(rwsserver.Faults{})
	}
	if runErr != nil {
		tb.Fatalf("fault run: %v", runErr)
	}
	mu.Lock()
	defer mu.Unlock()
	return uploadfault.CheckRWS(jobs, rep, primary, peer), rep, fired
}

// A randomized fault run over 24 segments: every segment ends confirmed, byte-identical on
// the server that confirmed it; no server holds one complete twice; no partial or refused
// upload is left.
func TestRandomFaultRun(t *testing.T) {
	t.Parallel()
	out, rep, fired := faultRun(t, 24, 7)
	t.Logf("faults fired %v; %d attempts, %d failed %v; %d uploads created for %d segments; stored %.3f bytes per segment byte; received %.3f; %d interruptions, %.0f bytes re-sent each (chunk 16384)",
		fired, rep.Attempts, rep.Failures, rep.Kinds, out.Creates, 24, out.StoredRatio(), float64(out.ReceivedBytes)/float64(out.SegmentBytes), out.Interruptions, out.ResentPerInterruption())
	for _, p := range out.Problems {
		t.Error(p)
	}
	if out.Interruptions == 0 {
		t.Error("no fault interrupted anything: the run proves nothing")
	}
}

// BenchmarkFaultRun measures, under the fault mix, the bytes the servers store per segment
// byte (goal ≤ 1.05) and the bytes re-sent per interruption (goal ≤ one chunk, 16 KiB).
func BenchmarkFaultRun(b *testing.B) {
	var stored, segment, resent, interruptions float64
	for i := range b.N {
		out, rep, fired := faultRun(b, 24, uint64(100+i))
		for _, p := range out.Problems {
			b.Error(p)
		}
		b.Logf("run %d: faults %v; %d failed attempts %v; %d uploads for 24 segments; stored %.3f; %d interruptions, %.0f bytes re-sent each",
			i, fired, rep.Failures, rep.Kinds, out.Creates, out.StoredRatio(), out.Interruptions, out.ResentPerInterruption())
		stored += float64(out.StoredBytes)
		segment += float64(out.SegmentBytes)
		resent += float64(out.ReceivedBytes - out.SegmentBytes)
		interruptions += float64(out.Interruptions)
	}
	b.ReportMetric(stored/segment, "stored/segment-byte")
	b.ReportMetric(resent/max(interruptions, 1), "resent-bytes/interruption")
	b.ReportMetric(interruptions/float64(b.N), "interruptions/run")
}

// tbWriter writes the uploader's log into the test's.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
