package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/screenrec/recorder/engine/api"
)

// Every engine sentinel survives the wire: errors.Is holds on the other side, with the status
// the cloud API answers for it.
func TestErrorsCrossTheWire(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{api.ErrNotFound, http.StatusNotFound}, {api.ErrBusy, http.StatusTooEarly}, {api.ErrTerminal, http.StatusNotFound},
		{api.ErrIllegalTransition, http.StatusConflict}, {api.ErrTooManySessions, 500}, {api.ErrSpoolQuota, 500},
		{api.ErrDiskFull, 500}, {api.ErrInvalidRequest, 400}, {api.ErrBadSelection, 400}, {api.ErrBadLayout, 400},
		{api.ErrClosed, 500}, {context.DeadlineExceeded, http.StatusGatewayTimeout}, {ErrNotConfigured, http.StatusNotImplemented},
	} {
		wrapped := fmt.Errorf("engine: start: %w", c.err)
		b, _ := json.Marshal(ErrorOf(wrapped))
		var back Error
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got := back.Err()
		if !errors.Is(got, c.err) || back.Status != c.status || got.Error() != wrapped.Error() {
			t.Errorf("%v: back as %v (status %d), want errors.Is and %d", c.err, got, back.Status, c.status)
		}
	}
	other := (&Error{Code: "something_new", Message: "x"}).Err()
	if other == nil || errors.Is(other, api.ErrNotFound) {
		t.Errorf("unknown code: %v", other)
	}
	s := api.Session{ID: "r1", ContactID: 7, Owner: "u"}
	b, _ := json.Marshal(ErrorOf(fmt.Errorf("start: %w", &api.AlreadyRecordingError{Session: s})))
	var back Error
	_ = json.Unmarshal(b, &back)
	var are *api.AlreadyRecordingError
	if err := back.Err(); !errors.As(err, &are) || are.Session.ContactID != 7 || !errors.Is(err, api.ErrAlreadyRecording) {
		t.Errorf("already recording: %v", err)
	}
	if ErrorOf(nil) != nil || (*Error)(nil).Err() != nil {
		t.Error("nil is not nil")
	}
}

func TestSubjectsAndIDs(t *testing.T) {
	if HeartbeatSubject("d-1") != "recorder.fleet.d-1.hb" || RPCSubject("d-1", OpStart) != "recorder.fleet.d-1.rpc.start" ||
		MachineOf("recorder.fleet.d-1.events") != "d-1" || MachineOf("other.d-1") != "" {
		t.Error("subjects")
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a b", string(make([]byte, 65))} {
		if CheckMachine(bad) == nil {
			t.Errorf("machine %q accepted", bad)
		}
	}
	m, local, err := SplitSessionID(SessionID("d-1", "rec-9"))
	if err != nil || m != "d-1" || local != "rec-9" {
		t.Errorf("split: %q %q %v", m, local, err)
	}
	if _, _, err := SplitSessionID("rec-9"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("split of a machine's id: %v", err)
	}
	v := Value("d-1", api.Session{ID: "rec-9", ContactID: 1000001, Labels: map[string]string{LabelContactID: "1000000042"}})
	if v.ID != "d-1/rec-9" || v.ContactID != 1000000042 || v.Labels[LabelLocalContactID] != "1000001" {
		t.Errorf("fleet view: %+v", v)
	}
	// Permissions name only the machine's own subjects.
	for _, s := range append(AgentPublish("d-1"), AgentSubscribe("d-1")...) {
		if MachineOf(s) != "d-1" && s != InboxPrefix("d-1")+".>" {
			t.Errorf("permission %q is not d-1's", s)
		}
	}
}
