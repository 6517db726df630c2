// Package sampletest reads the shipped sample configs (configs/*.yaml) in tests, so that an
// adapter's test can check its sample section against the adapter itself.
package sampletest

import (
	"os"
	"testing"

	"github.com/goccy/go-yaml"
)

// Uploader returns the config section of the one uploader the sample at path declares,
// failing t unless it declares exactly one, named name.
func Uploader(t testing.TB, path, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sample struct {
		Uploaders []struct {
			Name   string         `yaml:"name"`
			Config map[string]any `yaml:"config"`
		} `yaml:"uploaders"`
	}
	if err := yaml.Unmarshal(raw, &sample); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(sample.Uploaders) != 1 || sample.Uploaders[0].Name != name {
		t.Fatalf("%s: uploaders = %+v, want one %s", path, sample.Uploaders, name)
	}
	return sample.Uploaders[0].Config
}
