package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var errBroken = errors.New("broken")

// newTree is a small program shaped like the project's: a root without work of its own and
// subcommands with validators, a required flag, a flag group and subcommands of their own.
func newTree() *cobra.Command {
	root := &cobra.Command{Use: "prog"}
	var out string
	var fail, misuse, a, b bool
	work := &cobra.Command{
		Use:  "work --out FILE",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			switch {
			case fail:
				return errBroken
			case misuse:
				return Usage(errors.New("--misuse given"))
			}
			return nil
		},
	}
	work.Flags().StringVar(&out, "out", "", "")
	work.Flags().BoolVar(&fail, "fail", false, "")
	work.Flags().BoolVar(&misuse, "misuse", false, "")
	work.Flags().BoolVar(&a, "a", false, "")
	work.Flags().BoolVar(&b, "b", false, "")
	_ = work.MarkFlagRequired("out")
	work.MarkFlagsMutuallyExclusive("a", "b")
	retry := &cobra.Command{Use: "retry ID", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
	work.AddCommand(retry)
	group := &cobra.Command{Use: "group"}
	group.AddCommand(&cobra.Command{Use: "leaf", RunE: func(*cobra.Command, []string) error { return errBroken }})
	root.AddCommand(work, group)
	return root
}

// TestRunExitStatus: every error in how the program was called exits 2, a failed work 1.
func TestRunExitStatus(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"work", "--out", "x"}, ExitOK, ""},
		{[]string{"work", "--out", "x", "--fail"}, ExitFailure, "prog: broken"},
		{[]string{"group", "leaf"}, ExitFailure, "prog: broken"},
		{[]string{"work", "--out", "x", "--misuse"}, ExitUsage, "prog: usage: --misuse given"},
		{[]string{"work"}, ExitUsage, `required flag(s) "out" not set`},
		{[]string{"work", "--out", "x", "--a", "--b"}, ExitUsage, "[a b] were all set"},
		{[]string{"work", "--out", "x", "--bogus"}, ExitUsage, "unknown flag: --bogus"},
		{[]string{"--bogus"}, ExitUsage, "unknown flag: --bogus"},
		{[]string{"bogus"}, ExitUsage, `unknown command "bogus" for "prog"`},
		{[]string{"wrok"}, ExitUsage, "Did you mean this?"},
		{[]string{"work", "--out", "x", "extra"}, ExitUsage, `unknown command "extra" for "prog work"`},
		{[]string{"work", "retry"}, ExitUsage, "accepts 1 arg(s), received 0"},
		{[]string{"work", "retry", "1"}, ExitOK, ""},
		{[]string{"completion", "bash", "extra"}, ExitUsage, "usage: "},
		{[]string{"help", "work"}, ExitOK, ""},
		{[]string{"work", "--help"}, ExitOK, ""},
		{nil, ExitOK, ""},
	} {
		var stderr bytes.Buffer
		root := newTree()
		root.SetOut(new(bytes.Buffer))
		code := Run(context.Background(), root, c.args, &stderr)
		if code != c.code {
			t.Errorf("prog %v: exit %d, want %d (stderr %q)", c.args, code, c.code, stderr.String())
		}
		if c.says != "" && !strings.Contains(stderr.String(), c.says) {
			t.Errorf("prog %v: stderr %q does not say %q", c.args, stderr.String(), c.says)
		}
		if c.says == "" && stderr.Len() > 0 {
			t.Errorf("prog %v: stderr %q, want nothing", c.args, stderr.String())
		}
	}
}

// TestUsageMarksOnce: marking twice does not repeat the mark in the message.
func TestUsageMarksOnce(t *testing.T) {
	err := Usage(Usage(errBroken))
	if !errors.Is(err, ErrUsage) || !errors.Is(err, errBroken) || err.Error() != "usage: broken" {
		t.Errorf("Usage(Usage(err)) = %q", err)
	}
	if Usage(nil) != nil {
		t.Error("Usage(nil) is not nil")
	}
}

// An error the program reported itself (in its log's format) sets the status but is not
// printed again as a plain line.
func TestReportedIsNotPrintedAgain(t *testing.T) {
	for _, tc := range []struct {
		err   error
		code  int
		plain bool
	}{
		{errBroken, ExitFailure, true},
		{Reported(errBroken), ExitFailure, false},
		{Reported(Usage(errBroken)), ExitUsage, false},
	} {
		root := &cobra.Command{Use: "prog", RunE: func(*cobra.Command, []string) error { return tc.err }}
		var stderr bytes.Buffer
		if code := Run(context.Background(), root, nil, &stderr); code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.err, code, tc.code)
		}
		if got := stderr.Len() > 0; got != tc.plain {
			t.Errorf("%v: printed %q, want printed=%v", tc.err, stderr.String(), tc.plain)
		}
	}
	if Reported(nil) != nil {
		t.Error("Reported(nil) != nil")
	}
}
