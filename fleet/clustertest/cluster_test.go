// Package clustertest runs the fleet on a three-node NATS cluster of real nats-server
// processes (built from the pinned module), with nodes and controller replicas killed
// mid-run.
package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/fleet/controller"
	fleetfe "github.com/screenrec/recorder/frontends/fleet"
	"github.com/screenrec/recorder/internal/testbin"
	"github.com/screenrec/recorder/internal/waittest"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

var natsServerBin string

func TestMain(m *testing.M) {
	testbin.Main(m, func(dir string) { natsServerBin = filepath.Join(dir, "nats-server") },
		testbin.Binary{Name: "nats-server", Package: "github.com/nats-io/nats-server/v2", NoCgo: true})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// node is one nats-server process of the cluster.
type node struct {
	name, conf, url string
	cmd             *exec.Cmd
	log             string
}

func (n *node) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(natsServerBin, "-c", n.conf)
	cmd.Env = append(os.Environ(), "CONTROLLER_PASSWORD=ctl-pass")
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	n.cmd = cmd
	// Ready when it accepts a client.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(n.url, "nats://"), time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(n.log)
	t.Fatalf("%s not listening: %s", n.name, b)
}

func (n *node) kill() {
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		_, _ = n.cmd.Process.Wait()
		n.cmd = nil
	}
}

// startCluster starts three nodes whose authorization is controller.AuthConfig's.
func startCluster(t *testing.T, agents []controller.Agent) []*node {
	t.Helper()
	auth, err := controller.AuthConfig("ctl", "CONTROLLER_PASSWORD", agents)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ports, routes := make([]int, 3), make([]int, 3)
	for i := range 3 {
		ports[i], routes[i] = freePort(t), freePort(t)
	}
	var nodes []*node
	for i := range 3 {
		var rs []string
		for j := range 3 {
			if j != i {
				rs = append(rs, fmt.Sprintf("nats-route://127.0.0.1:%d", routes[j]))
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		conf := filepath.Join(dir, name+".conf")
		body := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q }\ncluster { name: fleet, listen: 127.0.0.1:%d, routes: [%s] }\n%s",
			name, ports[i], filepath.Join(dir, name), routes[i], strings.Join(rs, ", "), auth)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &node{name: name, conf: conf, url: fmt.Sprintf("nats://127.0.0.1:%d", ports[i]), log: filepath.Join(dir, name+".log")})
	}
	for _, n := range nodes {
		n.start(t)
		t.Cleanup(n.kill)
	}
	return nodes
}

func urls(nodes []*node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.url)
	}
	return out
}

