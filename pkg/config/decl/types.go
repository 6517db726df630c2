package decl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string: "10m", "2s", "1h30m". Plain
// numbers are rejected (is 600 seconds or milliseconds?) except 0, which is unambiguous.
// Fields of type time.Duration are decoded the same way.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration ("10m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration is time.ParseDuration with a message that names the value and the format.
func ParseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: use a number with a unit (ns, us, ms, s, m, h), e.g. \"90s\" or \"1h30m\"", s)
	}
	return v, nil
}

// ByteSize is a number of bytes written as a plain integer ("1000000") or with a unit: binary
// KiB, MiB, GiB, TiB, PiB (powers of 1024, also written K, M, G, T, P) or decimal KB, MB, GB,
// TB, PB (powers of 1000), optionally with a fraction ("1.5GiB") and a space ("10 GiB"); units
// are case-insensitive and B means bytes.
type ByteSize int64

// Byte-size units.
const (
	KiB ByteSize = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
)

var byteUnits = map[string]ByteSize{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
	"kib": KiB, "mib": MiB, "gib": GiB, "tib": TiB, "pib": PiB,
	"k": KiB, "m": MiB, "g": GiB, "t": TiB, "p": PiB,
}

// ParseByteSize parses "512MiB", "10GB", "1.5 GiB" or "1000000" (bytes). Negative sizes are
// rejected.
func ParseByteSize(s string) (ByteSize, error) {
	bad := func(why string) (ByteSize, error) {
		return 0, fmt.Errorf("%q is not a byte size: %s", s, why)
	}
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		if strings.HasPrefix(t, "-") {
			return bad("it is negative")
		}
		return bad("write a number of bytes or a number with a unit, e.g. \"512MiB\" or \"10GB\"")
	}
	mult, ok := byteUnits[unit]
	if !ok {
		return bad(fmt.Sprintf("unknown unit %q (use B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB)", strings.TrimSpace(t[i:])))
	}
	whole, frac, hasFrac := strings.Cut(num, ".")
	if whole == "" || strings.Contains(frac, ".") || (hasFrac && frac == "") {
		return bad("malformed number")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/int64(mult) {
		return bad("too large")
	}
	n := w * int64(mult)
	if hasFrac {
		if mult == 1 {
			return bad("a number of bytes must be whole")
		}
		if len(frac) > 18 {
			frac = frac[:18]
		}
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return bad("malformed number")
		}
		// f/10^len(frac) of mult, rounded down; mult ≤ 2^50 and f < 10^18 would overflow, so
		// scale in floating point, which is exact enough for sizes (53-bit mantissa).
		add := math.Floor(float64(f) / math.Pow10(len(frac)) * float64(mult))
		if float64(n)+add > math.MaxInt64 {
			return bad("too large")
		}
		n += int64(add)
	}
	return ByteSize(n), nil
}

// String formats b with the largest unit that divides it exactly: "256MiB", "10GB", "1000001".
func (b ByteSize) String() string {
	if b == 0 {
		return "0"
	}
	best, bestSize := "", ByteSize(1)
	for _, u := range []struct {
		name string
		size ByteSize
	}{{"KB", 1e3}, {"KiB", KiB}, {"MB", 1e6}, {"MiB", MiB}, {"GB", 1e9}, {"GiB", GiB},
		{"TB", 1e12}, {"TiB", TiB}, {"PB", 1e15}, {"PiB", PiB}} {
		if b%u.size == 0 {
			best, bestSize = u.name, u.size
		}
	}
	return strconv.FormatInt(int64(b/bestSize), 10) + best
}
