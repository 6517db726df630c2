package fleetsign

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/pkg/fleet/fleetconn"
	"github.com/screenrec/recorder/pkg/s3upload"
)

func startNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// The signer asks on its machine's presign subject with the upload's identity from the
// context, from its machine's inbox; the controller's answers come back as the signed request,
// its refusals as errors naming the sentinel (forbidden: permanent), and no controller at all
// as a refused connection, at once.
func TestSignerAsksTheController(t *testing.T) {
	srv := startNATS(t)
	s, err := Connect(fleetconn.Config{URLs: []string{srv.ClientURL()}, Machine: "desk-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := s3upload.WithUpload(context.Background(), s3upload.Upload{RecordingID: "rec-1", Segment: 2, Owner: "u1", Bytes: 10, SHA256: "ab"})

	start := time.Now()
	_, err = s.Sign(ctx, s3upload.Operation{Op: s3upload.OpHead, Key: "k"})
	if !errors.Is(err, api.ErrRefused) || time.Since(start) > 10*time.Second {
		t.Fatalf("no controller: %v after %s, want ErrRefused at once", err, time.Since(start))
	}

	ctl, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	var seen []fleet.PresignRequest
	var inboxes []string
	sub, err := ctl.Subscribe(fleet.PresignSubject("desk-1"), func(m *nats.Msg) {
		var req fleet.PresignRequest
		_ = json.Unmarshal(m.Data, &req)
		seen, inboxes = append(seen, req), append(inboxes, m.Reply)
		rep := fleet.PresignReply{Signed: &s3upload.SignedRequest{Method: "HEAD", URL: "https://s3.example/b/desk-1/k?X-Amz-Signature=x"}}
		switch {
		case req.Confirm:
			rep = fleet.PresignReply{Object: &fleet.ArchiveObject{Key: "desk-1/k", Location: "https://s3.example/b/desk-1/k", State: fleet.ArchiveLanded}}
		case req.Operation.Key == "../x":
			rep = fleet.PresignReply{Error: fleet.ErrorOf(fleet.ErrForbidden)}
		}
		b, _ := json.Marshal(rep)
		_ = m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = ctl.Flush()
	defer sub.Unsubscribe()

	sr, err := s.Sign(ctx, s3upload.Operation{Op: s3upload.OpHead, Key: "k"})
	if err != nil || sr.Method != "HEAD" {
		t.Fatalf("sign: %+v %v", sr, err)
	}
	if _, err := s.Sign(ctx, s3upload.Operation{Op: s3upload.OpHead, Key: "../x"}); !errors.Is(err, fleet.ErrForbidden) || !errors.Is(err, api.ErrPermanent) {
		t.Errorf("refused: %v, want forbidden and permanent", err)
	}
	loc, err := s.Confirm(ctx, "k")
	if err != nil || loc != "https://s3.example/b/desk-1/k" {
		t.Errorf("confirm: %q %v", loc, err)
	}
	if len(seen) != 3 || seen[0].Segment != (fleet.Segment{RecordingID: "rec-1", Index: 2, Owner: "u1", Bytes: 10, SHA256: "ab"}) ||
		!seen[2].Confirm || seen[2].Key != "k" {
		t.Errorf("requests seen: %+v", seen)
	}
	for _, in := range inboxes {
		if len(in) < len(fleet.InboxPrefix("desk-1")) || in[:len(fleet.InboxPrefix("desk-1"))] != fleet.InboxPrefix("desk-1") {
			t.Errorf("reply subject %q, want under %s", in, fleet.InboxPrefix("desk-1"))
		}
	}
}
