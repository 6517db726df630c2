package rwsserver

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// Faults are failures the server injects, for tests; the zero value injects none. They are
// set at run time with SetFaults or POST /_test/faults and apply to tus requests (those under
// BasePath) only, never to /api/v2/me or /_test/.
type Faults struct {
	// Status, when not 0, answers every tus request with this status (e.g. 503) and a short
	// text body, without passing it to tusd.
	Status int `json:"status"`
	// DelayMS delays every tus request by this many milliseconds before it is handled (the
	// delay ends early when the client goes away).
	DelayMS int `json:"delay_ms"`
	// CorruptNextChunks flips one byte of each of the next K PATCH bodies before the checksum
	// check, so the server sees a mismatch (460) — or, for a PATCH without Upload-Checksum,
	// stores a wrong byte that the whole-file check then refuses. It counts down.
	CorruptNextChunks int `json:"corrupt_next_chunks"`
	// DropAfterBytes, when not 0, closes the connection once that many more bytes of PATCH
	// bodies have been received, counted across requests (a dying link): the PATCH in
	// flight then gets no answer. It fires once and turns itself off. What the server
	// keeps of the interrupted PATCH follows the tus rules: nothing when it carried
	// Upload-Checksum (a chunk that cannot be verified is not stored), else the bytes
	// received.
	DropAfterBytes int64 `json:"drop_after_bytes"`
	// LoseNextAnswers: the next K PATCH requests are handled in full (a good chunk is
	// stored) but their answers are lost: the server holds each answer back until the
	// client gives up, then closes the connection. It counts down.
	LoseNextAnswers int `json:"lose_next_answers"`
	// RefuseNextFiles: the whole-file check refuses the next K uploads that complete, even
	// when their sha256 matches (as if the stored copy were damaged). It counts down.
	RefuseNextFiles int `json:"refuse_next_files"`
	// HideRejections makes the server behave as a plain tusd with a checksum check in front
	// would, against the RWS protocol: HEAD and PATCH on a refused upload are answered as if
	// it were whole (its offset is its length; a PATCH gets 409), so only the 460 on the last
	// chunk tells the client.
	HideRejections bool `json:"hide_rejections"`
}

// validate checks f.
func (f Faults) validate() error {
	var errs []error
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		errs = append(errs, fmt.Errorf("status %d: want 0 (off) or an HTTP status 100-599", f.Status))
	}
	if f.DelayMS < 0 {
		errs = append(errs, fmt.Errorf("delay_ms %d: want 0 or more", f.DelayMS))
	}
	if f.CorruptNextChunks < 0 {
		errs = append(errs, fmt.Errorf("corrupt_next_chunks %d: want 0 or more", f.CorruptNextChunks))
	}
	if f.LoseNextAnswers < 0 {
		errs = append(errs, fmt.Errorf("lose_next_answers %d: want 0 or more", f.LoseNextAnswers))
	}
	if f.RefuseNextFiles < 0 {
		errs = append(errs, fmt.Errorf("refuse_next_files %d: want 0 or more", f.RefuseNextFiles))
	}
	if f.DropAfterBytes < 0 {
		errs = append(errs, fmt.Errorf("drop_after_bytes %d: want 0 or more", f.DropAfterBytes))
	}
	return errors.Join(errs...)
}

// faultState holds the faults in force; the counters count down as they fire.
type faultState struct {
	mu sync.Mutex
	f  Faults
}

func (s *faultState) set(f Faults) {
	s.mu.Lock()
	s.f = f
	s.mu.Unlock()
}

func (s *faultState) get() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

// takeCorrupt reports whether this chunk is to be corrupted, counting it down.
func (s *faultState) takeCorrupt() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.CorruptNextChunks <= 0 {
		return false
	}
	s.f.CorruptNextChunks--
	return true
}

// takeLoseAnswer reports whether this PATCH's answer is to be lost, counting it down.
func (s *faultState) takeLoseAnswer() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.LoseNextAnswers <= 0 {
		return false
	}
	s.f.LoseNextAnswers--
	return true
}

// takeRefuse reports whether this completed upload is to be refused, counting it down.
func (s *faultState) takeRefuse() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.RefuseNextFiles <= 0 {
		return false
	}
	s.f.RefuseNextFiles--
	return true
}

// allow returns how many of want bytes may still be received before the link drops; drop is
// true when the budget ran out (the fault then turns itself off).
func (s *faultState) allow(want int) (n int, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.DropAfterBytes <= 0 {
		return want, false
	}
	if int64(want) < s.f.DropAfterBytes {
		s.f.DropAfterBytes -= int64(want)
		return want, false
	}
	n = int(s.f.DropAfterBytes)
	s.f.DropAfterBytes = 0
	return n, true
}

// errLinkDropped is what a body reader returns once the drop_after_bytes fault fires.
var errLinkDropped = errors.New("rwsserver: injected fault: link dropped")

// dropReader passes a request body through the drop_after_bytes budget and counts the bytes
// received.
type dropReader struct {
	r       io.Reader
	faults  *faultState
	counted func(int)
	dropped bool
}

func (d *dropReader) Read(p []byte) (int, error) {
	if d.dropped {
		return 0, errLinkDropped
	}
	n, err := d.r.Read(p)
	if n > 0 {
		allowed, drop := d.faults.allow(n)
		d.counted(allowed)
		if drop {
			d.dropped = true
			return allowed, errLinkDropped
		}
	}
	return n, err
}
