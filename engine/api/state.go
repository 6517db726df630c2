package api

import "fmt"

// State is a recording session's state.
//
//	idle ──► starting ──► recording ◄──► masked
//	            │  └──────────┼───────────►─┘ (a session started while its owner or display is masked)
//	            │             ▼               │
//	            │          stopping ◄─────────┘
//	            │             ▼
//	            │         finalizing ──► completed
//	            ▼
//	   any non-terminal state ──► failed
//
// Completed and failed are terminal: they refuse every move. starting → stopping is not a
// move: a stop requested while the session is still starting is answered with ErrBusy until the
// start has settled (into recording, masked or failed).
//
// CanTransition holds the table; the zero State is StateIdle. States marshal to and from their
// names (MarshalText/UnmarshalText), so JSON shows "recording", not 2.
type State uint8

// The states of a session, in the order a normal recording passes through them.
const (
	StateIdle       State = iota // created, nothing started yet
	StateStarting                // the pipeline is being opened
	StateRecording               // capturing into the file
	StateMasked                  // capturing, but the picture is masked (owner or display hidden)
	StateStopping                // stop requested; the pipeline is draining
	StateFinalizing              // the pipeline is closed; the last segment is being sealed
	StateCompleted               // terminal: the recording is complete
	StateFailed                  // terminal: the session failed; see the failure reason

	numStates = iota
)

var stateNames = [numStates]string{
	StateIdle:       "idle",
	StateStarting:   "starting",
	StateRecording:  "recording",
	StateMasked:     "masked",
	StateStopping:   "stopping",
	StateFinalizing: "finalizing",
	StateCompleted:  "completed",
	StateFailed:     "failed",
}

// String returns the state's name ("idle", "recording", …), or "State(n)" for an unknown value.
func (s State) String() string {
	if s.valid() {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

func (s State) valid() bool { return s < numStates }

// ParseState returns the state whose name (as returned by String) is name.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("unknown session state %q", name)
}

// Terminal reports whether s is completed or failed; terminal states refuse every move.
func (s State) Terminal() bool { return s == StateCompleted || s == StateFailed }

// Running reports whether the session is capturing into its file (recording or masked).
func (s State) Running() bool { return s == StateRecording || s == StateMasked }

// MarshalText encodes the state as its name; unknown values are an error.
func (s State) MarshalText() ([]byte, error) {
	if !s.valid() {
		return nil, fmt.Errorf("cannot marshal unknown session state %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a state name written by MarshalText.
func (s *State) UnmarshalText(text []byte) error {
	v, err := ParseState(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// CanTransition reports whether a session may move from one state to another:
//
//	idle → starting
//	starting → recording | masked
//	recording → masked | stopping
//	masked → recording | stopping
//	stopping → finalizing
//	finalizing → completed
//	every non-terminal state → failed
//
// Terminal states (completed, failed) refuse every move, and no state moves to itself.
func CanTransition(from, to State) bool {
	if !from.valid() || !to.valid() || from.Terminal() {
		return false
	}
	if to == StateFailed {
		return true
	}
	switch from {
	case StateIdle:
		return to == StateStarting
	case StateStarting:
		return to == StateRecording || to == StateMasked
	case StateRecording:
		return to == StateMasked || to == StateStopping
	case StateMasked:
		return to == StateRecording || to == StateStopping
	case StateStopping:
		return to == StateFinalizing
	case StateFinalizing:
		return to == StateCompleted
	}
	return false
}
