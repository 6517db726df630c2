// Package mux writes encoded video into crash-safe fragmented MP4 files: fragments of at most
// half a second, flushed as they complete and synced to disk in the background, so a crash loses
// at most the fragment being written. A write that fails (a full disk) cuts the file back to
// its last complete fragment at once. It also rotates segments.
package mux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/screenrec/recorder/engine/internal/avext"
)

// DefaultFragmentDuration bounds what a crash can lose: the open fragment, plus the frames
// still in the capture and the encoder. Half a second keeps that within the promised second
// with room for a loaded machine's lag; a fragment's header costs some 100 bytes.
const DefaultFragmentDuration = 500 * time.Millisecond

// DefaultSyncInterval is how often written data is forced to disk.
const DefaultSyncInterval = time.Second

// Stream describes one video track of a file.
type Stream struct {
	// Codec is the opened encoder context the stream's parameters are copied from.
	Codec *astiav.CodecContext
	// TimeBase is the time base of the packets given to WritePacket.
	TimeBase astiav.Rational
	// FPS is the nominal frame rate, written as the stream's average rate.
	FPS int
	// Title names the track (e.g. the monitor); written as its handler name.
	Title string
}

// Options tune the file.
type Options struct {
	// FragmentDuration is the longest fragment (default DefaultFragmentDuration).
	FragmentDuration time.Duration
	// SyncInterval is how often data is fsynced (default 1 s; negative disables syncing),
	// at most: only after something was written.
	SyncInterval time.Duration
	// Now, when set, is the current time in the streams' TimeBase, counted from the file's
	// start as packets are. While a stream gets no packets, its last sample on disk is then
	// extended to now at every sync: a crash loses at most a SyncInterval of a still screen,
	// with no frame encoded for it (the frames an encoder holds show the same picture).
	Now func() int64
}

// File is one MP4 file being written. WritePacket and Close may be called from several
// goroutines.
type File struct {
	path    string
	fc      *astiav.FormatContext
	pb      *astiav.IOContext
	f       *os.File
	streams []Stream
	bytes   atomic.Int64
	mu      sync.Mutex
	closed  bool
	// held is each stream's newest packet (in the muxer's time base), written once the next
	// one's timestamp gives its duration: each sample lasts until the next, so fragments
	// follow each other without gaps. heldAt is when it came.
	held   []*astiav.Packet
	holds  []bool
	heldAt []time.Time
	// prov is, per stream, the last sample written before its duration was known (a still
	// screen's frame flushed to disk for crash safety, or the first one): its duration field
	// in the file is patched when the next packet (or the end) comes.
	prov     []provisional
	firstOut bool // the first fragment is written
	fragment time.Duration
	now      func() int64  // Options.Now
	every    time.Duration // Options.SyncInterval, or the default when syncing is off
	dirty    bool          // written since the last fsync
	stop     chan struct{}
	kick     chan struct{} // the sync loop has new work to schedule
	loopDue  time.Time     // when the sync loop wakes next; zero when it waits for a kick
	synced   sync.WaitGroup
	// ioErr is the operating system's error of the first failed write (e.g. ENOSPC): FFmpeg
	// only sees "Unknown error occurred". From then on nothing more is written, the file is
	// cut back to its last complete fragment (cut), and the error is reported once (reported).
	ioErr error
	// syncErr is the first failure of a periodic fsync: what was written may not be on the
	// disk. Close reports it (with the file's own sync there) when nothing else went wrong.
	syncErr  error
	cut      bool
	reported bool
}

// Create creates path (truncating it) and writes the MP4 header. metadata becomes container
// tags (readable with ffprobe); keys are written in sorted order.
func Create(path string, streams []Stream, metadata map[string]string, o Options) (*File, error) {
	if len(streams) == 0 {
		return nil, fmt.Errorf("%w: %s: no streams", ErrCreate, path)
	}
	if o.FragmentDuration <= 0 {
		o.FragmentDuration = DefaultFragmentDuration
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	osf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCreate, err)
	}
	m := &File{path: path, f: osf, streams: streams, stop: make(chan struct{}), kick: make(chan struct{}, 1),
		fragment: o.FragmentDuration, now: o.Now, every: o.SyncInterval,
		held: make([]*astiav.Packet, len(streams)), holds: make([]bool, len(streams)),
		heldAt: make([]time.Time, len(streams)), prov: make([]provisional, len(streams))}
	for i := range streams {
		m.held[i] = astiav.AllocPacket()
		m.prov[i].off = -1
	}
	if err := m.open(metadata, o); err != nil {
		m.free()
		osf.Close()
		os.Remove(path)
		return nil, err
	}
	if m.every < 0 {
		m.every = DefaultSyncInterval
	}
	if o.SyncInterval > 0 {
		m.synced.Add(1)
		go m.syncLoop(o.SyncInterval)
	}
	return m, nil
}

