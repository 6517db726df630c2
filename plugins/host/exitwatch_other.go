//go:build !linux

package host

// watchExit has no kernel support here: the caller polls.
func watchExit(int) (<-chan struct{}, func(), bool) { return nil, nil, false }
