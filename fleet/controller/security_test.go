package controller_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/fleet/controller"
	"github.com/screenrec/recorder/pkg/fleet"
)

// asyncErrs collects a connection's asynchronous errors (permission violations).
type asyncErrs struct {
	mu   sync.Mutex
	errs []string
}

func (a *asyncErrs) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err.Error())
	a.mu.Unlock()
}

func (a *asyncErrs) has(sub string) (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.errs {
		if strings.Contains(e, sub) {
			return true, ""
		}
	}
	return false, strings.Join(a.errs, "; ")
}

// Each agent's NATS user is confined to its own machine's subjects: it can neither speak as
// another machine nor read another machine's requests or replies; the fleet works for it.
func TestAgentCannotActAsAnotherMachine(t *testing.T) {
	srv := startServer(t, controller.ServerConfig{ControllerUser: "ctl", ControllerPassword: "ctl-pass",
		Agents: []controller.Agent{{Machine: "desk-1", User: "desk-1", Password: "pw-1"}, {Machine: "desk-2", User: "desk-2", Password: "pw-2"}}})
	url := srv.ClientURL()
	ctrl := openController(t, url, controller.Options{}, nats.UserInfo("ctl", "ctl-pass"))

	// Legitimate agents work with their credentials.
	eng1, eng2 := fakeEngine(t), fakeEngine(t)
	startAgent(t, []string{url}, "desk-1", eng1, []user{{"1234567", ":11"}}, map[string]any{"user": "desk-1", "password": "pw-1"})
	startAgent(t, []string{url}, "desk-2", eng2, []user{{"7654321", ":12"}}, map[string]any{"user": "desk-2", "password": "pw-2"})
	waitPresent(t, ctrl, "1234567")
	waitPresent(t, ctrl, "7654321")
	a := serveCloud(t, ctrl, "5s")
	if got := a.start(t, "7654321", 60); !okStart(got) {
		t.Fatalf("start through the permitted agent: %+v", got)
	}

	// desk-1's credentials, used by an attacker.
	var errs asyncErrs
	evil := connect(t, url, nats.UserInfo("desk-1", "pw-1"), nats.ErrorHandler(errs.handler), nats.CustomInboxPrefix(fleet.InboxPrefix("desk-1")))
	// Claiming desk-2's users by heartbeating as desk-2.
	_ = evil.Publish(fleet.HeartbeatSubject("desk-2"), []byte(`{"users":[{"user":"victim"}]}`))
	// Reading desk-2's requests, everyone's inboxes, and the controller's traffic.
	for _, subj := range []string{fleet.RPCSubject("desk-2", "start"), fleet.MachineSubject("desk-2") + ".>", "_INBOX.>", fleet.Prefix + ".>", "$JS.API.>"} {
		if _, err := evil.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
	}
	// Calling desk-2 directly, as the controller would.
	_ = evil.Publish(fleet.RPCSubject("desk-2", "stop"), []byte(`{"id":"rec-1"}`))
	// Writing the fleet's state directly.
	_ = evil.Publish("$KV."+controller.BucketUsers+".victim", []byte(`{"machine":"desk-1"}`))
	_ = evil.Flush()
	for _, want := range []string{
		`Publish to "` + fleet.HeartbeatSubject("desk-2") + `"`,
		`Subscription to "` + fleet.RPCSubject("desk-2", "start") + `"`,
		`Subscription to "` + fleet.MachineSubject("desk-2") + `.>"`,
		`Subscription to "_INBOX.>"`,
		`Subscription to "` + fleet.Prefix + `.>"`,
		`Subscription to "$JS.API.>"`,
		`Publish to "` + fleet.RPCSubject("desk-2", "stop") + `"`,
		`Publish to "$KV.` + controller.BucketUsers + `.victim"`,
	} {
		waitFor(t, "permissions violation "+want, 10*time.Second, func() (bool, string) { return errs.has(want) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ctrl.Locate(ctx, "victim"); err == nil {
		t.Error("the forged heartbeat made victim present")
	}
	if s := eng2.Owned("7654321"); len(s) != 1 || s[0].State.Terminal() {
		t.Errorf("desk-2's recording after the forged stop: %+v", s)
	}
	// Its own subjects still work for it: a heartbeat as desk-1.
	if err := evil.Publish(fleet.HeartbeatSubject("desk-1"), []byte(`{"users":[]}`)); err != nil {
		t.Error(err)
	}
	// Wrong password: refused outright.
	if nc, err := nats.Connect(url, nats.UserInfo("desk-2", "pw-1")); err == nil {
		nc.Close()
		t.Error("desk-2 connected with desk-1's password")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(err.Error(), "Authorization") {
		t.Errorf("wrong password: %v", err)
	}
}
