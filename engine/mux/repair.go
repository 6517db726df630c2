package mux

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

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
			b, err := readWhole(r, h)
			if err != nil {
				return RepairResult{}, err
			}
			moov, err := decodeBox[*mp4.MoovBox](h, b)
			if err != nil {
				return RepairResult{}, fmt.Errorf("moov: %w", err)
			}
			if tracks, err = moovTracks(moov); err != nil {
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
			b, err := readWhole(r, h)
			if err != nil {
				return RepairResult{}, err
			}
			moof, err := decodeBox[*mp4.MoofBox](h, b)
			if err != nil {
				break walk
			}
			mi, err := parseMoof(moof, h.start, tracks, ends)
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
