package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/screenrec/recorder/engine/api"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/mux"
)

// A recording whose contact id was allocated elsewhere (a fleet controller, api.LabelContactID)
// is known by it outside the machine: the uploads' contactId and the file's contact_id tag
// carry it, the catalog keeps its own (local_contact_id in the file). A label that is no
// contact id is refused, naming it.
func TestOutsideContactIDReachesUploadsAndFiles(t *testing.T) {
	t.Parallel()
	srv := testDisplay(t)
	e := newEngine(t, Config{})
	const fleetID = 7000000123
	_, err := e.Start(t.Context(), StartRequest{Owner: "agent9", Frontend: "cloud", Source: Source{Display: srv.Display},
		Labels: map[string]string{api.LabelContactID: "12ab"}})
	if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(fmt.Sprint(err), "labels."+api.LabelContactID) {
		t.Errorf("start with a bad contact id label: %v, want ErrInvalidRequest naming labels.%s", err, api.LabelContactID)
	}
	s := start(t, e, StartRequest{Owner: "agent9", Frontend: "cloud", Source: Source{Display: srv.Display},
		Labels: map[string]string{api.LabelContactID: fmt.Sprint(fleetID)}})
	eventually(t, 30*time.Second, "frames", func() bool {
		got, _ := e.Get(t.Context(), s.ID)
		return len(got.Tracks) > 0 && got.Tracks[0].Frames >= 3
	})
	s = stop(t, e, s.ID)
	if s.ContactID == fleetID || s.ContactID <= 0 {
		t.Errorf("the catalog's contact id = %d: want the machine's own", s.ContactID)
	}
	tags, err := mux.Tags(s.Segments[0].Path)
	if err != nil || tags["contact_id"] != fmt.Sprint(fleetID) || tags["local_contact_id"] != fmt.Sprint(s.ContactID) {
		t.Errorf("file tags %v (%v): want contact_id %d and local_contact_id %d", tags, err, fleetID, s.ContactID)
	}
	up := &scriptedUploader{steps: []func(api.UploadRequest, func(api.Progress)) (api.UploadResult, error){succeed}}
	runUploadsUntil(t, e, up, UploadConfig{}, allIn(catalog.UploadUploaded))
	if got := up.requests()[0].Metadata["contactId"]; got != fmt.Sprint(fleetID) {
		t.Errorf("upload contactId = %q, want the fleet's %d", got, fleetID)
	}
}
