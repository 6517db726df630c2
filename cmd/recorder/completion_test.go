package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/screenrec/recorder/engine/capture"
	"github.com/screenrec/recorder/engine/encode"
)

// complete asks the recorder binary, as a shell's completion script does (cobra's hidden
// __complete command), for the values of args' last word; env is the recorder's environment.
// It returns the values without their descriptions.
func complete(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(recorderBin, append([]string{"__complete"}, args...)...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("recorder __complete %v: %v", args, err)
	}
	var values []string
	for l := range strings.Lines(string(out)) {
		l = strings.TrimSuffix(l, "\n")
		if strings.HasPrefix(l, ":") { // the directive closes the list
			if l != ":4" {
				t.Errorf("recorder __complete %v: directive %s, want :4 (no file names)", args, l)
			}
			break
		}
		v, _, _ := strings.Cut(l, "\t")
		values = append(values, v)
	}
	return values
}

// TestCompletionOfFlagValues: shell completion offers the values record's flags take, from
// the lists the recorder checks them against.
func TestCompletionOfFlagValues(t *testing.T) {
	t.Parallel()
	encoders := []string{"auto"}
	for _, c := range encode.Candidates {
		encoders = append(encoders, c.Name)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"record", "--layout", ""}, []string{"canvas", "tracks"}},
		{[]string{"record", "--capture-method", ""}, capture.Methods()},
		{[]string{"record", "--encoder", ""}, encoders},
		{[]string{"record", "--encoder", "libx264,h264_nvenc,"}, []string{"libx264,h264_nvenc,h264_qsv", "libx264,h264_nvenc,h264_vaapi",
			"libx264,h264_nvenc,h264_videotoolbox", "libx264,h264_nvenc,h264_mf", "libx264,h264_nvenc,libx265", "libx264,h264_nvenc,libvpx-vp9"}},
		{[]string{"record", "--monitors", ""}, []string{"all"}}, // no display to ask
	} {
		if got := complete(t, []string{"HOME=" + t.TempDir()}, c.args...); !slices.Equal(got, c.want) {
			t.Errorf("completion of %v: %q, want %q", c.args, got, c.want)
		}
	}
}

// TestCompletionOfMonitors: completing --monitors offers the monitors of the display given
// (or $DISPLAY's), named in the descriptions.
func TestCompletionOfMonitors(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"record", "--monitors", ""}, []string{"all", "0", "1", "2"}},
		{[]string{"record", "--monitors", "1,"}, []string{"1,0", "1,2"}},
		{[]string{"record", "--display", d.srv.Display, "--monitors", ""}, []string{"all", "0", "1", "2"}},
		{[]string{"record", "--display", ":1987", "--monitors", ""}, []string{"all"}},
	} {
		if got := complete(t, d.srv.Env(), c.args...); !slices.Equal(got, c.want) {
			t.Errorf("completion of %v: %q, want %q", c.args, got, c.want)
		}
	}
	cmd := exec.Command(recorderBin, "__complete", "record", "--monitors", "")
	cmd.Env = d.srv.Env()
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "2\tM2 1024x768+3200+0\n") {
		t.Errorf("completion of --monitors does not describe M2: %q, %v", out, err)
	}
}
