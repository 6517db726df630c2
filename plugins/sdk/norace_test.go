//go:build !race

package sdk

// raceEnabled: see race_test.go.
const raceEnabled = false
