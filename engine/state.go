package engine

import (
	"fmt"
	"sync"
	"time"
)

// stateChange is one committed move, queued until it is delivered to notify.
type stateChange struct {
	from, to State
	reason   string
}

// machine guards one session's state: one writer, transitions commit only when their action
// succeeded, terminal states refuse moves, and notify runs after the lock is released.
//
// Notifications are delivered in commit order, exactly once per committed move, never under
// mu. Each commit queues its change; if no goroutine is delivering, the committing one becomes
// the deliverer and drains the queue after unlocking. So notify may call back into the machine
// (State, transition, fail) without deadlocking, and a change committed while another goroutine
// is inside notify is delivered by that goroutine right after — possibly just after the
// committing call has returned.
type machine struct {
	mu      sync.Mutex
	state   State
	busy    bool      // a transition's action is running (mu is not held while it runs)
	reason  string    // failure reason, set by fail
	changed time.Time // when state was last committed (zero while idle)
	notify  func(from, to State, reason string)

	pending    []stateChange // committed, not yet handed to notify
	delivering bool          // a goroutine is draining pending
}

// newMachine returns a machine in StateIdle. notify, which may be nil, is called once per
// committed move, in order, outside the lock.
func newMachine(notify func(from, to State, reason string)) *machine {
	return &machine{state: StateIdle, notify: notify}
}

// State returns the current state and, when it is failed, the failure reason.
func (m *machine) State() (State, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, m.reason
}

// transition moves the session to `to` once action (which may be nil) has succeeded. In order:
//   - a terminal current state returns ErrTerminal;
//   - another transition whose action is still running returns ErrBusy;
//   - a move CanTransition refuses returns ErrIllegalTransition;
//   - otherwise action runs without the lock held. If it fails, the state is unchanged and its
//     error is returned as is. If fail() made the session terminal meanwhile, nothing is
//     committed and ErrTerminal is returned: a late success never overwrites failed.
//   - Else the move is committed and notify(from, to, "") called after the lock is released.
//
// transition(StateFailed, …) is legal but records no reason; use fail for failures.
//
// Errors other than the action's wrap the sentinels, so classify them with errors.Is.
func (m *machine) transition(to State, action func() error) error {
	return m.transitionIf(to, nil, action)
}

// transitionIf is transition with a guard: under the same lock as the checks above (after the
// terminal one), guard, when set, may refuse the move from the current state with an error,
// returned as is. A caller's own check of the state is then atomic with the move: no other
// transition can commit between them.
func (m *machine) transitionIf(to State, guard func(from State) error, action func() error) error {
	m.mu.Lock()
	from := m.state
	if guard != nil && !from.Terminal() {
		if err := guard(from); err != nil {
			m.mu.Unlock()
			return err
		}
	}
	switch {
	case from.Terminal():
		m.mu.Unlock()
		return fmt.Errorf("%w: session is %s, cannot move to %s", ErrTerminal, from, to)
	case m.busy:
		m.mu.Unlock()
		return fmt.Errorf("%w: cannot move from %s to %s", ErrBusy, from, to)
	case !CanTransition(from, to):
		m.mu.Unlock()
		return fmt.Errorf("%w: from %s to %s", ErrIllegalTransition, from, to)
	}
	if action != nil {
		m.busy = true
		m.mu.Unlock()
		err := m.run(action)
		m.mu.Lock()
		m.busy = false
		if err != nil {
			m.mu.Unlock()
			return err
		}
		if cur := m.state; cur != from {
			// Only fail() moves the state while busy is set, so cur is failed: do not
			// overwrite it.
			m.mu.Unlock()
			return fmt.Errorf("%w: session became %s while moving from %s to %s",
				ErrTerminal, cur, from, to)
		}
	}
	m.commitLocked(from, to, "")
	m.deliverAndUnlock()
	return nil
}

// run calls action, which runs with mu released, and clears busy if action panics so the
// machine is not left busy for ever.
func (m *machine) run(action func() error) error {
	returned := false
	defer func() {
		if !returned {
			m.mu.Lock()
			m.busy = false
			m.mu.Unlock()
		}
	}()
	err := action()
	returned = true
	return err
}

// fail moves any non-terminal state to failed with reason, even while a transition's action is
// running (a pipeline failure must win; that transition will then return ErrTerminal). On a
// terminal state it changes nothing and returns ErrTerminal. notify runs after the lock is
// released.
func (m *machine) fail(reason string) error {
	m.mu.Lock()
	from := m.state
	if from.Terminal() {
		m.mu.Unlock()
		return fmt.Errorf("%w: session is already %s", ErrTerminal, from)
	}
	m.reason = reason
	m.commitLocked(from, StateFailed, reason)
	m.deliverAndUnlock()
	return nil
}

// commitLocked is the single place a state is written; entry actions go here. mu must be held.
func (m *machine) commitLocked(from, to State, reason string) {
	m.state = to
	m.changed = time.Now()
	if m.notify != nil {
		m.pending = append(m.pending, stateChange{from: from, to: to, reason: reason})
	}
}

// deliverAndUnlock hands queued changes to notify in commit order and releases mu, which must be
// held. notify always runs with mu released. If another goroutine is already delivering, it
// delivers ours too (it re-checks pending before it stops), so this returns at once.
func (m *machine) deliverAndUnlock() {
	if m.delivering || len(m.pending) == 0 {
		m.mu.Unlock()
		return
	}
	m.delivering = true
	locked := true
	defer func() {
		// Also runs if notify panics: take mu back so delivering is reset and a later commit
		// can deliver what is still pending.
		if !locked {
			m.mu.Lock()
		}
		m.delivering = false
		m.mu.Unlock()
	}()
	for len(m.pending) > 0 {
		batch := m.pending
		m.pending = nil
		m.mu.Unlock()
		locked = false
		for _, c := range batch {
			m.notify(c.from, c.to, c.reason)
		}
		m.mu.Lock()
		locked = true
	}
}