// openReplica opens a controller replica on the cluster, waiting for JetStream to elect its
// leaders.
func openReplica(t *testing.T, nodes []*node) (*controller.Controller, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls(nodes), ","), nats.UserInfo("ctl", "ctl-pass"), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := controller.Open(ctx, nc, controller.Options{Replicas: 3, PresenceTTL: 3 * time.Second})
		cancel()
		if err == nil {
			t.Cleanup(c.Close)
			return c, nc
		}
		if time.Now().After(deadline) {
			t.Fatalf("controller on the cluster: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or d passes (waittest.Until).
func waitFor(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	waittest.Until(t, what, d, cond)
}

func present(c *controller.Controller, user string) func() (bool, string) {
	return func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.Locate(ctx, user)
		return err == nil, fmt.Sprint(err)
	}
}

// On a three-node cluster: the NATS node an agent uses is killed mid-recording (the
// recording goes on, the presence heals when it is back), another node is killed (the fleet
// goes on with two), a controller replica is killed (the other serves): no recording stops,
// no start is lost or doubled, contact ids stay unique.
func TestClusterNodeAndReplicaFailures(t *testing.T) {
	nodes := startCluster(t, []controller.Agent{{Machine: "desk-1", User: "desk-1", Password: "pw-1"},
		{Machine: "desk-2", User: "desk-2", Password: "pw-2"}})
	c1, _ := openReplica(t, nodes)
	c2, _ := openReplica(t, nodes)

	// desk-1 uses node 1 only; desk-2 may use any.
	eng1, eng2 := sdktest.NewFakeEngine(), sdktest.NewFakeEngine()
	t.Cleanup(eng1.Close)
	t.Cleanup(eng2.Close)
	agent := func(machine string, us []string, eng *sdktest.FakeEngine, user string) {
		raw, _ := json.Marshal(map[string]any{"urls": us, "machine": machine, "user": machine, "password": "pw-" + machine[len(machine)-1:],
			"heartbeat": "200ms", "reconnect_wait": "100ms", "users": []any{map[string]any{"id": user, "display": ":1"}}})
		f := fleetfe.New()
		if diags, err := f.Configure(context.Background(), raw); err != nil || len(diags) > 0 {
			t.Fatalf("%v %+v", err, diags)
		}
		if _, err := f.Serve(context.Background(), eng); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Stop(context.Background()) })
	}
	agent("desk-1", []string{nodes[0].url}, eng1, "u1")
	agent("desk-2", urls(nodes), eng2, "u2")
	waitFor(t, "u1 present", time.Minute, present(c1, "u1"))
	waitFor(t, "u2 present", time.Minute, present(c2, "u2"))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := func(c *controller.Controller, user string) api.Session {
		t.Helper()
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		s, err := c.Start(cctx, api.StartRequest{Owner: user, Frontend: "cloud", Limits: api.Limits{MaxDuration: time.Hour}})
		if err != nil {
			t.Fatalf("start %s: %v", user, err)
		}
		return s
	}
	contacts := map[int64]string{}
	note := func(s api.Session) {
		if o, dup := contacts[s.ContactID]; dup {
			t.Errorf("contact id %d given to %s and %s", s.ContactID, o, s.ID)
		}
		contacts[s.ContactID] = s.ID
	}
	s1 := start(c1, "u1")
	note(s1)

	// The node desk-1 uses dies: the recording goes on; desk-1 is unreachable meanwhile.
	nodes[0].kill()
	time.Sleep(time.Second)
	if s := eng1.Owned("u1"); len(s) != 1 || s[0].State != api.StateRecording {
		t.Fatalf("desk-1's recording with its NATS node dead: %+v", s)
	}
	// The rest of the fleet works meanwhile, once the cluster has settled without the node
	// (desk-2 may have been on it too, and the presence bucket may be electing a leader).
	waitFor(t, "u2 present with a node dead", time.Minute, present(c2, "u2"))
	s2 := start(c2, "u2")
	note(s2)
	nodes[0].start(t)
	waitFor(t, "u1 present again", time.Minute, present(c2, "u1"))
	if s := eng1.Owned("u1"); len(s) != 1 || s[0].State != api.StateRecording {
		t.Fatalf("desk-1's recording after its node came back: %+v", s)
	}
	// A repeat start finds the same recording: nothing doubled.
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	_, err := c2.Start(cctx, api.StartRequest{Owner: "u1", Frontend: "cloud"})
	ccancel()
	if are := (*api.AlreadyRecordingError)(nil); !asAlready(err, &are) || are.Session.ContactID != s1.ContactID {
		t.Errorf("repeat start after the outage: %v", err)
	}

	// Another node dies for good, and so does one controller replica.
	nodes[2].kill()
	c1.Close()
	cctx, ccancel = context.WithTimeout(ctx, 30*time.Second)
	if _, err := c2.Stop(cctx, s2.ID); err != nil {
		t.Errorf("stop on two nodes: %v", err)
	}
	ccancel()
	// A heartbeat written while the buckets' leaders were being elected may be lost: the
	// presence heals with the next ones.
	waitFor(t, "u2 present on two nodes", time.Minute, present(c2, "u2"))
	s3 := start(c2, "u2")
	note(s3)
	if s3.ContactID <= s2.ContactID {
		t.Errorf("contact ids not increasing: %d then %d", s2.ContactID, s3.ContactID)
	}
	if s := eng1.Owned("u1"); len(s) != 1 || s[0].State != api.StateRecording {
		t.Errorf("desk-1's recording at the end: %+v", s)
	}
	if n := len(eng2.Owned("u2")); n != 2 {
		t.Errorf("desk-2 has %d recordings, want 2", n)
	}
}

func asAlready(err error, target **api.AlreadyRecordingError) bool {
	return errors.As(err, target)
}
