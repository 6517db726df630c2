package controller_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/fleet/controller"
	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

func okStart(a answer) bool { return a.Status == http.StatusOK || a.Status == http.StatusAccepted }

// The cloud API served by the controller starts, repeats, masks and stops recordings on the
// machine where each user is present, with fleet-wide contact ids.
func TestStartRepeatMaskStopRoutedToTheRightMachine(t *testing.T) {
	srv := startServer(t, controller.ServerConfig{})
	url := srv.ClientURL()
	ctrl := openController(t, url, controller.Options{})
	eng1, eng2 := fakeEngine(t), fakeEngine(t)
	startAgent(t, []string{url}, "desk-1", eng1, []user{{"1234567", ":11"}}, nil)
	startAgent(t, []string{url}, "desk-2", eng2, []user{{"7654321", ":12"}}, nil)
	waitPresent(t, ctrl, "1234567")
	waitPresent(t, ctrl, "7654321")
	api1 := serveCloud(t, ctrl, "5s")

	first := api1.start(t, "1234567", 600)
	if !okStart(first) || first.ContactID < controller.DefaultContactIDBase {
		t.Fatalf("start: %+v", first)
	}
	own1, own2 := eng1.Owned("1234567"), eng2.Owned("1234567")
	if len(own1) != 1 || len(own2) != 0 {
		t.Fatalf("sessions of 1234567: desk-1 %d, desk-2 %d, want 1 and 0", len(own1), len(own2))
	}
	s := own1[0]
	if s.Source.Display != ":11" || s.Labels[fleet.LabelContactID] != strconv.FormatInt(first.ContactID, 10) || s.Frontend != "cloud" {
		t.Errorf("session on desk-1: display %q labels %v frontend %q", s.Source.Display, s.Labels, s.Frontend)
	}

	again := api1.start(t, "1234567", 900)
	if again.Status != http.StatusOK || again.ContactID != first.ContactID || again.InteractionID != first.InteractionID {
		t.Errorf("repeat start: %+v, want 200 with contact %d", again, first.ContactID)
	}
	if n := len(eng1.Owned("1234567")); n != 1 {
		t.Errorf("repeat start made %d sessions", n)
	}

	second := api1.start(t, "7654321", 60)
	if !okStart(second) || second.ContactID <= first.ContactID {
		t.Fatalf("start on desk-2: %+v (first contact %d)", second, first.ContactID)
	}
	if len(eng2.Owned("7654321")) != 1 || len(eng1.Owned("7654321")) != 0 {
		t.Error("the second user's recording is not on desk-2 alone")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	masked, err := ctrl.Mask(ctx, api.MaskTarget{Owner: "1234567"}, true)
	if err != nil || len(masked) != 1 || masked[0].ContactID != first.ContactID {
		t.Fatalf("mask: %v %+v", err, masked)
	}
	if st := eng1.Owned("1234567")[0].State; st != api.StateMasked {
		t.Errorf("after mask: %s on desk-1", st)
	}
	if st := eng2.Owned("7654321")[0].State; st != api.StateRecording {
		t.Errorf("mask of another user reached desk-2: %s", st)
	}

	stopped := api1.stop(t, "1234567", first.ContactID)
	if stopped.Status != http.StatusOK && stopped.Status != http.StatusAccepted || stopped.ContactID != first.ContactID {
		t.Fatalf("stop: %+v", stopped)
	}
	if st := eng1.Owned("1234567")[0].State; !st.Terminal() && st != api.StateStopping && st != api.StateFinalizing {
		t.Errorf("after stop: %s", st)
	}
	if again := api1.stop(t, "1234567", first.ContactID); again.Status != http.StatusNotFound {
		t.Errorf("second stop: %+v, want 404", again)
	}
	if nobody := api1.start(t, "5555555", 60); nobody.Status != http.StatusNotFound {
		t.Errorf("start of a user present nowhere: %+v, want 404", nobody)
	}

	// The index holds the recording, with the fleet's contact id.
	waitFor(t, "index", 10*time.Second, func() (bool, string) {
		recs, err := ctrl.Recordings(ctx, "1234567")
		return err == nil && len(recs) == 1 && recs[0].ContactID == first.ContactID && recs[0].Machine == "desk-1", fmt.Sprint(recs, err)
	})
}

// A machine whose presence is fresh but which does not answer is a 504 within the engine
// timeout.
func TestStartOnAnUnreachableMachineAnswers504(t *testing.T) {
	srv := startServer(t, controller.ServerConfig{})
	url := srv.ClientURL()
	ctrl := openController(t, url, controller.Options{})
	// A machine that heartbeats but serves no requests (its agent's subscription is gone).
	nc := connect(t, url)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			b := fmt.Appendf(nil, `{"version":1,"machine":"ghost","users":[{"user":"42","display":":9","since":%q}]}`, time.Now().UTC().Format(time.RFC3339Nano))
			_ = nc.Publish(fleet.HeartbeatSubject("ghost"), b)
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	waitPresent(t, ctrl, "42")
	a := serveCloud(t, ctrl, "1s")
	began := time.Now()
	got := a.start(t, "42", 60)
	took := time.Since(began)
	if got.Status != http.StatusGatewayTimeout {
		t.Errorf("start on an unreachable machine: %+v, want 504", got)
	}
	if took > 5*time.Second {
		t.Errorf("the 504 took %s with engine_timeout 1s", took)
	}
	// The lock was released: the next try is again a 504, not a 425.
	if got := a.start(t, "42", 60); got.Status != http.StatusGatewayTimeout {
		t.Errorf("second start: %+v, want 504", got)
	}
}

// 50 concurrent starts of one user through two controller replicas make exactly one
// recording; every answer is 200/202 with its contact id, or 425.
func TestConcurrentStartsThroughTwoReplicas(t *testing.T) {
	srv := startServer(t, controller.ServerConfig{})
	url := srv.ClientURL()
	c1 := openController(t, url, controller.Options{})
	c2 := openController(t, url, controller.Options{})
	eng := fakeEngine(t)
	eng.Set(func(e *sdktest.FakeEngine) { e.SlowOpen = 300 * time.Millisecond })
	startAgent(t, []string{url}, "desk-1", eng, []user{{"1234567", ":11"}}, nil)
	waitPresent(t, c1, "1234567")
	waitPresent(t, c2, "1234567")
	apis := []*cloudAPI{serveCloud(t, c1, "5s"), serveCloud(t, c2, "5s")}

	var wg sync.WaitGroup
	answers := make([]answer, 50)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = apis[i%2].start(t, "1234567", 600)
		}()
	}
	wg.Wait()
	sessions := eng.Owned("1234567")
	if len(sessions) != 1 {
		t.Fatalf("%d recordings, want 1", len(sessions))
	}
	var contact int64
	counts := map[int]int{}
	for _, a := range answers {
		counts[a.Status]++
		switch {
		case okStart(a):
			if contact == 0 {
				contact = a.ContactID
			}
			if a.ContactID != contact {
				t.Errorf("answers with contact ids %d and %d", contact, a.ContactID)
			}
		case a.Status == http.StatusTooEarly:
		default:
			t.Errorf("answer %+v", a)
		}
	}
	if counts[http.StatusOK]+counts[http.StatusAccepted] == 0 {
		t.Errorf("no start succeeded: %v", counts)
	}
	if got := sessions[0].Labels[fleet.LabelContactID]; got != strconv.FormatInt(contact, 10) {
		t.Errorf("recording has contact %s, answers %d", got, contact)
	}
	t.Logf("answers by status: %v", counts)
}

