// Command fleetbench measures the fleet controller (fleet/controller) with simulated agents:
// goroutines speaking the fleet protocol over their own NATS connections, with no capture.
// A child process runs the controller with its embedded NATS server and the cloud API; the
// parent connects agents in steps, measures the child's CPU and memory at each step against
// the child idle with no agents (the baseline, same run), then drives cloud API starts at a
// fixed rate and measures start→answer latency. It writes fleet.json and fleet.md.
//
//	go run ./benchmarks/fleetbench -steps 1000,2500,5000 -rate 50 -out benchmarks/results
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/fleet/controller"
	"github.com/screenrec/recorder/frontends/cloud"
	"github.com/screenrec/recorder/pkg/fleet"
)

const (
	accessKey    = "bench"
	accessSecret = "bench-secret-0123456789abcdef0123456789abcdef"
	signingKey   = "bench-signing-key-0123456789abcdef0123456789abcdef"
)

type config struct {
	Steps     []int         `json:"steps"`
	Heartbeat time.Duration `json:"heartbeat"`
	Window    time.Duration `json:"window"`
	Rate      int           `json:"starts_per_second"`
	StartFor  time.Duration `json:"start_duration"`
	Out       string        `json:"-"`
}

func main() {
	child := flag.String("child", "", "internal: run the controller (with this data dir)")
	var c config
	steps := flag.String("steps", "1000,2500,5000", "agents connected at each step (ascending)")
	flag.DurationVar(&c.Heartbeat, "heartbeat", 5*time.Second, "agents' heartbeat interval (the fleet front end's default)")
	flag.DurationVar(&c.Window, "window", 10*time.Second, "CPU measurement window at each step")
	flag.IntVar(&c.Rate, "rate", 50, "cloud API starts per second in the latency run")
	flag.DurationVar(&c.StartFor, "start-for", 10*time.Second, "length of the latency run")
	flag.StringVar(&c.Out, "out", "benchmarks/results", "results folder")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child); err != nil {
			fmt.Fprintln(os.Stderr, "fleetbench child:", err)
			os.Exit(1)
		}
		return
	}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "fleetbench: -steps: %q is not a positive number\n", s)
			os.Exit(2)
		}
		c.Steps = append(c.Steps, n)
	}
	slices.Sort(c.Steps)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
}

// runChild is the controller under test: embedded NATS with JetStream, the controller, the
// cloud API. It prints "nats URL" and "cloud URL" and runs until stdin closes.
func runChild(dir string) error {
	srv, err := controller.NewServer(controller.ServerConfig{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		return err
	}
	ctx := context.Background()
	ctrl, err := controller.Open(ctx, nc, controller.Options{})
	if err != nil {
		return err
	}
	defer ctrl.Close()
	fe := cloud.NewWithDirectory(ctrl)
	raw, _ := json.Marshal(map[string]any{"listen": "127.0.0.1:0",
		"access_keys":  []any{map[string]any{"id": accessKey, "secret_sha256": cloud.HashSecret(accessSecret), "permissions": []any{cloud.PermissionRecordScreenInteraction}}},
		"signing_keys": []any{map[string]any{"id": "a", "key": signingKey}}, "confirm_window": "0s"})
	if diags, err := fe.Configure(ctx, raw); err != nil || len(diags) > 0 {
		return fmt.Errorf("cloud config: %v %+v", err, diags)
	}
	eps, err := fe.Serve(ctx, ctrl)
	if err != nil {
		return err
	}
	fmt.Printf("nats %s\ncloud %s\n", srv.ClientURL(), eps[0].URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return fe.Stop(ctx)
}

// usage is a process's CPU time and resident memory, from /proc.
type usage struct {
	cpu time.Duration
	rss int64
}

func procUsage(pid int) (usage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return usage{}, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	var u usage
	u.cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			u.rss = kb * 1024
		}
	}
	return u, nil
}

// measure returns the child's CPU use (cores) over w and its memory at the end.
func measure(ctx context.Context, pid int, w time.Duration) (float64, int64, error) {
	a, err := procUsage(pid)
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-time.After(w):
	}
	b, err := procUsage(pid)
	return float64(b.cpu-a.cpu) / float64(time.Since(t0)), b.rss, err
}

// agent is a simulated machine: one NATS connection, heartbeats with one user present, and
// answers to start/stop/get/list/mask as an engine would, without recording anything.
type agent struct {
	machine, user string
	nc            *nats.Conn
	mu            sync.Mutex
	session       *api.Session
}

