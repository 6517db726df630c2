package s3

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/screenrec/recorder/internal/s3server"
	"github.com/screenrec/recorder/plugins/sdk"
)

// The server is killed while four parts are in flight, after three parts that started
// after the first one were confirmed: the State records exactly the confirmed parts (not a
// prefix: part 1 is among the lost), and the resumed upload sends only the parts that were
// not confirmed, to a byte-identical object.
func TestKilledWithPartsInFlight(t *testing.T) {
	srv := s3server.Start(t)
	u := configure(t, srv, func(m map[string]any) { m["timeout"] = "60s"; m["part_concurrency"] = 4 })
	req := segment(t, 8*testPart+1234) // 9 parts
	// Part 1 is held at the proxy; parts 2-4 go through. With 4 in flight, parts 5, 6 and 7
	// can only start once 2, 3 and 4 are confirmed; they are held too, and when all of 1, 5,
	// 6, 7 are there the server dies 1 MiB into whichever body gets there first.
	var mu sync.Mutex
	arrived := map[int]bool{}
	allThere := make(chan struct{})
	var sent []int
	srv.SetFault(func(r *http.Request) s3server.Action {
		n, _ := strconv.Atoi(r.URL.Query().Get("partNumber"))
		if r.Method != http.MethodPut || n == 0 {
			return s3server.Action{}
		}
		mu.Lock()
		sent = append(sent, n)
		arrived[n] = true
		if arrived[1] && arrived[5] && arrived[6] && arrived[7] {
			select {
			case <-allThere:
			default:
				close(allThere)
			}
		}
		mu.Unlock()
		switch n {
		case 1, 5, 6, 7:
			select {
			case <-allThere:
			case <-r.Context().Done():
			case <-time.After(50 * time.Second):
			}
			return s3server.Action{KillAfter: 1 << 20}
		}
		return s3server.Action{}
	})
	var rec recorder
	_, err := u.Upload(context.Background(), req, rec.progress)
	if err == nil || errors.Is(err, sdk.ErrPermanent) {
		t.Fatalf("upload with the server killed: %v, want a retryable error", err)
	}
	mu.Lock()
	t.Logf("first attempt: parts sent %v; %v", sent, err)
	select {
	case <-allThere:
	default:
		t.Fatalf("parts 1, 5, 6, 7 were never in flight together (sent: %v)", sent)
	}
	mu.Unlock()
	resume := rec.resume()
	var st resumeState
	if err := json.Unmarshal([]byte(resume.State), &st); err != nil || st.UploadID == "" {
		t.Fatalf("state %q: %v", resume.State, err)
	}
	if st.Done != "2-4" || resume.Offset != 3*testPart {
		t.Errorf("state done %q offset %d, want parts 2-4 and %d bytes confirmed", st.Done, resume.Offset, 3*testPart)
	}

	srv.SetFault(nil)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sent = nil
	mu.Unlock()
	srv.SetFault(func(r *http.Request) s3server.Action {
		if n, _ := strconv.Atoi(r.URL.Query().Get("partNumber")); r.Method == http.MethodPut && n > 0 {
			mu.Lock()
			sent = append(sent, n)
			mu.Unlock()
		}
		return s3server.Action{}
	})
	before := srv.BodyBytes()
	req.Resume = resume
	if _, err := configure(t, srv, nil).Upload(context.Background(), req, rec.progress); err != nil {
		t.Fatal(err)
	}
	checkStored(t, srv, req)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(sent)
	if want := []int{1, 5, 6, 7, 8, 9}; !slices.Equal(sent, want) {
		t.Errorf("resume sent parts %v, want %v (the ones not confirmed)", sent, want)
	}
	if got, want := srv.BodyBytes()-before, req.Size-3*testPart; got > want+4096 {
		t.Errorf("resume sent %d bytes, want the %d of the parts not confirmed", got, want)
	}
}

func TestPartSetString(t *testing.T) {
	for _, c := range []struct {
		parts []int
		want  string
	}{
		{nil, ""}, {[]int{1}, "1"}, {[]int{3, 1, 2}, "1-3"}, {[]int{1, 2, 4, 6, 7, 8, 10}, "1-2,4,6-8,10"},
	} {
		s := partSet{}
		for _, n := range c.parts {
			s.add(n)
		}
		if got := s.String(); got != c.want {
			t.Errorf("%v: %q, want %q", c.parts, got, c.want)
		}
		if back := parsePartSet(c.want).String(); back != c.want {
			t.Errorf("%q read back as %q", c.want, back)
		}
	}
	// A State written before the set, and damaged sets, read as what can be read.
	var old resumeState
	if err := json.Unmarshal([]byte(`{"bucket":"b","key":"k","upload_id":"u","part_size":5242880}`), &old); err != nil || old.UploadID != "u" || len(parsePartSet(old.Done)) != 0 {
		t.Errorf("old state: %+v %v", old, err)
	}
	if got := parsePartSet("x,3-1,0,2-3,7-99999999").String(); got != "2-3" {
		t.Errorf("damaged set read as %q, want 2-3", got)
	}
}
