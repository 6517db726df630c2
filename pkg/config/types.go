package config

import "github.com/screenrec/recorder/pkg/config/decl"

// Duration is a time.Duration written as a Go duration string: "10m", "2s", "1h30m". Plain
// numbers are rejected (is 600 seconds or milliseconds?) except 0, which is unambiguous.
type Duration = decl.Duration

// ByteSize is a number of bytes written as a plain integer or with a unit ("512MiB", "10GB",
// "1.5 GiB"); see ParseByteSize.
type ByteSize = decl.ByteSize

// Byte-size units.
const (
	KiB = decl.KiB
	MiB = decl.MiB
	GiB = decl.GiB
	TiB = decl.TiB
	PiB = decl.PiB
)

// ParseByteSize parses "512MiB", "10GB", "1.5 GiB" or "1000000" (bytes); binary units may
// also be written K, M, G, T, P. Negative sizes are rejected.
func ParseByteSize(s string) (ByteSize, error) { return decl.ParseByteSize(s) }
