//go:build !unix

package testbin

// lockBuild does not lock where flock is missing: packages running at once may then build
// the same binary twice, which the rename into the cache keeps correct.
func lockBuild(string) (unlock func(), err error) { return func() {}, nil }
