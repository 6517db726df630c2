package sdk

import (
	"reflect"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	pb "github.com/screenrec/recorder/plugins/sdk/internal/proto/recorder/plugin/v1"
)

func TestConvert_Session(t *testing.T) {
	t.Parallel()
	tests := map[string]api.Session{
		"zero":  {},
		"rich":  richSession("s1"),
		"epoch": {ID: "e", State: api.StateFailed, CreatedAt: time.Unix(0, 0).UTC()}, // not the zero time
	}
	for name, in := range tests {
		got, err := sessionFromProto(sessionToProto(in))
		if err != nil || !reflect.DeepEqual(got, utcSession(in)) {
			t.Errorf("%s: round trip = %#v, %v; want %#v", name, got, err, utcSession(in))
		}
	}
	if _, err := sessionFromProto(&pb.Session{State: "hibernating"}); err == nil {
		t.Error("a session in an unknown state was accepted")
	}
}

func TestConvert_Event(t *testing.T) {
	t.Parallel()
	for _, in := range append(richEvents(), api.Event{}) {
		got, err := eventFromProto(eventToProto(in))
		if err != nil || !reflect.DeepEqual(got, utcEvent(in)) {
			t.Errorf("round trip of %#v = %#v, %v", in, got, err)
		}
	}
	if _, err := eventFromProto(&pb.Event{Kind: "teleported", From: "idle", To: "idle"}); err == nil {
		t.Error("an event of an unknown kind was accepted")
	}
}

func TestConvert_StartRequestAndFilter(t *testing.T) {
	t.Parallel()
	for _, in := range []api.StartRequest{{}, richStartRequest()} {
		if got := startRequestFromProto(startRequestToProto(in)); !reflect.DeepEqual(got, in) {
			t.Errorf("round trip = %#v, want %#v", got, in)
		}
	}
	f := api.ListFilter{Owner: "bob", States: []api.State{api.StateCompleted}, Limit: 3}
	if got, err := listFilterFromProto(listFilterToProto(f)); err != nil || !reflect.DeepEqual(got, f) {
		t.Errorf("filter round trip = %#v, %v", got, err)
	}
	if _, err := listFilterFromProto(&pb.EngineListRequest{States: []string{"State(99)"}}); err == nil {
		t.Error("an unknown state in a filter was accepted")
	}
}
