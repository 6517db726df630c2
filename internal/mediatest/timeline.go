package mediatest

import (
	"fmt"
	"os"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

// Timeline is one track's timing in a fragmented MP4, read box by box (moov, then every
// moof's tfhd, tfdt and trun), independently of FFmpeg's demuxer, which papers over gaps.
type Timeline struct {
	TrackID   uint32
	Timescale uint32
	Fragments []FragmentTiming
}

// FragmentTiming is one track's part of one fragment: its tfdt and its samples' durations,
// in the track's timescale.
type FragmentTiming struct {
	Tfdt      uint64
	Durations []uint32
}

// ReadTimelines reads the timing of every track of the fragmented MP4 at path, in track
// order.
func ReadTimelines(path string) ([]*Timeline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mf, err := mp4.DecodeFile(f, mp4.WithDecodeMode(mp4.DecModeLazyMdat))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if mf.Init == nil || mf.Init.Moov == nil || mf.Init.Moov.Mvex == nil {
		return nil, fmt.Errorf("%s: not a fragmented MP4", path)
	}
	var out []*Timeline
	byID := map[uint32]*Timeline{}
	trex := map[uint32]*mp4.TrexBox{}
	for _, trak := range mf.Init.Moov.Traks {
		tl := &Timeline{TrackID: trak.Tkhd.TrackID, Timescale: trak.Mdia.Mdhd.Timescale}
		out = append(out, tl)
		byID[tl.TrackID] = tl
		if t, ok := mf.Init.Moov.Mvex.GetTrex(tl.TrackID); ok {
			trex[tl.TrackID] = t
		}
	}
	for _, seg := range mf.Segments {
		for _, frag := range seg.Fragments {
			for _, traf := range frag.Moof.Trafs {
				tl, ok := byID[traf.Tfhd.TrackID]
				if !ok {
					return nil, fmt.Errorf("%s: fragment of unknown track %d", path, traf.Tfhd.TrackID)
				}
				if traf.Tfdt == nil {
					return nil, fmt.Errorf("%s: track %d: fragment without tfdt", path, tl.TrackID)
				}
				def := uint32(0)
				if t := trex[tl.TrackID]; t != nil {
					def = t.DefaultSampleDuration
				}
				if traf.Tfhd.HasDefaultSampleDuration() {
					def = traf.Tfhd.DefaultSampleDuration
				}
				ft := FragmentTiming{Tfdt: traf.Tfdt.BaseMediaDecodeTime()}
				for _, trun := range traf.Truns {
					for _, s := range trun.Samples {
						d := def
						if trun.HasSampleDuration() {
							d = s.Dur
						}
						ft.Durations = append(ft.Durations, d)
					}
				}
				tl.Fragments = append(tl.Fragments, ft)
			}
		}
	}
	return out, nil
}

// Gaps lists every fragment whose tfdt is not the sum of the earlier samples' durations: a
// hole (or an overlap) in the timeline.
func (t *Timeline) Gaps() []string {
	var out []string
	var sum uint64
	for i, f := range t.Fragments {
		if f.Tfdt != sum {
			out = append(out, fmt.Sprintf("fragment %d starts at %s, its samples so far end at %s",
				i+1, t.Time(f.Tfdt), t.Time(sum)))
		}
		sum = f.Tfdt
		for _, d := range f.Durations {
			sum += uint64(d)
		}
	}
	return out
}

// Samples lists the samples' start times and durations, placing each fragment at its tfdt.
func (t *Timeline) Samples() (starts, durations []time.Duration) {
	for _, f := range t.Fragments {
		at := f.Tfdt
		for _, d := range f.Durations {
			starts = append(starts, t.Time(at))
			durations = append(durations, t.Time(uint64(d)))
			at += uint64(d)
		}
	}
	return starts, durations
}

// End is where the track's last sample ends.
func (t *Timeline) End() time.Duration {
	if len(t.Fragments) == 0 {
		return 0
	}
	f := t.Fragments[len(t.Fragments)-1]
	end := f.Tfdt
	for _, d := range f.Durations {
		end += uint64(d)
	}
	return t.Time(end)
}

// Time converts ticks of the track's timescale to a duration.
func (t *Timeline) Time(ticks uint64) time.Duration {
	if t.Timescale == 0 {
		return 0
	}
	return time.Duration(ticks * uint64(time.Second) / uint64(t.Timescale))
}
