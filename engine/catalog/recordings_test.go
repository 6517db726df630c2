package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"time"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestContactIDsIncreaseAndAreNeverReused(t *testing.T) {
	ctx := context.Background()
	c, path := openTest(t)
	var last int64
	seenIIDs := map[string]bool{}
	for i := range 5 {
		r := mustCreate(t, c, fmt.Sprint("r", i))
		if i == 0 && r.ContactID != DefaultContactIDBase {
			t.Errorf("first contact id = %d, want base %d", r.ContactID, DefaultContactIDBase)
		}
		if r.ContactID <= last {
			t.Errorf("contact id %d not above previous %d", r.ContactID, last)
		}
		last = r.ContactID
		if !uuidV4.MatchString(r.InteractionID) || seenIIDs[r.InteractionID] {
			t.Errorf("interaction id %q is not a fresh UUID v4", r.InteractionID)
		}
		seenIIDs[r.InteractionID] = true
	}
	// Delete the newest rows: max(contact_id)+1 would now hand out their ids again.
	for _, id := range []string{"r3", "r4"} {
		if err := c.DeleteRecording(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeleteRecording(ctx, "r4"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
	r := mustCreate(t, c, "after-delete")
	if r.ContactID != last+1 {
		t.Errorf("after delete got contact id %d, want %d", r.ContactID, last+1)
	}
	last = r.ContactID
	if err := c.DeleteRecording(ctx, "after-delete"); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r = mustCreate(t, c2, "after-reopen")
	if r.ContactID != last+1 {
		t.Errorf("after reopen got contact id %d, want %d", r.ContactID, last+1)
	}
	if _, err := c2.RecordingByContactID(ctx, last); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted contact id lookup = %v, want ErrNotFound", err)
	}
	got, err := c2.RecordingByContactID(ctx, r.ContactID)
	if err != nil || got.ID != "after-reopen" {
		t.Errorf("RecordingByContactID = %+v, %v", got, err)
	}
}

func TestContactIDBase(t *testing.T) {
	ctx := context.Background()
	c, path := openTest(t, WithContactIDBase(5000))
	if r := mustCreate(t, c, "a"); r.ContactID != 5000 {
		t.Errorf("first id = %d, want 5000", r.ContactID)
	}
	c.Close()
	// A lower base never moves the counter back.
	c, err := Open(ctx, path, WithContactIDBase(10))
	if err != nil {
		t.Fatal(err)
	}
	if r := mustCreate(t, c, "b"); r.ContactID != 5001 {
		t.Errorf("after lower base id = %d, want 5001", r.ContactID)
	}
	c.Close()
	// A higher base makes the counter jump.
	c, err = Open(ctx, path, WithContactIDBase(9000))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := mustCreate(t, c, "c"); r.ContactID != 9000 {
		t.Errorf("after higher base id = %d, want 9000", r.ContactID)
	}
}

func TestCreateRecordingConflictsAndInvalid(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	first := mustCreate(t, c, "dup")
	if _, err := c.CreateRecording(ctx, NewRecording{ID: "dup"}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate id = %v, want ErrConflict", err)
	}
	// The failed insert must not have burnt a contact id.
	if r := mustCreate(t, c, "next"); r.ContactID != first.ContactID+1 {
		t.Errorf("contact id after failed insert = %d, want %d", r.ContactID, first.ContactID+1)
	}
	if _, err := c.CreateRecording(ctx, NewRecording{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty id = %v, want ErrInvalid", err)
	}
	if _, err := c.CreateRecording(ctx, NewRecording{ID: "g", Geometry: json.RawMessage(`{"w":`)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad geometry = %v, want ErrInvalid", err)
	}
	if _, err := c.GetRecording(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRecording(unknown) = %v, want ErrNotFound", err)
	}
}

func TestRecordingRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	geometry := json.RawMessage(`{"monitors":[{"x":0,"y":0,"w":1920,"h":1080},{"x":1920,"y":0,"w":2560,"h":1440}]}`)
	labels := map[string]string{"queue": "billing", "ünïcode": "ok", "empty": ""}
	r, err := c.CreateRecording(ctx, NewRecording{
		ID: "rt", Owner: "agent-7", Frontend: "srs", Reason: "call", State: "starting",
		Geometry: geometry, Labels: labels,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Labels, labels) || string(r.Geometry) != string(geometry) {
		t.Errorf("created labels/geometry = %v / %s", r.Labels, r.Geometry)
	}
	if r.CreatedAt.IsZero() || r.CreatedAt.Location() != time.UTC || !r.StartedAt.IsZero() {
		t.Errorf("times: created %v started %v", r.CreatedAt, r.StartedAt)
	}

	start := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))
	updated, err := c.UpdateRecording(ctx, "rt", func(r *Recording) error {
		r.State = "completed"
		r.Encoder = "libx264"
		r.Error = "none"
		r.StartedAt = start
		r.EndedAt = start.Add(90 * time.Second)
		r.Duration = 90*time.Second + 500*time.Millisecond
		r.Masked = 1500 * time.Millisecond
		r.MaskedIntervals = []Interval{{Start: time.Second, End: 2 * time.Second}, {Start: 3 * time.Second, End: 3500 * time.Millisecond}}
		r.Labels["added"] = "yes" // read-back maps are never nil
		r.Interrupted = true
		r.Geometry = nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRecording(ctx, "rt")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, updated) {
		t.Errorf("Get after update differs from Update's result:\n%+v\n%+v", got, updated)
	}
	wantLabels := map[string]string{"queue": "billing", "ünïcode": "ok", "empty": "", "added": "yes"}
	switch {
	case got.State != "completed" || got.Encoder != "libx264" || got.Error != "none" || !got.Interrupted:
		t.Errorf("scalar fields: %+v", got)
	case !got.StartedAt.Equal(start.Truncate(time.Microsecond)) || !got.EndedAt.Equal(start.Add(90*time.Second).Truncate(time.Microsecond)):
		t.Errorf("times: %v %v, want %v", got.StartedAt, got.EndedAt, start)
	case got.Duration != 90500*time.Millisecond || got.Masked != 1500*time.Millisecond:
		t.Errorf("durations: %v %v", got.Duration, got.Masked)
	case len(got.MaskedIntervals) != 2 || got.MaskedIntervals[1] != (Interval{3 * time.Second, 3500 * time.Millisecond}):
		t.Errorf("masked intervals: %+v", got.MaskedIntervals)
	case !reflect.DeepEqual(got.Labels, wantLabels):
		t.Errorf("labels: %v", got.Labels)
	case got.Geometry != nil:
		t.Errorf("geometry not cleared: %s", got.Geometry)
	case got.Owner != "agent-7" || got.Frontend != "srs" || got.Reason != "call":
		t.Errorf("untouched fields changed: %+v", got)
	}

	// Nil labels come back as an empty, writable map.
	r2, err := c.CreateRecording(ctx, NewRecording{ID: "nolabels"})
	if err != nil || r2.Labels == nil || len(r2.Labels) != 0 || r2.Geometry != nil {
		t.Errorf("nil labels: %+v, %v", r2, err)
	}
}

func TestUpdateRecordingCommitsOnlyOnSuccess(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	before := mustCreate(t, c, "u")
	errBoom := errors.New("boom")
	_, err := c.UpdateRecording(ctx, "u", func(r *Recording) error {
		r.State = "failed"
		r.Labels["x"] = "y"
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("UpdateRecording = %v, want the callback's error", err)
	}
	after, err := c.GetRecording(ctx, "u")
	if err != nil || !reflect.DeepEqual(before, after) {
		t.Errorf("row changed by failed update:\n%+v\n%+v (%v)", before, after, err)
	}

	for name, fn := range map[string]func(*Recording){
		"ID":            func(r *Recording) { r.ID = "other" },
		"ContactID":     func(r *Recording) { r.ContactID++ },
		"InteractionID": func(r *Recording) { r.InteractionID = "x" },
		"CreatedAt":     func(r *Recording) { r.CreatedAt = r.CreatedAt.Add(time.Second) },
	} {
		_, err := c.UpdateRecording(ctx, "u", func(r *Recording) error { r.State = "changed"; fn(r); return nil })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("changing %s: %v, want ErrInvalid", name, err)
		}
	}
	if after, _ := c.GetRecording(ctx, "u"); !reflect.DeepEqual(before, after) {
		t.Errorf("row changed by rejected updates: %+v", after)
	}
	if _, err := c.UpdateRecording(ctx, "nope", func(*Recording) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("update unknown = %v, want ErrNotFound", err)
	}
}

func TestListRecordings(t *testing.T) {
	ctx := context.Background()
	c, _ := openTest(t)
	for i, spec := range []struct{ owner, state string }{
		{"ann", "recording"}, {"bob", "completed"}, {"ann", "completed"}, {"ann", "failed"}, {"bob", "recording"},
	} {
		_, err := c.CreateRecording(ctx, NewRecording{ID: fmt.Sprint("l", i), Owner: spec.owner, State: spec.state})
		if err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs []Recording, err error) string {
		if err != nil {
			return err.Error()
		}
		s := ""
		for _, r := range rs {
			s += r.ID + " "
		}
		return s
	}
	for _, tc := range []struct {
		f    RecordingFilter
		want string
	}{
		{RecordingFilter{}, "l0 l1 l2 l3 l4 "},
		{RecordingFilter{Owner: "ann"}, "l0 l2 l3 "},
		{RecordingFilter{States: []string{"recording", "failed"}}, "l0 l3 l4 "},
		{RecordingFilter{Owner: "bob", States: []string{"completed"}}, "l1 "},
		{RecordingFilter{Limit: 2}, "l0 l1 "},
		{RecordingFilter{AfterContactID: DefaultContactIDBase + 1, Limit: 2}, "l2 l3 "},
		{RecordingFilter{Owner: "nobody"}, ""},
	} {
		if got := ids(c.ListRecordings(ctx, tc.f)); got != tc.want {
			t.Errorf("ListRecordings(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}