func (a *agent) serve(m *nats.Msg) {
	op := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	var req fleet.Request
	_ = json.Unmarshal(m.Data, &req)
	a.mu.Lock()
	var rep fleet.Reply
	switch op {
	case fleet.OpStart:
		if a.session != nil && !a.session.State.Terminal() {
			rep.Error = fleet.ErrorOf(&api.AlreadyRecordingError{Session: *a.session})
			break
		}
		now := time.Now()
		s := api.Session{ID: "rec-" + a.machine, ContactID: 1, InteractionID: a.machine, Owner: req.Start.Owner, Frontend: req.Start.Frontend,
			State: api.StateRecording, Labels: req.Start.Labels, CreatedAt: now, StartedAt: now, Duration: time.Millisecond}
		a.session = &s
		rep.Session = &s
	case fleet.OpGet, fleet.OpStop:
		if a.session == nil {
			rep.Error = fleet.ErrorOf(api.ErrNotFound)
			break
		}
		if op == fleet.OpStop {
			a.session.State = api.StateCompleted
		}
		s := *a.session
		rep.Session = &s
	default:
		rep.Sessions = []api.Session{}
		if a.session != nil {
			rep.Sessions = append(rep.Sessions, *a.session)
		}
	}
	a.mu.Unlock()
	b, _ := json.Marshal(rep)
	_ = m.Respond(b)
}

func (a *agent) heartbeat(seq int64, started time.Time, every time.Duration) {
	hb := fleet.Heartbeat{Version: fleet.Version, Machine: a.machine, Seq: seq, PresenceRev: 1,
		Users: []fleet.Presence{{User: a.user, Display: ":0", Since: started, Source: "static"}}, Started: started, Interval: every, Sent: time.Now()}
	b, _ := json.Marshal(hb)
	_ = a.nc.Publish(fleet.HeartbeatSubject(a.machine), b)
}

type step struct {
	Agents    int     `json:"agents"`
	Connected int     `json:"connected"`
	Present   int     `json:"present"`
	CPU       float64 `json:"cpu_cores"`
	RSS       int64   `json:"rss_bytes"`
	// Per1000 are CPU and memory above the idle baseline, per 1,000 agents.
	CPUPer1000 float64 `json:"cpu_cores_per_1000"`
	RSSPer1000 int64   `json:"rss_bytes_per_1000"`
}

type result struct {
	Config     config         `json:"config"`
	Baseline   step           `json:"baseline"`
	Steps      []step         `json:"steps"`
	Starts     int            `json:"starts"`
	Statuses   map[string]int `json:"statuses"`
	P50, P99   time.Duration  `json:"-"`
	P50ms      float64        `json:"start_p50_ms"`
	P99ms      float64        `json:"start_p99_ms"`
	Goal       int            `json:"goal_agents"`
	GoalPassed bool           `json:"goal_passed"`
}

func run(ctx context.Context, c config) error {
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "fleetbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "-child", dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var natsURL, cloudURL string
	for (natsURL == "" || cloudURL == "") && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "nats "); ok {
			natsURL = v
		}
		if v, ok := strings.CutPrefix(sc.Text(), "cloud "); ok {
			cloudURL = v
		}
	}
	if cloudURL == "" {
		return fmt.Errorf("the controller child did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	pid := cmd.Process.Pid
	res := result{Config: c, Statuses: map[string]int{}, Goal: 5000}
	fmt.Printf("controller pid %d, NATS %s, cloud API %s\n", pid, natsURL, cloudURL)
	cpu, rss, err := measure(ctx, pid, c.Window)
	if err != nil {
		return err
	}
	res.Baseline = step{CPU: cpu, RSS: rss}
	fmt.Printf("baseline (no agents): %.3f cores, %.1f MiB\n", cpu, float64(rss)/(1<<20))

	// A separate connection watches presence through the controller's own bucket.
	obs, err := nats.Connect(natsURL)
	if err != nil {
		return err
	}
	defer obs.Close()
	var agents []*agent
	var connected atomic.Int64
	actx, stopAgents := context.WithCancel(ctx)
	defer stopAgents()
	var wg sync.WaitGroup
	started := time.Now()
	for _, target := range c.Steps {
		for i := len(agents); i < target; i++ {
			a := &agent{machine: fmt.Sprintf("sim-%05d", i), user: fmt.Sprintf("u%05d", i)}
			nc, err := nats.Connect(natsURL, nats.Name(a.machine), nats.MaxReconnects(-1), nats.CustomInboxPrefix(fleet.InboxPrefix(a.machine)))
			if err != nil {
				return fmt.Errorf("agent %d: %w", i, err)
			}
			a.nc = nc
			if _, err := nc.Subscribe(fleet.MachineSubject(a.machine)+".rpc.*", a.serve); err != nil {
				return err
			}
			connected.Add(1)
			agents = append(agents, a)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				// Spread the first heartbeats over one interval, as machines booting at random.
				phase := time.Duration(i%997) * c.Heartbeat / 997
				select {
				case <-actx.Done():
					return
				case <-time.After(phase):
				}
				t := time.NewTicker(c.Heartbeat)
				defer t.Stop()
				for seq := int64(1); ; seq++ {
					a.heartbeat(seq, started, c.Heartbeat)
					select {
					case <-actx.Done():
						return
					case <-t.C:
					}
				}
			}()
		}
		present, err := waitPresent(ctx, obs, target, 2*c.Heartbeat+30*time.Second)
		if err != nil {
			return err
		}
		cpu, rss, err := measure(ctx, pid, c.Window)
		if err != nil {
			return err
		}
		st := step{Agents: target, Connected: int(connected.Load()), Present: present, CPU: cpu, RSS: rss,
			CPUPer1000: (cpu - res.Baseline.CPU) * 1000 / float64(target), RSSPer1000: (rss - res.Baseline.RSS) * 1000 / int64(target)}
		res.Steps = append(res.Steps, st)
		fmt.Printf("%d agents: %d present, %.3f cores (%.3f per 1000 above idle), %.1f MiB (%.1f MiB per 1000 above idle)\n",
			target, present, cpu, st.CPUPer1000, float64(rss)/(1<<20), float64(st.RSSPer1000)/(1<<20))
	}
	last := res.Steps[len(res.Steps)-1]
	res.GoalPassed = last.Present >= res.Goal

	// Starts at a fixed rate, each for another user, through the cloud API.
	tok, err := token(cloudURL)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var lat []time.Duration
	n := int(c.StartFor.Seconds()) * c.Rate
	tick := time.NewTicker(time.Second / time.Duration(c.Rate))
	var swg sync.WaitGroup
	for i := range n {
		<-tick.C
		swg.Add(1)
		go func() {
			defer swg.Done()
			user := agents[(i*7919)%len(agents)].user
			t0 := time.Now()
			status := startOnce(cloudURL, tok, user)
			d := time.Since(t0)
			mu.Lock()
			lat = append(lat, d)
			res.Statuses[status]++
			mu.Unlock()
		}()
	}
	tick.Stop()
	swg.Wait()
	slices.Sort(lat)
	res.Starts = len(lat)
	res.P50, res.P99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	res.P50ms, res.P99ms = float64(res.P50.Microseconds())/1000, float64(res.P99.Microseconds())/1000
	fmt.Printf("%d starts at %d/s with %d agents: p50 %.1f ms, p99 %.1f ms, statuses %v\n", res.Starts, c.Rate, last.Agents, res.P50ms, res.P99ms, res.Statuses)
	stopAgents()
	wg.Wait()
	return write(c.Out, res)
}

