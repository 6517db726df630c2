//go:build race

package sdk

// raceEnabled: the test binary is built with -race, so the plugin binary TestServe_Subprocess
// builds is too, sharing the build cache's race-instrumented packages.
const raceEnabled = true
