package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var allStates = []State{
	StateIdle, StateStarting, StateRecording, StateMasked,
	StateStopping, StateFinalizing, StateCompleted, StateFailed,
}

// TestStateTransitionMatrix checks CanTransition for every (from, to) pair against the table
// written out by hand, so a change to the rules must change this table too.
func TestStateTransitionMatrix(t *testing.T) {
	const (
		o = false
		X = true
	)
	// Rows are from, columns to, in the order of allStates.
	legal := map[State][8]bool{
		//              idle starting recording masked stopping finalizing completed failed
		StateIdle:       {o, X, o, o, o, o, o, X},
		StateStarting:   {o, o, X, X, o, o, o, X},
		StateRecording:  {o, o, o, X, X, o, o, X},
		StateMasked:     {o, o, X, o, X, o, o, X},
		StateStopping:   {o, o, o, o, o, X, o, X},
		StateFinalizing: {o, o, o, o, o, o, X, X},
		StateCompleted:  {o, o, o, o, o, o, o, o},
		StateFailed:     {o, o, o, o, o, o, o, o},
	}
	if len(legal) != len(allStates) {
		t.Fatalf("table has %d rows, want %d", len(legal), len(allStates))
	}
	for _, from := range allStates {
		for j, to := range allStates {
			if got, want := CanTransition(from, to), legal[from][j]; got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	// Values outside the enum are never legal.
	for _, s := range allStates {
		if CanTransition(State(42), s) || CanTransition(s, State(42)) {
			t.Errorf("CanTransition with an unknown state and %s = true", s)
		}
	}
	// Spelled out because the brief singles it out: a stop during start is not a move.
	if CanTransition(StateStarting, StateStopping) {
		t.Error("starting → stopping must be illegal")
	}
}

func TestStateStringParseRoundTrip(t *testing.T) {
	want := map[State]string{
		StateIdle: "idle", StateStarting: "starting", StateRecording: "recording",
		StateMasked: "masked", StateStopping: "stopping", StateFinalizing: "finalizing",
		StateCompleted: "completed", StateFailed: "failed",
	}
	for _, s := range allStates {
		if got := s.String(); got != want[s] {
			t.Errorf("State(%d).String() = %q, want %q", uint8(s), got, want[s])
		}
		back, err := ParseState(s.String())
		if err != nil || back != s {
			t.Errorf("ParseState(%q) = %v, %v; want %v, nil", s.String(), back, err, s)
		}
	}
	for _, bad := range []string{"", "Recording", "paused", " idle", "State(2)"} {
		if _, err := ParseState(bad); err == nil {
			t.Errorf("ParseState(%q) returned no error", bad)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("ParseState(%q) error %q does not name the input", bad, err)
		}
	}
	if got := State(200).String(); got != "State(200)" {
		t.Errorf("State(200).String() = %q", got)
	}
}

func TestStateTerminalRunning(t *testing.T) {
	for _, s := range allStates {
		wantTerminal := s == StateCompleted || s == StateFailed
		wantRunning := s == StateRecording || s == StateMasked
		if s.Terminal() != wantTerminal {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
		if s.Running() != wantRunning {
			t.Errorf("%s.Running() = %v", s, s.Running())
		}
	}
}

func TestStateJSON(t *testing.T) {
	type doc struct {
		State State `json:"state"`
	}
	for _, s := range allStates {
		b, err := json.Marshal(doc{State: s})
		if err != nil {
			t.Fatalf("marshal %s: %v", s, err)
		}
		if want := `{"state":"` + s.String() + `"}`; string(b) != want {
			t.Errorf("marshal %s = %s, want %s", s, b, want)
		}
		var d doc
		if err := json.Unmarshal(b, &d); err != nil || d.State != s {
			t.Errorf("unmarshal %s = %v, %v", b, d.State, err)
		}
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"state":"paused"}`), &d); err == nil {
		t.Error("unmarshal of an unknown state name succeeded")
	}
	if err := json.Unmarshal([]byte(`{"state":2}`), &d); err == nil {
		t.Error("unmarshal of a number succeeded")
	}
	if _, err := json.Marshal(doc{State: State(99)}); err == nil {
		t.Error("marshal of an unknown state succeeded")
	}
}

// change is one notify call, as recorded by tests.
type change struct {
	from, to State
	reason   string
}

func (c change) String() string { return fmt.Sprintf("%s→%s(%q)", c.from, c.to, c.reason) }

// recorder collects notify calls; safe for concurrent use.
type recorder struct {
	mu      sync.Mutex
	changes []change
}

func (r *recorder) notify(from, to State, reason string) {
	r.mu.Lock()
	r.changes = append(r.changes, change{from, to, reason})
	r.mu.Unlock()
}

func (r *recorder) get() []change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]change(nil), r.changes...)
}

// within runs f on another goroutine and fails the test if f has not returned after d (a
// deadlock, typically). f reports with t.Error, never t.Fatal.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not finish within %v (deadlock?)", d)
	}
}

// driveTo moves a fresh machine along the normal path until it is in target.
func driveTo(t *testing.T, m *machine, target State) {
	t.Helper()
	path := []State{StateStarting, StateRecording, StateStopping, StateFinalizing, StateCompleted}
	if target == StateIdle {
		return
	}
	if target == StateMasked {
		path = []State{StateStarting, StateMasked}
	}
	if target == StateFailed {
		if err := m.fail("driven to failed"); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, s := range path {
		if err := m.transition(s, nil); err != nil {
			t.Fatalf("driving to %s: move to %s: %v", target, s, err)
		}
		if s == target {
			return
		}
	}
	t.Fatalf("driveTo: %s not on the path", target)
}

func TestMachineLegalPathNotifiesAfterUnlock(t *testing.T) {
	var (
		m       *machine
		got     []change
		inState []State // m.State() as seen from inside notify
		locked  int     // notify calls during which mu was held
	)
	m = newMachine(func(from, to State, reason string) {
		// Both would misbehave if notify ran under mu: State() would deadlock, TryLock fails.
		if !m.mu.TryLock() {
			locked++
		} else {
			m.mu.Unlock()
		}
		s, _ := m.State()
		inState = append(inState, s)
		got = append(got, change{from, to, reason})
	})
	if s, r := m.State(); s != StateIdle || r != "" {
		t.Fatalf("new machine: %s %q, want idle", s, r)
	}
	path := []State{StateStarting, StateRecording, StateMasked, StateRecording,
		StateStopping, StateFinalizing, StateCompleted}
	within(t, 5*time.Second, func() {
		for _, to := range path {
			ran := false
			if err := m.transition(to, func() error { ran = true; return nil }); err != nil {
				t.Errorf("move to %s: %v", to, err)
				return
			}
			if !ran {
				t.Errorf("move to %s: action did not run", to)
			}
		}
	})
	if locked != 0 {
		t.Errorf("notify ran with the lock held %d times", locked)
	}
	if len(got) != len(path) {
		t.Fatalf("notify called %d times, want %d: %v", len(got), len(path), got)
	}
	from := StateIdle
	for i, to := range path {
		if want := (change{from, to, ""}); got[i] != want {
			t.Errorf("notify #%d = %v, want %v", i, got[i], want)
		}
		if inState[i] != to {
			t.Errorf("notify #%d saw state %s, want the committed %s", i, inState[i], to)
		}
		from = to
	}
	if s, _ := m.State(); s != StateCompleted {
		t.Errorf("final state %s, want completed", s)
	}
	if m.changed.IsZero() {
		t.Error("changed not set on commit")
	}
}

func TestMachineActionErrorKeepsState(t *testing.T) {
	rec := &recorder{}
	m := newMachine(rec.notify)
	driveTo(t, m, StateStarting)
	boom := errors.New("boom")
	err := m.transition(StateRecording, func() error { return fmt.Errorf("open pipeline: %w", boom) })
	if !errors.Is(err, boom) {
		t.Fatalf("transition error = %v, want the action's error", err)
	}
	if s, _ := m.State(); s != StateStarting {
		t.Fatalf("state after failed action = %s, want starting", s)
	}
	if n := len(rec.get()); n != 1 { // only idle → starting
		t.Fatalf("notify called %d times, want 1: %v", n, rec.get())
	}
	// busy was cleared: the next attempt runs.
	if err := m.transition(StateRecording, func() error { return nil }); err != nil {
		t.Fatalf("retry after failed action: %v", err)
	}
}

func TestMachineIllegalTransition(t *testing.T) {
	m := newMachine(nil)
	err := m.transition(StateRecording, func() error {
		t.Error("action ran for an illegal move")
		return nil
	})
	if !errors.Is(err, ErrIllegalTransition) || !strings.Contains(err.Error(), "from idle to recording") {
		t.Fatalf("idle → recording: %v, want ErrIllegalTransition naming both states", err)
	}
	driveTo(t, m, StateStarting)
	if err := m.transition(StateStopping, nil); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("starting → stopping: %v, want ErrIllegalTransition", err)
	}
	if err := m.transition(StateStarting, nil); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("starting → starting: %v, want ErrIllegalTransition", err)
	}
}

func TestMachineBusyWhileActionRuns(t *testing.T) {
	rec := &recorder{}
	m := newMachine(rec.notify)
	driveTo(t, m, StateStarting)

	entered, release := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- m.transition(StateRecording, func() error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered

	within(t, 5*time.Second, func() {
		// State() does not wait for the action.
		if s, _ := m.State(); s != StateStarting {
			t.Errorf("state during the action = %s, want starting", s)
		}
		// Any other move, legal or not, is refused with ErrBusy while the action runs;
		// notably a stop during start.
		for _, to := range []State{StateStopping, StateMasked, StateRecording, StateCompleted} {
			if err := m.transition(to, nil); !errors.Is(err, ErrBusy) {
				t.Errorf("move to %s during a busy transition: %v, want ErrBusy", to, err)
			}
		}
	})
	close(release)
	if err := <-result; err != nil {
		t.Fatalf("blocked transition: %v", err)
	}
	if s, _ := m.State(); s != StateRecording {
		t.Fatalf("state = %s, want recording", s)
	}
	// Not busy any more.
	if err := m.transition(StateStopping, nil); err != nil {
		t.Fatalf("stop after start settled: %v", err)
	}
	want := []change{
		{StateIdle, StateStarting, ""},
		{StateStarting, StateRecording, ""},
		{StateRecording, StateStopping, ""},
	}
	if got := rec.get(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

func TestMachineFailWinsOverBusyAction(t *testing.T) {
	for _, actionErr := range []error{nil, errors.New("late error")} {
		t.Run(fmt.Sprintf("action returns %v", actionErr), func(t *testing.T) {
			rec := &recorder{}
			m := newMachine(rec.notify)
			driveTo(t, m, StateRecording)

			entered, release := make(chan struct{}), make(chan struct{})
			result := make(chan error, 1)
			go func() {
				result <- m.transition(StateStopping, func() error {
					close(entered)
					<-release
					return actionErr
				})
			}()
			<-entered
			within(t, 5*time.Second, func() {
				if err := m.fail("encoder died"); err != nil {
					t.Errorf("fail during a busy transition: %v", err)
				}
			})
			if s, r := m.State(); s != StateFailed || r != "encoder died" {
				t.Fatalf("after fail: %s %q, want failed \"encoder died\"", s, r)
			}
			close(release)
			err := <-result
			if actionErr == nil && !errors.Is(err, ErrTerminal) {
				t.Fatalf("overtaken transition returned %v, want ErrTerminal", err)
			}
			if actionErr != nil && !errors.Is(err, actionErr) {
				t.Fatalf("overtaken transition returned %v, want the action's error", err)
			}
			if s, r := m.State(); s != StateFailed || r != "encoder died" {
				t.Fatalf("the late action overwrote failed: %s %q", s, r)
			}
			want := []change{
				{StateIdle, StateStarting, ""},
				{StateStarting, StateRecording, ""},
				{StateRecording, StateFailed, "encoder died"},
			}
			if got := rec.get(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("notifications %v, want %v", got, want)
			}
		})
	}
}

func TestMachineTerminalRefusesMoves(t *testing.T) {
	for _, terminal := range []State{StateCompleted, StateFailed} {
		t.Run(terminal.String(), func(t *testing.T) {
			rec := &recorder{}
			m := newMachine(rec.notify)
			driveTo(t, m, terminal)
			_, reason := m.State()
			before := len(rec.get())
			for _, to := range allStates {
				err := m.transition(to, func() error {
					t.Errorf("action ran for a move from %s", terminal)
					return nil
				})
				if !errors.Is(err, ErrTerminal) {
					t.Errorf("%s → %s: %v, want ErrTerminal", terminal, to, err)
				} else if !strings.Contains(err.Error(), terminal.String()) {
					t.Errorf("%s → %s: error %q does not name the state", terminal, to, err)
				}
			}
			if err := m.fail("again"); !errors.Is(err, ErrTerminal) {
				t.Errorf("fail on %s: %v, want ErrTerminal", terminal, err)
			}
			if s, r := m.State(); s != terminal || r != reason {
				t.Errorf("state changed to %s %q", s, r)
			}
			if n := len(rec.get()); n != before {
				t.Errorf("notify called %d times on a terminal state", n-before)
			}
		})
	}
}

func TestMachineFailFromEveryNonTerminalState(t *testing.T) {
	for _, s := range allStates {
		if s.Terminal() {
			continue
		}
		rec := &recorder{}
		m := newMachine(rec.notify)
		driveTo(t, m, s)
		if err := m.fail("why"); err != nil {
			t.Errorf("fail from %s: %v", s, err)
			continue
		}
		got := rec.get()
		if last := got[len(got)-1]; last != (change{s, StateFailed, "why"}) {
			t.Errorf("fail from %s notified %v", s, last)
		}
	}
}

func TestMachineActionPanicClearsBusy(t *testing.T) {
	m := newMachine(nil)
	driveTo(t, m, StateStarting)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic was swallowed")
			}
		}()
		_ = m.transition(StateRecording, func() error { panic("action bug") })
	}()
	if s, _ := m.State(); s != StateStarting {
		t.Fatalf("state after a panicking action = %s", s)
	}
	if err := m.transition(StateRecording, nil); err != nil {
		t.Fatalf("machine left busy after a panicking action: %v", err)
	}
}

// TestMachineNotifyMayCallBack: notify runs outside the lock, so it may move the machine
// itself; the nested change is delivered after the current one, in order.
func TestMachineNotifyMayCallBack(t *testing.T) {
	var (
		m   *machine
		got []change
	)
	m = newMachine(func(from, to State, reason string) {
		got = append(got, change{from, to, reason})
		if to == StateRecording {
			if err := m.fail("display gone"); err != nil {
				t.Errorf("fail from notify: %v", err)
			}
		}
	})
	within(t, 5*time.Second, func() {
		for _, to := range []State{StateStarting, StateRecording} {
			if err := m.transition(to, nil); err != nil {
				t.Errorf("move to %s: %v", to, err)
			}
		}
	})
	want := []change{
		{StateIdle, StateStarting, ""},
		{StateStarting, StateRecording, ""},
		{StateRecording, StateFailed, "display gone"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

// TestMachineStress hammers machines from 32 goroutines for about 200 ms (run it with -race),
// then checks that the notifications form one valid path from idle that ends in the final state
// and has nothing after a terminal state.
func TestMachineStress(t *testing.T) {
	const (
		workers  = 32
		total    = 200 * time.Millisecond
		perRound = 15 * time.Millisecond
	)
	boom := errors.New("boom")
	next := map[State][]State{
		StateIdle:       {StateStarting},
		StateStarting:   {StateRecording, StateMasked},
		StateRecording:  {StateMasked}, // and stopping, one time in ten: see below
		StateMasked:     {StateRecording},
		StateStopping:   {StateFinalizing},
		StateFinalizing: {StateCompleted},
	}
	var rounds, completed, failed, busies, moves int64
	end := time.Now().Add(total)
	for round := 0; round == 0 || time.Now().Before(end); round++ {
		rounds++
		rec := &recorder{}
		m := newMachine(rec.notify)
		var committed atomic.Int64
		roundEnd := time.Now().Add(perRound)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for time.Now().Before(roundEnd) {
					switch p := rng.IntN(100000); {
					case p < 5:
						err := m.fail(fmt.Sprintf("worker %d", w))
						switch {
						case err == nil:
							committed.Add(1)
						case !errors.Is(err, ErrTerminal):
							t.Errorf("fail: unexpected error %v", err)
						}
					case p < 30000:
						s, r := m.State()
						// fail() always gives a reason; transition(StateFailed, …) gives none.
						if s == StateFailed && r != "" && !strings.HasPrefix(r, "worker ") {
							t.Errorf("failed with reason %q", r)
						}
						if s != StateFailed && r != "" {
							t.Errorf("%s with a reason %q", s, r)
						}
					default:
						cur, _ := m.State()
						to := allStates[rng.IntN(len(allStates))]
						if opts := next[cur]; len(opts) > 0 && rng.IntN(50) > 0 {
							to = opts[rng.IntN(len(opts))]
							if cur.Running() && rng.IntN(10) == 0 {
								to = StateStopping
							}
						}
						var action func() error
						switch rng.IntN(4) {
						case 1:
							action = func() error { return nil }
						case 2:
							action = func() error { time.Sleep(time.Duration(rng.IntN(50)) * time.Microsecond); return nil }
						case 3:
							action = func() error { return boom }
						}
						err := m.transition(to, action)
						switch {
						case err == nil:
							committed.Add(1)
						case errors.Is(err, ErrBusy):
							atomic.AddInt64(&busies, 1)
						case errors.Is(err, boom), errors.Is(err, ErrIllegalTransition), errors.Is(err, ErrTerminal):
						default:
							t.Errorf("transition to %s: unexpected error %v", to, err)
						}
					}
				}
			}()
		}
		wg.Wait()

		got := rec.get()
		if int64(len(got)) != committed.Load() {
			t.Fatalf("round %d: %d notifications for %d committed moves", round, len(got), committed.Load())
		}
		cur := StateIdle
		for i, c := range got {
			if cur.Terminal() {
				t.Fatalf("round %d: notification #%d %v after terminal %s", round, i, c, cur)
			}
			if c.from != cur {
				t.Fatalf("round %d: notification #%d %v does not start at %s: %v", round, i, c, cur, got)
			}
			if !CanTransition(c.from, c.to) {
				t.Fatalf("round %d: notification #%d %v is not a legal move", round, i, c)
			}
			cur = c.to
		}
		final, _ := m.State()
		if final != cur {
			t.Fatalf("round %d: final state %s, but notifications end at %s", round, final, cur)
		}
		if m.busy || m.delivering || len(m.pending) != 0 {
			t.Fatalf("round %d: machine left busy=%v delivering=%v pending=%d", round, m.busy, m.delivering, len(m.pending))
		}
		switch final {
		case StateCompleted:
			completed++
		case StateFailed:
			failed++
		}
		moves += int64(len(got))
	}
	t.Logf("%d rounds, %d moves, %d completed, %d failed, %d ErrBusy", rounds, moves, completed, failed, busies)
	if moves == 0 || busies == 0 {
		t.Fatalf("stress did not exercise the machine: %d moves, %d ErrBusy", moves, busies)
	}
}