func (m *File) open(metadata map[string]string, o Options) error {
	fc, err := astiav.AllocOutputFormatContext(nil, "mp4", m.path)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCreate, m.path, err)
	}
	m.fc = fc
	// Our own IO context: FFmpeg writes through Go so bytes are counted and synced here.
	m.pb, err = astiav.AllocIOContext(64<<10, true, nil, m.seek, m.write)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCreate, m.path, err)
	}
	fc.SetPb(m.pb)
	// Flush the IO buffer after every packet so a finished fragment is in the kernel's hands
	// at once, not when the next 64 KiB fill up.
	fc.SetFlags(fc.Flags().Add(astiav.FormatContextFlagFlushPackets))
	for i, s := range m.streams {
		st := fc.NewStream(nil)
		if st == nil {
			return fmt.Errorf("%w: %s: cannot add stream", ErrCreate, m.path)
		}
		if err := st.CodecParameters().FromCodecContext(s.Codec); err != nil {
			return fmt.Errorf("%w: %s: stream %d parameters: %w", ErrCreate, m.path, i, err)
		}
		st.SetTimeBase(s.TimeBase)
		if s.FPS > 0 {
			st.SetAvgFrameRate(astiav.NewRational(s.FPS, 1))
		}
		if s.Title != "" {
			if err := avext.SetStreamMetadata(fc, i, "handler_name", s.Title); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrCreate, m.path, err)
			}
		}
	}
	keys := make([]string, 0, len(metadata))
	for k := range metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := avext.SetFormatMetadata(fc, k, metadata[k]); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCreate, m.path, err)
		}
	}
	opts := astiav.NewDictionary()
	defer opts.Free()
	// empty_moov+frag_keyframe: playable however the file ends; frag_duration: fragments of at
	// most FragmentDuration even between keyframes; use_metadata_tags: keep our own tag keys.
	if err := opts.Set("movflags", "frag_keyframe+empty_moov+default_base_moof+use_metadata_tags", 0); err != nil {
		return fmt.Errorf("%w: %w", ErrCreate, err)
	}
	if err := opts.Set("frag_duration", strconv.FormatInt(o.FragmentDuration.Microseconds(), 10), 0); err != nil {
		return fmt.Errorf("%w: %w", ErrCreate, err)
	}
	if err := fc.WriteHeader(opts); err != nil {
		return fmt.Errorf("%w: %s: header: %w", ErrCreate, m.path, err)
	}
	return nil
}

// write is FFmpeg's output callback; it runs under m.mu (every muxer call does).
func (m *File) write(b []byte) (int, error) {
	if m.ioErr != nil {
		// The file is (being) cut back: a later write would land past its new end.
		return 0, m.ioErr
	}
	n, err := m.f.Write(b)
	m.bytes.Add(int64(n))
	m.dirty = true
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		m.ioErr = err
	}
	return n, err
}

// failed is the error to report for a muxer call that failed with err: the operating
// system's when a write failed (so that errors.Is finds e.g. syscall.ENOSPC), after cutting
// the file back to its last complete fragment at once, as the crash repair does. m.mu is
// held.
func (m *File) failed(what string, err error) error {
	if m.ioErr == nil {
		return fmt.Errorf("%w: %s: %s%w", ErrWrite, m.path, what, err)
	}
	m.reported = true
	werr := fmt.Errorf("%w: %s: %s%w", ErrWrite, m.path, what, m.ioErr)
	if m.cut {
		return werr
	}
	m.cut = true
	res, rerr := Repair(m.path)
	if rerr != nil {
		return errors.Join(werr, fmt.Errorf("cut back to the last complete fragment: %w", rerr))
	}
	m.bytes.Store(res.Size)
	return werr
}

// FFmpeg's seek flags: AVSEEK_SIZE asks for the size, AVSEEK_FORCE may be or-ed in.
const (
	avseekSize  = 0x10000
	avseekForce = 0x20000
)

