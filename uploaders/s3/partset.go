package s3

import (
	"slices"
	"strconv"
	"strings"
)

// partSet is a set of part numbers. Parts finish out of order when several are in flight,
// so the resume State records the set, not a count; it is written as sorted ranges
// ("1-4,6,9-12") to stay short for the thousands of parts a large segment may have.
type partSet map[int]struct{}

func (s partSet) add(n int) { s[n] = struct{}{} }

func (s partSet) has(n int) bool {
	_, ok := s[n]
	return ok
}

// String is the set as sorted ranges, "" when empty.
func (s partSet) String() string {
	ns := make([]int, 0, len(s))
	for n := range s {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	var b strings.Builder
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ns[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ns[j]))
		}
		i = j + 1
	}
	return b.String()
}

// parsePartSet reads what String wrote; what it cannot read is left out (a State is only
// a hint: the server's list of parts decides).
func parsePartSet(v string) partSet {
	s := partSet{}
	for r := range strings.SplitSeq(v, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 1 {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a >= maxPartsInState {
				continue
			}
		}
		for n := a; n <= b; n++ {
			s.add(n)
		}
	}
	return s
}

// maxPartsInState bounds a range read from a State (S3 allows 10,000 parts).
const maxPartsInState = 10000
