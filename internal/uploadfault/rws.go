package uploadfault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"

	"github.com/screenrec/recorder/internal/rwsserver"
)

// RWSServer is an in-process RWS test server (internal/rwsserver) that can be restarted on
// the same folder and address, as a crashed and restarted server is; its Stats add up across
// restarts.
type RWSServer struct {
	dir, addr string
	users     map[string]string

	mu       sync.Mutex
	srv      *rwsserver.Server
	past     rwsserver.Stats // of the processes before the current one
	restarts int
}

// StartRWS starts a server on a kernel-chosen loopback port storing into dir.
func StartRWS(ctx context.Context, dir string, users map[string]string) (*RWSServer, error) {
	srv, err := rwsserver.Start(ctx, rwsserver.Config{Dir: dir, Users: users})
	if err != nil {
		return nil, err
	}
	return &RWSServer{dir: dir, addr: strings.TrimPrefix(srv.URL(), "http://"), users: users, srv: srv}, nil
}

// URL is the server's root.
func (s *RWSServer) URL() string { return "http://" + s.addr }

// Restart stops the server at once (connections in flight are cut) and starts it again on
// the same folder and address. Faults in force are gone with the old one.
func (s *RWSServer) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close() // first: chunks it cuts count
		s.past = addStats(s.past, s.srv.Stats())
		s.srv = nil
	}
	srv, err := rwsserver.Start(ctx, rwsserver.Config{Dir: s.dir, Listen: s.addr, Users: s.users})
	if err != nil {
		return fmt.Errorf("uploadfault: restart %s: %w", s.addr, err)
	}
	s.srv = srv
	s.restarts++
	return nil
}

// Close stops the server.
func (s *RWSServer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	s.past = addStats(s.past, s.srv.Stats())
	s.srv = nil
	return err
}

// SetFaults replaces the faults in force.
func (s *RWSServer) SetFaults(f rwsserver.Faults) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	return s.srv.SetFaults(f)
}

// Stats adds up what every process of the server received.
func (s *RWSServer) Stats() rwsserver.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.past
	if s.srv != nil {
		st = addStats(st, s.srv.Stats())
	}
	return st
}

// Restarts counts the restarts.
func (s *RWSServer) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Uploads lists what the server's folder holds.
func (s *RWSServer) Uploads() []rwsserver.Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	return s.srv.Uploads()
}

func addStats(a, b rwsserver.Stats) rwsserver.Stats {
	return rwsserver.Stats{
		Requests: a.Requests + b.Requests, ChunkRequests: a.ChunkRequests + b.ChunkRequests,
		ChunkBytes: a.ChunkBytes + b.ChunkBytes, ChecksumMismatches: a.ChecksumMismatches + b.ChecksumMismatches,
		Rejected: a.Rejected + b.Rejected, Terminated: a.Terminated + b.Terminated,
		LostAnswers: a.LostAnswers + b.LostAnswers, Drops: a.Drops + b.Drops,
		CutChunks: a.CutChunks + b.CutChunks, Creates: a.Creates + b.Creates,
	}
}

// RWSFault fires one random fault on s, out of the RWS fault mix: a 5xx for a while, a
// connection cut after a few KiB, corrupted chunks, a lost answer (stored, answered after
// the client's timeout), a restart — or clears the faults. Every fault set keeps base (e.g.
// a DelayMS that paces the run so that faults land mid-upload). maxDrop bounds where the cut
// happens. It returns what it did.
func RWSFault(ctx context.Context, s *RWSServer, r *rand.Rand, maxDrop int64, base rwsserver.Faults) (string, error) {
	f := base
	what := "clear"
	switch r.IntN(6) {
	case 0:
		what, f.Status = "503", http.StatusServiceUnavailable
	case 1:
		what, f.DropAfterBytes = "cut", 1+r.Int64N(maxDrop)
	case 2:
		what, f.CorruptNextChunks = "corrupt", 1+r.IntN(2)
	case 3:
		what, f.LoseNextAnswers = "lost-answer", 1
	case 4:
		if err := s.Restart(ctx); err != nil {
			return "restart", err
		}
		what = "restart"
	}
	return what, s.SetFaults(f)
}