// Contact ids are unique and increasing across replicas and across a restart of NATS.
func TestContactIDsUniqueAcrossReplicasAndRestarts(t *testing.T) {
	store := t.TempDir()
	srv := startServer(t, controller.ServerConfig{StoreDir: store})
	url := srv.ClientURL()
	replicas := []*controller.Controller{openController(t, url, controller.Options{}), openController(t, url, controller.Options{})}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var ids []int64
	alloc := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := replicas[i%2].NextContactID(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	alloc(40)
	before := slices.Max(ids)
	addr := srv.Addr().String()
	srv.Shutdown()
	srv.WaitForShutdown()
	srv2 := startServer(t, controller.ServerConfig{StoreDir: store, Listen: addr})
	_ = srv2
	alloc(40)
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != 80 {
		t.Errorf("duplicate contact ids: %v", ids)
	}
	after := ids[len(ids)-1]
	if after <= before || ids[0] != controller.DefaultContactIDBase {
		t.Errorf("ids from %d, max before restart %d, after %d", ids[0], before, after)
	}
}

// Losing the NATS connection never stops a recording; the presence heals after NATS comes
// back and the recording can be stopped through the fleet.
func TestRecordingSurvivesNATSRestartAndPresenceHeals(t *testing.T) {
	store := t.TempDir()
	srv := startServer(t, controller.ServerConfig{StoreDir: store})
	url := srv.ClientURL()
	addr := srv.Addr().String()
	ctrl := openController(t, url, controller.Options{PresenceTTL: 2 * time.Second})
	eng := fakeEngine(t)
	startAgent(t, []string{url}, "desk-1", eng, []user{{"1234567", ":11"}}, nil)
	waitPresent(t, ctrl, "1234567")
	a := serveCloud(t, ctrl, "5s")
	got := a.start(t, "1234567", 600)
	if !okStart(got) {
		t.Fatalf("start: %+v", got)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	// NATS is down: the recording goes on.
	time.Sleep(500 * time.Millisecond)
	if s := eng.Owned("1234567"); len(s) != 1 || s[0].State != api.StateRecording {
		t.Fatalf("while NATS is down: %+v", s)
	}
	startServer(t, controller.ServerConfig{StoreDir: store, Listen: addr})
	waitPresent(t, ctrl, "1234567")
	if s := eng.Owned("1234567"); s[0].State != api.StateRecording {
		t.Fatalf("after NATS came back: %s", s[0].State)
	}
	if again := a.start(t, "1234567", 600); again.Status != http.StatusOK || again.ContactID != got.ContactID {
		t.Errorf("repeat start after the outage: %+v, want 200 with %d", again, got.ContactID)
	}
	if stopped := a.stop(t, "1234567", got.ContactID); stopped.Status != http.StatusOK && stopped.Status != http.StatusAccepted {
		t.Errorf("stop after the outage: %+v", stopped)
	}
}

// Lock is a compare-and-set across replicas: held by one, refused by the other with ErrBusy.
func TestLockAcrossReplicas(t *testing.T) {
	srv := startServer(t, controller.ServerConfig{})
	c1 := openController(t, srv.ClientURL(), controller.Options{})
	c2 := openController(t, srv.ClientURL(), controller.Options{})
	ctx := context.Background()
	unlock, err := c1.Lock(ctx, "user with spaces/ü")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Lock(ctx, "user with spaces/ü"); !errors.Is(err, api.ErrBusy) {
		t.Errorf("second lock: %v, want ErrBusy", err)
	}
	unlock()
	unlock2, err := c2.Lock(ctx, "user with spaces/ü")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

// A user logged in through SRS on a machine (the srs front end records them from login to
// logout) is present there: the cloud API records them beside the SRS recording, on the
// login's display; after logout they are present nowhere.
func TestSRSLoginIsPresence(t *testing.T) {
	srv := startServer(t, controller.ServerConfig{})
	url := srv.ClientURL()
	ctrl := openController(t, url, controller.Options{})
	eng := fakeEngine(t)
	startAgent(t, []string{url}, "desk-1", eng, nil, nil)
	login := eng.Add(api.StartRequest{Owner: "agent7", Frontend: "srs", Source: api.Source{Display: ":5"}}, api.StateRecording)
	waitPresent(t, ctrl, "agent7")
	a := serveCloud(t, ctrl, "5s")
	got := a.start(t, "agent7", 60)
	if !okStart(got) {
		t.Fatalf("start of a user logged in through SRS: %+v", got)
	}
	var cloudRec *api.Session
	for _, s := range eng.Owned("agent7") {
		if s.Frontend == "cloud" {
			cloudRec = &s
		}
	}
	if cloudRec == nil || cloudRec.Source.Display != ":5" {
		t.Fatalf("cloud recording beside the SRS one: %+v", eng.Owned("agent7"))
	}
	eng.SetState(login.ID, api.StateCompleted) // logout
	eng.SetState(cloudRec.ID, api.StateCompleted)
	waitFor(t, "agent7 gone", 30*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := ctrl.Locate(ctx, "agent7")
		return errors.Is(err, api.ErrNotFound), fmt.Sprint(err)
	})
	if got := a.start(t, "agent7", 60); got.Status != http.StatusNotFound {
		t.Errorf("start after logout: %+v, want 404", got)
	}
}

// A replica that dies holding a user's lock does not lock the user out: the lock ages out
// after the lock TTL.
func TestLockOfADeadReplicaAgesOut(t *testing.T) {
	srv := startServer(t, controller.ServerConfig{})
	c1 := openController(t, srv.ClientURL(), controller.Options{LockTTL: 2 * time.Second})
	c2 := openController(t, srv.ClientURL(), controller.Options{LockTTL: 2 * time.Second})
	if _, err := c1.Lock(context.Background(), "1234567"); err != nil { // never released
		t.Fatal(err)
	}
	c1.Close()
	if _, err := c2.Lock(context.Background(), "1234567"); !errors.Is(err, api.ErrBusy) {
		t.Fatalf("lock held by the dead replica: %v, want ErrBusy", err)
	}
	waitFor(t, "the lock aged out", 30*time.Second, func() (bool, string) {
		unlock, err := c2.Lock(context.Background(), "1234567")
		if err == nil {
			unlock()
		}
		return err == nil, fmt.Sprint(err)
	})
}