// waitPresent waits until want machines are in the controller's presence bucket.
func waitPresent(ctx context.Context, nc *nats.Conn, want int, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	last := 0
	for time.Now().Before(deadline) {
		b, err := nc.Request("$JS.API.STREAM.INFO.KV_"+controller.BucketMachines, nil, 5*time.Second)
		if err == nil {
			var info struct {
				State struct {
					Subjects int `json:"num_subjects"`
				} `json:"state"`
			}
			if json.Unmarshal(b.Data, &info) == nil {
				last = info.State.Subjects
				if last >= want {
					return last, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return last, nil
}

func token(base string) (string, error) {
	body := fmt.Sprintf(`{"accessKeyId":%q,"accessKeySecret":%q}`, accessKey, accessSecret)
	resp, err := http.Post(base+cloud.PathToken, "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

func startOnce(base, tok, user string) string {
	req, _ := http.NewRequest(http.MethodPost, base+cloud.PathStart+"?recordingDuration=600&userId="+user, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

func write(out string, res result) error {
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "fleet.json"), b, 0o644); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Fleet controller: simulated agents\n\nOne controller (embedded NATS with JetStream, cloud API) in its own process; agents are goroutines with one NATS connection each, heartbeating every %s with one user present. Baseline: the same controller with no agents, measured in the same run.\n\n", res.Config.Heartbeat)
	fmt.Fprintf(&md, "| agents | present | controller CPU (cores) | RSS (MiB) | CPU per 1,000 above idle | RSS per 1,000 above idle (MiB) |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(&md, "| 0 (baseline) | 0 | %.3f | %.1f | | |\n", res.Baseline.CPU, float64(res.Baseline.RSS)/(1<<20))
	for _, s := range res.Steps {
		fmt.Fprintf(&md, "| %d | %d | %.3f | %.1f | %.3f | %.1f |\n", s.Agents, s.Present, s.CPU, float64(s.RSS)/(1<<20), s.CPUPer1000, float64(s.RSSPer1000)/(1<<20))
	}
	pass := "miss"
	if res.GoalPassed {
		pass = "pass"
	}
	fmt.Fprintf(&md, "\nGoal: ≥ %d agents connected and heartbeating: **%s**.\n\n", res.Goal, pass)
	fmt.Fprintf(&md, "Start→answer latency through the cloud API, %d starts at %d/s (each for another user): p50 %.1f ms, p99 %.1f ms; statuses %v.\n",
		res.Starts, res.Config.Rate, res.P50ms, res.P99ms, res.Statuses)
	return os.WriteFile(filepath.Join(out, "fleet.md"), []byte(md.String()), 0o644)
}