func (m *File) seek(offset int64, whence int) (int64, error) {
	if whence&avseekSize != 0 {
		fi, err := m.f.Stat()
		if err != nil {
			return -1, err
		}
		return fi.Size(), nil
	}
	return m.f.Seek(offset, whence&^avseekForce)
}

// syncLoop writes out idle frames, extends still streams' last samples (Options.Now) and
// fsyncs, each only when due: it sleeps while nothing was written and no frame waits, so an
// idle recording costs no wake-ups but the extension's, once a SyncInterval.
func (m *File) syncLoop(every time.Duration) {
	defer m.synced.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	synced := time.Now()
	for {
		m.mu.Lock()
		due, ok := m.nextDue(synced, every)
		m.loopDue = due // zero when !ok
		m.mu.Unlock()
		var wake <-chan time.Time
		if ok {
			t.Reset(time.Until(due))
			wake = t.C
		}
		select {
		case <-m.stop:
			return
		case <-m.kick:
			t.Stop()
			continue
		case <-wake:
		}
		m.flushIdle()
		if now := time.Now(); now.Sub(synced) >= every {
			m.mu.Lock()
			m.extend()
			dirty := m.dirty
			m.dirty = false
			m.mu.Unlock()
			if dirty {
				if err := m.f.Sync(); err != nil {
					m.mu.Lock()
					if m.syncErr == nil {
						m.syncErr = err
					}
					m.mu.Unlock()
				}
			}
			synced = now
		}
	}
}

// nextDue is when the sync loop has something to do: write out a frame that has waited half
// a fragment for its successor (a still screen sends none), or, a SyncInterval after the last
// sync, fsync what was written and extend still streams. ok is false when nothing is due
// until a packet comes (which kicks the loop). m.mu is held.
func (m *File) nextDue(synced time.Time, every time.Duration) (due time.Time, ok bool) {
	if m.closed || m.ioErr != nil {
		return due, false
	}
	for i := range m.streams {
		if m.holds[i] {
			if at := m.heldAt[i].Add(m.fragment / 2); !ok || at.Before(due) {
				due, ok = at, true
			}
		}
	}
	if m.dirty || m.extendable() {
		if at := synced.Add(every); !ok || at.Before(due) {
			due, ok = at, true
		}
	}
	return due, ok
}

// extendable reports whether a stream's last sample on disk may be extended (Options.Now).
// m.mu is held.
func (m *File) extendable() bool {
	if m.now == nil {
		return false
	}
	for i := range m.prov {
		if m.prov[i].off >= 0 {
			return true
		}
	}
	return false
}

// extend makes each stream's last sample on disk, written before its duration was known,
// last until now: should the recorder die, the file still spans the time its screen was
// still. The next packet, or the end, sets its real duration (release). m.mu is held.
func (m *File) extend() {
	if m.now == nil || m.ioErr != nil || m.closed {
		return
	}
	now := m.now()
	for i := range m.prov {
		p := &m.prov[i]
		if p.off < 0 {
			continue
		}
		end := astiav.RescaleQ(now, m.streams[i].TimeBase, m.fc.Streams()[i].TimeBase())
		if err := m.patchDuration(p, end-p.dts); err != nil {
			return // in ioErr: reported by the next WritePacket or Close
		}
	}
}

// patchDuration writes d (if longer than what is there) as the duration of the provisional
// sample p. m.mu is held.
func (m *File) patchDuration(p *provisional, d int64) error {
	d = min(d, math.MaxUint32)
	if d <= p.ext {
		return nil
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(d))
	if _, err := m.f.WriteAt(b[:], p.off); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		m.ioErr = err
		return err
	}
	p.ext = d
	m.dirty = true
	return nil
}

// flushIdle writes out the frames that have waited half a fragment for their successor: a
// still screen (not encoded) sends no next packet for a while, and without this its newest
// frame would sit in memory, lost to a crash.
func (m *File) flushIdle() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.ioErr != nil {
		return
	}
	which := make([]bool, len(m.streams))
	some := false
	for i := range m.streams {
		which[i] = m.holds[i] && time.Since(m.heldAt[i]) >= m.fragment/2
		some = some || which[i]
	}
	if !some {
		return
	}
	// Best effort, like the sync: a failing file fails its next WritePacket or Close too.
	// A failed write is cut back at once all the same.
	if err := m.flushProvisional(which); err != nil {
		_ = m.failed("", err)
		m.reported = false // still to be reported by WritePacket or Close
	}
}

// Path is the file's path.
func (m *File) Path() string { return m.path }

