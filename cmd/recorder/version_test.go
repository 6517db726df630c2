package main

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"testing"
)

// `recorder version` names the FFmpeg libraries it runs with and the encoders usable here.
func TestVersionNamesLibrariesAndEncoders(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(recorderBin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var r versionReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	semver := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	var names []string
	for _, l := range r.Libraries {
		names = append(names, l.Name)
		if !semver.MatchString(l.Runtime) || !semver.MatchString(l.Built) {
			t.Errorf("%s: runtime %q, built %q: want x.y.z", l.Name, l.Runtime, l.Built)
		}
	}
	for _, want := range []string{"libavcodec", "libavformat", "libavutil", "libswscale"} {
		if !slices.Contains(names, want) {
			t.Errorf("libraries %v lack %s", names, want)
		}
	}
	// libx264 is what scripts/deps.sh installs; every machine that builds the recorder has it.
	if !slices.Contains(r.Encoders, "libx264") || r.Version == "" || r.Go == "" {
		t.Errorf("version report %+v: want libx264 among the encoders, a version and Go's", r)
	}
}
