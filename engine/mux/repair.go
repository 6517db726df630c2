package mux

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"time"
)

// Sentinel errors of crash recovery.
var (
	// ErrNotFragmentedMP4: the file does not start with a complete fragmented MP4 header (an
	// ftyp box, then a moov box holding an mvex box), or a box Repair must read is larger than
	// any File writes. Such a file is left untouched.
	ErrNotFragmentedMP4 = errors.New("not a fragmented MP4")
)

// maxBoxRead caps the moov and moof boxes Repair reads into memory; File writes a few KiB.
const maxBoxRead = 16 << 20

// RepairResult describes a fragmented MP4 after Repair.
type RepairResult struct {
	// Size is how many bytes are kept (the file is truncated to this).
	Size int64
	// Truncated is how many bytes were cut off (0 if the file was intact).
	Truncated int64
	// Fragments is how many complete moof+mdat pairs are kept.
	Fragments int
	// Duration is the media duration of the kept fragments, of the longest track: the end of
	// its last fragment (tfdt plus the sample durations) over its timescale.
	Duration time.Duration
	// Complete reports that the file ended properly: its mfra box (written by Close) is there.
	Complete bool
}

// Repair truncates a fragmented MP4 written by File to its last complete fragment, as after a
// crash, and syncs it. It never grows or rewrites data; it only truncates. A file with no
// complete fragment keeps just its header and reports Fragments == 0. A file whose header
// (ftyp, moov) is not complete, or that is not a fragmented MP4, gives an error wrapping
// ErrNotFragmentedMP4 and is not modified.
func Repair(path string) (RepairResult, error) {
	return repair(path, true, nil)
}

// Inspect is Repair without modifying the file: it reports what Repair would keep.
func Inspect(path string) (RepairResult, error) {
	return repair(path, false, nil)
}