// Bytes is how many bytes have been handed to the operating system so far.
func (m *File) Bytes() int64 { return m.bytes.Load() }

// WritePacket writes pkt (timestamped in the stream's TimeBase) to stream idx. It takes pkt's
// reference: pkt is blank afterwards. The packet is held until the stream's next packet (or
// the end, see EndStream and CloseAt) gives its duration: each sample lasts until the next.
func (m *File) WritePacket(idx int, pkt *astiav.Packet) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		pkt.Unref()
		return ErrClosed
	}
	if m.ioErr != nil {
		pkt.Unref()
		return m.failed("", m.ioErr) // a background flush failed
	}
	pkt.SetStreamIndex(idx)
	// The mp4 muxer picks its own stream time base in WriteHeader.
	pkt.RescaleTs(m.streams[idx].TimeBase, m.fc.Streams()[idx].TimeBase())
	// Where extend had put the stream's end on disk: a frame an encoder held while the
	// screen was still comes out long after its time, and the file must not end at it.
	extEnd := int64(-1)
	if p := m.prov[idx]; p.off >= 0 && p.ext > 0 {
		extEnd = p.dts + p.ext
	}
	if err := m.release(idx, pkt.Dts()); err != nil {
		pkt.Unref()
		return err
	}
	m.held[idx].MoveRef(pkt)
	m.holds[idx], m.heldAt[idx] = true, time.Now()
	dts := m.held[idx].Dts()
	end := extEnd
	if m.now != nil {
		// A packet a sync interval old (the first one of a loaded start, a still frame the
		// encoder let out late) is on disk and lasting until now at once, not at the next
		// sync: a crash in between would lose the time since it.
		now := astiav.RescaleQ(m.now(), m.streams[idx].TimeBase, m.fc.Streams()[idx].TimeBase())
		if old := astiav.RescaleQ(m.every.Microseconds(), astiav.NewRational(1, 1_000_000), m.fc.Streams()[idx].TimeBase()); now-dts >= old {
			end = max(end, now)
		}
	}
	if m.loopDue.IsZero() || m.loopDue.After(m.heldAt[idx].Add(m.fragment/2)) {
		// The sync loop sleeps longer than this packet may wait for its successor.
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	if !m.firstOut && !slices.Contains(m.holds, false) {
		// Write the first fragment now instead of after FragmentDuration: the file is
		// playable, and survives a crash, from its first frame.
		if err := m.flushProvisional(m.holds); err != nil {
			return m.failed("first fragment: ", err)
		}
	}
	if end > dts && m.firstOut {
		if m.holds[idx] {
			which := make([]bool, len(m.streams))
			which[idx] = true
			if err := m.flushProvisional(which); err != nil {
				return m.failed("", err)
			}
		}
		if p := &m.prov[idx]; p.off >= 0 && p.dts == dts {
			if err := m.patchDuration(p, end-dts); err != nil {
				return m.failed("", err)
			}
		}
	}
	return nil
}

// release ends stream idx's last sample at next (in the muxer's time base): the held packet
// is written with its duration, or the duration of a sample written before is patched.
func (m *File) release(idx int, next int64) error {
	if p := &m.prov[idx]; p.off >= 0 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(min(max(1, next-p.dts), math.MaxUint32)))
		if _, err := m.f.WriteAt(b[:], p.off); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			m.ioErr = err
			return m.failed("", err)
		}
		p.off = -1
	}
	if !m.holds[idx] {
		return nil
	}
	h := m.held[idx]
	h.SetDuration(max(1, next-h.Dts()))
	m.holds[idx] = false
	err := m.fc.WriteFrame(h)
	h.Unref()
	if err != nil {
		return m.failed("", err)
	}
	return nil
}

// provisional is a sample written before its duration was known.
type provisional struct {
	off int64 // file offset of its 4-byte duration, -1 if none
	dts int64 // in the muxer's time base
	dur int64 // its packet's own duration, for a file closed without an end
	ext int64 // the duration extend last wrote there (0: the placeholder)
}

