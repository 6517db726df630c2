package mux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	mp4bits "github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
)

// The boxes of a fragmented MP4 that crash recovery reads. The top-level walk is by hand,
// because the file may end inside any box and only the file's size says where; the moov and
// moof boxes, read whole, are decoded by mp4ff.

// maxBoxRead caps the moov and moof boxes Repair reads into memory; File writes a few KiB.
const maxBoxRead = 16 << 20

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

// readWhole reads the whole box h, header included; its payload must be at most maxBoxRead
// bytes.
func readWhole(r io.ReaderAt, h boxHeader) ([]byte, error) {
	if n := h.end - h.start - h.hdr; n > maxBoxRead {
		return nil, fmt.Errorf("%s box at %d is %d bytes, more than %d", h.typ, h.start, n, maxBoxRead)
	}
	b := make([]byte, h.end-h.start)
	if _, err := r.ReadAt(b, h.start); err != nil {
		return nil, fmt.Errorf("read %s box at %d: %w", h.typ, h.start, err)
	}
	return b, nil
}

// decodeBox decodes b, the whole box h, with its children, as a T (*mp4.MoovBox, *mp4.MoofBox).
func decodeBox[T mp4.Box](h boxHeader, b []byte) (box T, err error) {
	// These bytes are whatever a crash left: a decoder bug must not take down the engine at
	// startup, and again at every restart.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decode %s box at %d: %v", h.typ, h.start, p)
		}
	}()
	d, err := mp4.DecodeBoxSR(uint64(h.start), mp4bits.NewFixedSliceReader(b))
	if err != nil {
		return box, err
	}
	box, ok := d.(T)
	if !ok {
		return box, fmt.Errorf("%s box at %d decoded as %T", h.typ, h.start, d)
	}
	return box, nil
}

// track is what the moov says about one track.
type track struct {
	timescale   uint32
	defDuration uint32 // trex default_sample_duration
	defSize     uint32 // trex default_sample_size
}

// moovTracks reads the tracks (tkhd track_ID, mdhd timescale, trex defaults) of a moov. It
// fails if there is no mvex: the file is not fragmented.
func moovTracks(moov *mp4.MoovBox) (map[uint32]track, error) {
	if moov.Mvex == nil {
		return nil, errors.New("no mvex box: not a fragmented MP4")
	}
	tracks := map[uint32]track{}
	for _, trak := range moov.Traks {
		if trak.Tkhd == nil {
			return nil, errors.New("trak without tkhd")
		}
		var t track
		if trak.Mdia != nil && trak.Mdia.Mdhd != nil {
			t.timescale = trak.Mdia.Mdhd.Timescale
		}
		if trex, ok := moov.Mvex.GetTrex(trak.Tkhd.TrackID); ok {
			t.defDuration, t.defSize = trex.DefaultSampleDuration, trex.DefaultSampleSize
		}
		tracks[trak.Tkhd.TrackID] = t
	}
	return tracks, nil
}

// moofInfo is what a moof says about its fragment.
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

var errOverflow = errors.New("value out of range")

// addMul returns a + n*m, failing instead of overflowing int64.
func addMul(a int64, n, m uint64) (int64, error) {
	hi, lo := bits.Mul64(n, m)
	if hi != 0 || lo > math.MaxInt64 || a < 0 || int64(lo) > math.MaxInt64-a {
		return 0, errOverflow
	}
	return a + int64(lo), nil
}