// SHA256File returns the hex sha256 of a file, streamed rather than loaded into memory.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("sha256 %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// repair scans path and, if fix, truncates and syncs it. onFrag, if not nil, is called for
// every complete fragment, in order.
func repair(path string, fix bool, onFrag func(fragment)) (RepairResult, error) {
	flag := os.O_RDONLY
	if fix {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return RepairResult{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return RepairResult{}, err
	}
	if !fi.Mode().IsRegular() {
		return RepairResult{}, fmt.Errorf("%w: %s: not a regular file", ErrNotFragmentedMP4, path)
	}
	res, err := scan(f, fi.Size(), onFrag)
	if err != nil {
		return RepairResult{}, fmt.Errorf("%w: %s: %w", ErrNotFragmentedMP4, path, err)
	}
	if fix && res.Truncated > 0 {
		if err := f.Truncate(res.Size); err != nil {
			return RepairResult{}, fmt.Errorf("repair %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return RepairResult{}, fmt.Errorf("repair %s: sync: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return RepairResult{}, fmt.Errorf("repair %s: %w", path, err)
		}
	}
	return res, nil
}

// fragment is one complete moof+mdat pair found by scan.
type fragment struct {
	Start     int64            // offset of the moof
	MdatStart int64            // offset of the mdat
	End       int64            // end of the mdat
	Samples   map[uint32]int   // samples per track ID
	Ends      map[uint32]int64 // decode end per track ID after this fragment, in track timescale
	EndTime   time.Duration    // Duration after this fragment
}

// track is what the moov says about one track.
type track struct {
	timescale   uint32
	defDuration uint32 // trex default_sample_duration
	defSize     uint32 // trex default_sample_size
}

// boxHeader is a box's position: the box is [start, end), its payload [start+hdr, end).
type boxHeader struct {
	typ        string
	start, end int64
	hdr        int64
}

// readBox reads the header of the top-level box at off. ok is false if the header or the box
// does not fit in the first size bytes, or is malformed (a size smaller than its header, or 0:
// "up to the end of the file", which File never writes).
func readBox(r io.ReaderAt, off, size int64) (boxHeader, bool) {
	var b [16]byte
	if size-off < 8 {
		return boxHeader{}, false
	}
	if _, err := r.ReadAt(b[:8], off); err != nil {
		return boxHeader{}, false
	}
	h := boxHeader{typ: string(b[4:8]), start: off, hdr: 8}
	n := uint64(binary.BigEndian.Uint32(b[:4]))
	if n == 1 {
		if size-off < 16 {
			return boxHeader{}, false
		}
		if _, err := r.ReadAt(b[8:16], off+8); err != nil {
			return boxHeader{}, false
		}
		n = binary.BigEndian.Uint64(b[8:16])
		h.hdr = 16
	}
	if n < uint64(h.hdr) || n > uint64(size-off) {
		return boxHeader{}, false
	}
	h.end = off + int64(n)
	return h, true
}

// readPayload reads a box's payload, which must be at most maxBoxRead bytes.
func readPayload(r io.ReaderAt, h boxHeader) ([]byte, error) {
	n := h.end - h.start - h.hdr
	if n > maxBoxRead {
		return nil, fmt.Errorf("%s box at %d is %d bytes, more than %d", h.typ, h.start, n, maxBoxRead)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, h.start+h.hdr); err != nil {
		return nil, fmt.Errorf("read %s box at %d: %w", h.typ, h.start, err)
	}
	return b, nil
}

// scan walks the top-level boxes of a fragmented MP4 of size bytes: the header (ftyp, any other
// boxes, moov with mvex) must be complete; then every moof followed by a complete mdat (other
// boxes may sit between them) is a fragment; a complete mfra ends the file. The first partial
// or malformed box, a moof not followed by its mdat, or a moof that does not parse or whose
// samples lie outside its mdat ends the walk: everything after the last complete fragment (or
// the mfra) is to be cut.
func scan(r io.ReaderAt, size int64, onFrag func(fragment)) (RepairResult, error) {
	h, ok := readBox(r, 0, size)
	if !ok || h.typ != "ftyp" {
		return RepairResult{}, errors.New("no complete ftyp box at the start")
	}
	off := h.end
	var tracks map[uint32]track
	for tracks == nil {
		h, ok := readBox(r, off, size)
		if !ok {
			return RepairResult{}, fmt.Errorf("header cut or corrupt at byte %d (no complete moov)", off)
		}
		switch h.typ {
		case "moov":
			b, err := readPayload(r, h)
			if err != nil {
				return RepairResult{}, err
			}
			if tracks, err = parseMoov(b); err != nil {
				return RepairResult{}, fmt.Errorf("moov: %w", err)
			}
		case "moof", "mdat", "mfra", "ftyp":
			return RepairResult{}, fmt.Errorf("%s box at %d before the moov", h.typ, off)
		}
		off = h.end
	}

	res := RepairResult{Size: off}
	ends := map[uint32]int64{} // committed decode end per track
	var pending *moofInfo      // a parsed moof waiting for its mdat
walk:
	for off < size {
		h, ok := readBox(r, off, size)
		if !ok {
			break
		}
		switch h.typ {
		case "moof":
			if pending != nil {
				break walk // the previous moof has no mdat
			}
			b, err := readPayload(r, h)
			if err != nil {
				return RepairResult{}, err
			}
			mi, err := parseMoof(b, h.start, tracks, ends)
			if err != nil {
				break walk
			}
			pending = mi
		case "mdat":
			if pending == nil {
				break // stray mdat: kept only if a fragment follows
			}
			if !pending.within(h.start+h.hdr, h.end) {
				break walk
			}
			for id, e := range pending.ends {
				ends[id] = e
			}
			res.Fragments++
			res.Size = h.end
			res.Duration = duration(tracks, ends)
			if onFrag != nil {
				fr := fragment{Start: pending.start, MdatStart: h.start, End: h.end, Samples: pending.samples,
					Ends: map[uint32]int64{}, EndTime: res.Duration}
				for id, e := range ends {
					fr.Ends[id] = e
				}
				onFrag(fr)
			}
			pending = nil
		case "mfra":
			if pending != nil {
				break walk
			}
			res.Size = h.end
			res.Complete = true
			break walk
		case "ftyp", "moov":
			break walk
		}
		off = h.end
	}
	res.Truncated = size - res.Size
	return res, nil
}

// duration is the longest track's decode end.
func duration(tracks map[uint32]track, ends map[uint32]int64) time.Duration {
	var d time.Duration
	for id, e := range ends {
		ts := uint64(tracks[id].timescale)
		if ts == 0 || e <= 0 {
			continue
		}
		v := uint64(e)
		secs, rem := v/ts, v%ts
		var td time.Duration
		if secs > uint64(math.MaxInt64/int64(time.Second)) {
			td = math.MaxInt64
		} else {
			// rem < ts < 2^32, so rem*1e9 fits.
			td = time.Duration(secs)*time.Second + time.Duration(rem*uint64(time.Second)/ts)
		}
		d = max(d, td)
	}
	return d
}

var errBadBox = errors.New("malformed box")

// eachBox calls fn with the type and payload of every box in b, which must hold whole boxes.
func eachBox(b []byte, fn func(typ string, p []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errBadBox
		}
		n := uint64(binary.BigEndian.Uint32(b))
		hdr := uint64(8)
		switch n {
		case 0:
			n = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return errBadBox
			}
			n, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if n < hdr || n > uint64(len(b)) {
			return errBadBox
		}
		if err := fn(string(b[4:8]), b[hdr:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// fullBox splits a full box's payload into version, flags and the rest.
func fullBox(p []byte) (byte, uint32, []byte, error) {
	if len(p) < 4 {
		return 0, 0, nil, errBadBox
	}
	return p[0], binary.BigEndian.Uint32(p) & 0xffffff, p[4:], nil
}

// parseMoov reads the tracks (tkhd track_ID, mdhd timescale, trex defaults) of a moov payload.
// It fails if there is no mvex: the file is not fragmented.
func parseMoov(b []byte) (map[uint32]track, error) {
	tracks := map[uint32]track{}
	trex := map[uint32]track{}
	mvex := false
	err := eachBox(b, func(typ string, p []byte) error {
		switch typ {
		case "trak":
			var id, ts uint32
			haveID := false
			err := eachBox(p, func(typ string, p []byte) error {
				switch typ {
				case "tkhd":
					v, _, p, err := fullBox(p)
					if err != nil {
						return err
					}
					at := 8
					if v == 1 {
						at = 16
					}
					if len(p) < at+4 {
						return errBadBox
					}
					id, haveID = binary.BigEndian.Uint32(p[at:]), true
				case "mdia":
					return eachBox(p, func(typ string, p []byte) error {
						if typ != "mdhd" {
							return nil
						}
						v, _, p, err := fullBox(p)
						if err != nil {
							return err
						}
						at := 8
						if v == 1 {
							at = 16
						}
						if len(p) < at+4 {
							return errBadBox
						}
						ts = binary.BigEndian.Uint32(p[at:])
						return nil
					})
				}
				return nil
			})
			if err != nil {
				return err
			}
			if !haveID {
				return errors.New("trak without tkhd")
			}
			tracks[id] = track{timescale: ts}
		case "mvex":
			mvex = true
			return eachBox(p, func(typ string, p []byte) error {
				if typ != "trex" {
					return nil
				}
				_, _, p, err := fullBox(p)
				if err != nil {
					return err
				}
				if len(p) < 20 {
					return errBadBox
				}
				trex[binary.BigEndian.Uint32(p)] = track{
					defDuration: binary.BigEndian.Uint32(p[8:]),
					defSize:     binary.BigEndian.Uint32(p[12:]),
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !mvex {
		return nil, errors.New("no mvex box: not a fragmented MP4")
	}
	for id, t := range trex {
		if tr, ok := tracks[id]; ok {
			tr.defDuration, tr.defSize = t.defDuration, t.defSize
			tracks[id] = tr
		}
	}
	return tracks, nil
}

// moofInfo is a parsed moof.
type moofInfo struct {
	start   int64
	samples map[uint32]int
	ends    map[uint32]int64 // decode end per track after this fragment
	runs    [][2]int64       // sample data [start, end) of every trun, absolute
}

// within reports whether every run's data lies in [from, to). Empty runs point nowhere.
func (m *moofInfo) within(from, to int64) bool {
	for _, r := range m.runs {
		if r[0] == r[1] {
			continue
		}
		if r[0] < from || r[1] > to || r[0] > r[1] {
			return false
		}
	}
	return true
}

// tfhd and trun flags.
const (
	tfhdBaseDataOffset    = 0x000001
	tfhdSampleDescIndex   = 0x000002
	tfhdDefaultDuration   = 0x000008
	tfhdDefaultSize       = 0x000010
	tfhdDefaultFlags      = 0x000020
	tfhdDefaultBaseIsMoof = 0x020000
	trunDataOffset        = 0x000001
	trunFirstSampleFlags  = 0x000004
	trunSampleDuration    = 0x000100
	trunSampleSize        = 0x000200
	trunSampleFlags       = 0x000400
	trunSampleCTO         = 0x000800
)

var errOverflow = errors.New("value out of range")

// addMul returns a + n*m, failing instead of overflowing int64.
func addMul(a int64, n, m uint64) (int64, error) {
	hi, lo := bits.Mul64(n, m)
	if hi != 0 || lo > math.MaxInt64 || a < 0 || int64(lo) > math.MaxInt64-a {
		return 0, errOverflow
	}
	return a + int64(lo), nil
}

// parseMoof parses the payload of the moof at start: per traf the track, its decode start (tfdt,
// else where the track ended so far), sample durations and the data ranges of its runs.
func parseMoof(b []byte, start int64, tracks map[uint32]track, prev map[uint32]int64) (*moofInfo, error) {
	m := &moofInfo{start: start, samples: map[uint32]int{}, ends: map[uint32]int64{}}
	nextBase := start // implicit base of the next traf without default-base-is-moof
	trafs := 0
	err := eachBox(b, func(typ string, p []byte) error {
		if typ != "traf" {
			return nil
		}
		trafs++
		var (
			tfhdSeen        bool
			id              uint32
			tr              track
			base            int64
			defDur, defSize uint32
			decode          int64
			haveTfdt        bool
			dataEnd         int64
			firstRun        = true
			runs            [][2]int64
			durSum          int64
			samples         int
		)
		// tfhd comes first; tfdt and trun follow in any order but trun needs tfhd.
		err := eachBox(p, func(typ string, p []byte) error {
			switch typ {
			case "tfhd":
				_, fl, q, err := fullBox(p)
				if err != nil {
					return err
				}
				if len(q) < 4 {
					return errBadBox
				}
				id = binary.BigEndian.Uint32(q)
				q = q[4:]
				var ok bool
				if tr, ok = tracks[id]; !ok {
					return fmt.Errorf("traf of unknown track %d", id)
				}
				defDur, defSize = tr.defDuration, tr.defSize
				base = nextBase
				if fl&tfhdDefaultBaseIsMoof != 0 {
					base = start
				}
				next := func() (uint32, error) {
					if len(q) < 4 {
						return 0, errBadBox
					}
					v := binary.BigEndian.Uint32(q)
					q = q[4:]
					return v, nil
				}
				if fl&tfhdBaseDataOffset != 0 {
					if len(q) < 8 {
						return errBadBox
					}
					v := binary.BigEndian.Uint64(q)
					if v > math.MaxInt64 {
						return errOverflow
					}
					base = int64(v)
					q = q[8:]
				}
				if fl&tfhdSampleDescIndex != 0 {
					if _, err := next(); err != nil {
						return err
					}
				}
				if fl&tfhdDefaultDuration != 0 {
					if defDur, err = next(); err != nil {
						return err
					}
				}
				if fl&tfhdDefaultSize != 0 {
					if defSize, err = next(); err != nil {
						return err
					}
				}
				if fl&tfhdDefaultFlags != 0 {
					if _, err := next(); err != nil {
						return err
					}
				}
				tfhdSeen = true
				dataEnd = base
			case "tfdt":
				v, _, q, err := fullBox(p)
				if err != nil {
					return err
				}
				var t uint64
				if v == 1 {
					if len(q) < 8 {
						return errBadBox
					}
					t = binary.BigEndian.Uint64(q)
				} else {
					if len(q) < 4 {
						return errBadBox
					}
					t = uint64(binary.BigEndian.Uint32(q))
				}
				if t > math.MaxInt64 {
					return errOverflow
				}
				decode, haveTfdt = int64(t), true
			case "trun":
				if !tfhdSeen {
					return errors.New("trun before tfhd")
				}
				_, fl, q, err := fullBox(p)
				if err != nil {
					return err
				}
				if len(q) < 4 {
					return errBadBox
				}
				count := uint64(binary.BigEndian.Uint32(q))
				q = q[4:]
				runStart := dataEnd
				if fl&trunDataOffset != 0 {
					if len(q) < 4 {
						return errBadBox
					}
					runStart = base + int64(int32(binary.BigEndian.Uint32(q)))
					q = q[4:]
				} else if firstRun {
					runStart = base
				}
				firstRun = false
				if fl&trunFirstSampleFlags != 0 {
					if len(q) < 4 {
						return errBadBox
					}
					q = q[4:]
				}
				per := uint64(0)
				for _, f := range []uint32{trunSampleDuration, trunSampleSize, trunSampleFlags, trunSampleCTO} {
					if fl&f != 0 {
						per += 4
					}
				}
				// Bounded by the moof size: never loop over a garbage count.
				if hi, lo := bits.Mul64(count, per); hi != 0 || lo > uint64(len(q)) {
					return errBadBox
				}
				runEnd := runStart
				if fl&trunSampleDuration == 0 {
					if durSum, err = addMul(durSum, count, uint64(defDur)); err != nil {
						return err
					}
				}
				if fl&trunSampleSize == 0 {
					if runEnd, err = addMul(runEnd, count, uint64(defSize)); err != nil {
						return err
					}
				}
				if per > 0 {
					for i := uint64(0); i < count; i++ {
						s := q[i*per : (i+1)*per]
						if fl&trunSampleDuration != 0 {
							if durSum, err = addMul(durSum, 1, uint64(binary.BigEndian.Uint32(s))); err != nil {
								return err
							}
							s = s[4:]
						}
						if fl&trunSampleSize != 0 {
							if runEnd, err = addMul(runEnd, 1, uint64(binary.BigEndian.Uint32(s))); err != nil {
								return err
							}
						}
					}
				}
				if count > math.MaxInt32 {
					return errOverflow
				}
				samples += int(count)
				runs = append(runs, [2]int64{runStart, runEnd})
				dataEnd = runEnd
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !tfhdSeen {
			return errors.New("traf without tfhd")
		}
		if !haveTfdt {
			// No tfdt: the fragment follows the track's previous one (in this moof or before).
			if e, ok := m.ends[id]; ok {
				decode = e
			} else {
				decode = prev[id]
			}
		}
		end, err := addMul(decode, 1, uint64(durSum))
		if err != nil {
			return err
		}
		m.ends[id] = end
		m.samples[id] += samples
		m.runs = append(m.runs, runs...)
		nextBase = dataEnd
		return nil
	})
	if err != nil {
		return nil, err
	}
	if trafs == 0 {
		return nil, errors.New("moof without traf")
	}
	return m, nil
}