// flushProvisional writes the held packets of the streams in which, with a duration of one
// tick, then the open fragment, and notes where those durations are in the file: the next
// packet of each stream patches its sample to last until it (release). The next fragment is
// marked discontinuous, so the muxer starts it at its own first timestamp, which the
// patched durations add up to. m.mu is held.
func (m *File) flushProvisional(which []bool) error {
	m.pb.Flush()
	if m.ioErr != nil {
		return m.ioErr
	}
	start, err := m.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	type written struct {
		idx      int
		dts, dur int64
	}
	var ws []written
	for i, w := range which {
		if !w || !m.holds[i] {
			continue
		}
		h := m.held[i]
		ws = append(ws, written{i, h.Dts(), h.Duration()})
		h.SetDuration(1) // less than any real duration: the sample gets a duration field of its own
		m.holds[i] = false
		err := m.fc.WriteFrame(h)
		h.Unref()
		if err != nil {
			return err
		}
	}
	if err := m.fc.WriteFrame(nil); err != nil {
		return err
	}
	m.firstOut = true
	// Set before anything else can fail: the next fragment must start at its own time.
	if err := avext.SetMuxerOption(m.fc, "movflags", "+frag_discont"); err != nil {
		return err
	}
	m.pb.Flush()
	if m.ioErr != nil {
		return m.ioErr
	}
	end, err := m.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	offs, err := lastDurationFields(m.f, start, end)
	if err != nil {
		return err
	}
	for _, w := range ws {
		off, ok := offs[uint32(w.idx+1)] // the muxer numbers tracks from 1 in stream order
		if !ok || off < 0 {
			// Not where the muxer is known to write it: the sample keeps its placeholder,
			// a hole in the timeline but no harm to the file.
			continue
		}
		m.prov[w.idx] = provisional{off: off, dts: w.dts, dur: max(1, w.dur)}
	}
	return nil
}

// EndStream ends stream idx's last sample at end (in the stream's TimeBase): the stream gets
// no more packets in this file (its track moved on to the next segment).
func (m *File) EndStream(idx int, end int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.ioErr != nil {
		return m.failed("", m.ioErr)
	}
	return m.release(idx, astiav.RescaleQ(end, m.streams[idx].TimeBase, m.fc.Streams()[idx].TimeBase()))
}

// Close writes the trailer, syncs and closes the file; it is idempotent. After a failed
// write the file still ends at its last complete fragment. Each stream's last sample keeps its
// packet's duration; CloseAt ends them at a given time instead.
func (m *File) Close() error { return m.CloseAt(NoEnd) }

// NoEnd, given to CloseAt, leaves each stream's last sample its packet's duration.
const NoEnd = math.MinInt64

// CloseAt closes the file as Close does, each stream's last sample lasting until end (in the
// streams' TimeBase, as the packets' timestamps; at least one tick).
func (m *File) CloseAt(end int64) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	m.mu.Unlock()
	// Not under mu: the sync loop may be waiting for it (flushIdle), and sees closed then.
	m.synced.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	var firstErr error
	for i := range m.streams {
		if m.ioErr != nil {
			break
		}
		next := int64(math.MaxInt64)
		if end != NoEnd {
			next = astiav.RescaleQ(end, m.streams[i].TimeBase, m.fc.Streams()[i].TimeBase())
		} else if m.holds[i] {
			next = m.held[i].Dts() + max(1, m.held[i].Duration())
		} else if m.prov[i].off >= 0 {
			next = m.prov[i].dts + m.prov[i].dur
		}
		if err := m.release(i, next); err != nil {
			firstErr = err
		}
	}
	if m.ioErr == nil {
		if err := m.fc.WriteTrailer(); err != nil {
			firstErr = m.failed("trailer: ", err)
		}
	} else if !m.reported {
		firstErr = m.failed("", m.ioErr)
	}
	// A write failure already reported by WritePacket is not reported again: the file was cut
	// back to its last complete fragment then, and ends there (with no trailer: the crash
	// repair's form of a file).
	hadIOErr := m.ioErr != nil
	m.pb.Flush() // a failing write lands in ioErr
	if !hadIOErr && m.ioErr != nil && firstErr == nil {
		firstErr = m.failed("flush: ", m.ioErr)
	}
	m.free()
	if err := m.f.Sync(); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("%w: %s: sync: %w", ErrWrite, m.path, err)
	}
	if m.syncErr != nil && firstErr == nil {
		firstErr = fmt.Errorf("%w: %s: an earlier sync: %w", ErrWrite, m.path, m.syncErr)
	}
	if err := m.f.Close(); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("%w: %s: %w", ErrWrite, m.path, err)
	}
	return firstErr
}

func (m *File) free() {
	for _, p := range m.held {
		p.Free()
	}
	m.held = nil
	if m.fc != nil {
		m.fc.Free()
		m.fc = nil
	}
	if m.pb != nil {
		m.pb.Free()
		m.pb = nil
	}
}
