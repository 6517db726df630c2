//go:build !linux

package engine

// freeBytes is unknown here; the free-disk floor is not enforced on this platform.
func freeBytes(string) (int64, bool) { return 0, false }