// parseMoof reads the moof at start: per traf the track, its decode start (tfdt, else where the
// track ended so far: prev, or an earlier traf of this moof), sample durations and the data
// ranges of its runs.
func parseMoof(moof *mp4.MoofBox, start int64, tracks map[uint32]track, prev map[uint32]int64) (*moofInfo, error) {
	if len(moof.Trafs) == 0 {
		return nil, errors.New("moof without traf")
	}
	m := &moofInfo{start: start, samples: map[uint32]int{}, ends: map[uint32]int64{}}
	nextBase := start // implicit base of the next traf without default-base-is-moof
	for _, traf := range moof.Trafs {
		tfhd := traf.Tfhd
		if tfhd == nil {
			return nil, errors.New("traf without tfhd")
		}
		id := tfhd.TrackID
		tr, ok := tracks[id]
		if !ok {
			return nil, fmt.Errorf("traf of unknown track %d", id)
		}
		base := nextBase
		switch {
		case tfhd.HasBaseDataOffset():
			if tfhd.BaseDataOffset > math.MaxInt64 {
				return nil, errOverflow
			}
			base = int64(tfhd.BaseDataOffset)
		case tfhd.DefaultBaseIfMoof():
			base = start
		}
		defDur, defSize := tr.defDuration, tr.defSize
		if tfhd.HasDefaultSampleDuration() {
			defDur = tfhd.DefaultSampleDuration
		}
		if tfhd.HasDefaultSampleSize() {
			defSize = tfhd.DefaultSampleSize
		}
		end, ok := m.ends[id]
		if !ok {
			end = prev[id]
		}
		if traf.Tfdt != nil {
			t := traf.Tfdt.BaseMediaDecodeTime()
			if t > math.MaxInt64 {
				return nil, errOverflow
			}
			end = int64(t)
		}
		dataEnd := base // a trun without data_offset follows the previous one
		for _, trun := range traf.Truns {
			runStart := dataEnd
			if trun.HasDataOffset() {
				runStart = base + int64(trun.DataOffset)
			}
			runEnd := runStart
			for _, s := range trun.Samples {
				dur, size := s.Dur, s.Size
				if !trun.HasSampleDuration() {
					dur = defDur
				}
				if !trun.HasSampleSize() {
					size = defSize
				}
				var err error
				if end, err = addMul(end, 1, uint64(dur)); err != nil {
					return nil, err
				}
				if runEnd, err = addMul(runEnd, 1, uint64(size)); err != nil {
					return nil, err
				}
			}
			m.samples[id] += len(trun.Samples)
			m.runs = append(m.runs, [2]int64{runStart, runEnd})
			dataEnd = runEnd
		}
		m.ends[id] = end
		nextBase = dataEnd
	}
	return m, nil
}

// lastDurationFields finds, in the fragment(s) written in [start, end) of r, where the
// duration of each track's last sample is stored: its trun entry, or the tfhd default when
// the track has a single sample in the fragment. It maps track IDs to file offsets; -1 when
// the field is shared with other samples (a later fragment's answer replaces an earlier's).
func lastDurationFields(r io.ReaderAt, start, end int64) (map[uint32]int64, error) {
	out := map[uint32]int64{}
	for off := start; off < end; {
		h, ok := readBox(r, off, end)
		if !ok {
			return nil, fmt.Errorf("malformed box at %d", off)
		}
		if h.typ == "moof" {
			b, err := readWhole(r, h)
			if err != nil {
				return nil, err
			}
			if err := moofDurationFields(b, h.start, out); err != nil {
				return nil, fmt.Errorf("moof at %d: %w", h.start, err)
			}
		}
		off = h.end
	}
	return out, nil
}

// children calls fn for each box in b[from:to] with its type and [start, end) within b.
func children(b []byte, from, to int, fn func(typ string, start, end int) error) error {
	for p := from; p < to; {
		if to-p < 8 {
			return errors.New("truncated box header")
		}
		n := int(binary.BigEndian.Uint32(b[p:]))
		if n < 8 || n > to-p {
			return fmt.Errorf("box size %d at %d", n, p)
		}
		if err := fn(string(b[p+4:p+8]), p, p+n); err != nil {
			return err
		}
		p += n
	}
	return nil
}

// moofDurationFields adds, for each traf of the moof b (at file offset base), where its last
// sample's duration is.
func moofDurationFields(b []byte, base int64, out map[uint32]int64) error {
	return children(b, 8, len(b), func(typ string, s, e int) error {
		if typ != "traf" {
			return nil
		}
		var id uint32
		defField := -1 // tfhd default_sample_duration
		lastField := -1
		samples := 0
		err := children(b, s+8, e, func(typ string, s, e int) error {
			switch typ {
			case "tfhd":
				if e-s < 16 {
					return errors.New("short tfhd")
				}
				flags := binary.BigEndian.Uint32(b[s+8:]) & 0xffffff
				id = binary.BigEndian.Uint32(b[s+12:])
				p := s + 16
				if flags&0x01 != 0 {
					p += 8
				}
				if flags&0x02 != 0 {
					p += 4
				}
				if flags&0x08 != 0 && p+4 <= e {
					defField = p
				}
			case "trun":
				if e-s < 16 {
					return errors.New("short trun")
				}
				flags := binary.BigEndian.Uint32(b[s+8:]) & 0xffffff
				n := int(binary.BigEndian.Uint32(b[s+12:]))
				p := s + 16
				if flags&0x01 != 0 {
					p += 4
				}
				if flags&0x04 != 0 {
					p += 4
				}
				per := 0
				for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
					if flags&f != 0 {
						per += 4
					}
				}
				if n == 0 {
					return nil
				}
				if p+n*per > e {
					return errors.New("trun entries past its end")
				}
				samples += n
				lastField = -1
				if flags&0x100 != 0 {
					lastField = p + (n-1)*per
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		switch {
		case lastField >= 0:
			out[id] = base + int64(lastField)
		case samples == 1 && defField >= 0:
			out[id] = base + int64(defField)
		case samples > 0:
			out[id] = -1
		}
		return nil
	})
}