// RWSOutcome is what the servers hold after a run, measured against the segments.
type RWSOutcome struct {
	// SegmentBytes is the segments' total size.
	SegmentBytes int64
	// StoredBytes is what the servers' folders hold of uploads (complete, partial, refused).
	StoredBytes int64
	// ReceivedBytes is the upload data the servers received (stored or not).
	ReceivedBytes int64
	// Interruptions counts what cut a chunk short or made it count for nothing: failed
	// attempts, lost answers, cut connections and chunks, chunks refused for their checksum,
	// refused files.
	Interruptions int64
	// Creates counts the uploads created on the servers (one per segment at best; a
	// failover or a refused file makes another).
	Creates int64
	// Orphans counts empty uploads no job ever learned of: created, but the answer with
	// their location was lost (cut by a restart). tus creation cannot be made idempotent,
	// so the client cannot find them; a server expires them. Not a Problem.
	Orphans int
	// Problems lists every broken promise: a segment missing or not byte-identical, stored
	// complete twice on one server, a partial or refused upload left behind.
	Problems []string
}

// StoredRatio is stored bytes per segment byte.
func (o RWSOutcome) StoredRatio() float64 { return float64(o.StoredBytes) / float64(o.SegmentBytes) }

// ResentPerInterruption is the bytes received beyond the segments' size per interruption.
func (o RWSOutcome) ResentPerInterruption() float64 {
	if o.Interruptions == 0 {
		return 0
	}
	return float64(o.ReceivedBytes-o.SegmentBytes) / float64(o.Interruptions)
}

// CheckRWS measures the run of jobs against servers and lists what broke: every job must
// be confirmed, at a location holding the segment complete and byte-identical (sha256);
// no server may hold a segment complete twice; no server may keep a partial or refused
// upload. rep gives the failed attempts.
func CheckRWS(jobs []*Job, rep Report, servers ...*RWSServer) RWSOutcome {
	var o RWSOutcome
	o.Interruptions = int64(rep.Failures)
	type key struct{ server, recording, segment string }
	complete := map[key]int{}
	for _, s := range servers {
		st := s.Stats()
		o.ReceivedBytes += st.ChunkBytes
		o.Interruptions += st.LostAnswers + st.Drops + st.CutChunks + st.ChecksumMismatches + st.Rejected
		o.Creates += st.Creates
		for _, u := range s.Uploads() {
			o.StoredBytes += u.Offset
			switch {
			case u.Complete:
				complete[key{s.URL(), u.Metadata["recordingId"], u.Metadata["segment"]}]++
			case u.Rejected:
				o.Problems = append(o.Problems, fmt.Sprintf("%s keeps refused upload %s (%s)", s.URL(), u.ID, u.Metadata["recordingId"]))
			case u.Offset == 0 && !known(jobs, s.URL()+rwsserver.BasePath+u.ID):
				o.Orphans++
			default:
				o.Problems = append(o.Problems, fmt.Sprintf("%s keeps partial upload %s (%s, %d of %d bytes)", s.URL(), u.ID, u.Metadata["recordingId"], u.Offset, u.Size))
			}
		}
	}
	for k, n := range complete {
		if n > 1 {
			o.Problems = append(o.Problems, fmt.Sprintf("%s holds %s segment %s complete %d times", k.server, k.recording, k.segment, n))
		}
	}
	for _, j := range jobs {
		o.SegmentBytes += j.Req.Size
		res, ok := j.Done()
		if !ok {
			o.Problems = append(o.Problems, fmt.Sprintf("%s was never confirmed", j.Req.SegmentPath))
			continue
		}
		found := false
		for _, s := range servers {
			for _, u := range s.Uploads() {
				if strings.HasSuffix(res.Location, "/"+u.ID) && strings.HasPrefix(res.Location, s.URL()) {
					found = u.Complete && u.SHA256 == j.Req.SHA256 && u.Size == j.Req.Size && u.Metadata["recordingId"] == j.Req.RecordingID
				}
			}
		}
		if !found {
			o.Problems = append(o.Problems, fmt.Sprintf("%s: confirmed at %s, which does not hold it complete and byte-identical", j.Req.SegmentPath, res.Location))
		}
	}
	return o
}

// known reports whether a job's progress ever named location.
func known(jobs []*Job, location string) bool {
	for _, j := range jobs {
		if j.Knows(location) {
			return true
		}
	}
	return false
}
