// Package cli runs a cobra command tree as a program. It declares once the rule the
// project's binaries share: exit status 0 when done, 1 when the work failed, 2 when the
// program was called wrongly (a usage error); and it makes cobra's own errors in how a
// program was called (unknown command or flag, bad arguments, missing required flag) usage
// errors, besides those the commands mark with Usage.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses of a program run by Main.
const (
	// ExitOK: the work is done.
	ExitOK = 0
	// ExitFailure: the work failed.
	ExitFailure = 1
	// ExitUsage: the program was called wrongly (ErrUsage).
	ExitUsage = 2
)

// Usage marks err as a usage error (it wraps ErrUsage); an error already marked is returned as is.
func Usage(err error) error {
	if err == nil || errors.Is(err, ErrUsage) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUsage, err)
}

// Reported marks err as reported already (logged in the program's configured format, say):
// Run sets the exit status from it but prints nothing more.
func Reported(err error) error {
	if err == nil {
		return nil
	}
	return reported{err}
}

type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

// Main runs root with the program's arguments until it is done or SIGINT or SIGTERM cancels
// its context, and exits with Run's status.
func Main(root *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, root, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// Run executes root with args and returns the exit status. A failure is printed on stderr
// as one line, "NAME: error", NAME being root's name.
func Run(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	err := Execute(ctx, root, args)
	if err == nil {
		return ExitOK
	}
	if !errors.As(err, new(reported)) {
		fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	}
	if errors.Is(err, ErrUsage) {
		return ExitUsage
	}
	return ExitFailure
}

// Execute executes root with args and returns the error of the command run, marked as a
// usage error when cobra rejected how it was called. Errors and usage are left to the
// caller to print (Run prints the error alone).
func Execute(ctx context.Context, root *cobra.Command, args []string) error {
	root.SilenceErrors, root.SilenceUsage = true, true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Usage(err) })
	root.InitDefaultHelpCmd() // as ExecuteC would, so that their checks are marked too
	root.InitDefaultCompletionCmd()
	markUsageErrors(root)
	root.SetArgs(args)
	_, err := root.ExecuteContextC(ctx)
	if err != nil && lookupFails(root, args) {
		// Cobra's lookup rejects an unknown command before any command runs, and has no hook
		// to mark that error with: looking up again tells it from the command's own.
		err = Usage(err)
	}
	return err
}

// markUsageErrors makes the argument validators and the required-flag and flag-group checks
// of c and its subcommands return usage errors.
func markUsageErrors(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error { return Usage(check(cmd, args)) }
	}
	if c.Runnable() {
		// Cobra checks required flags and flag groups after PreRunE, with no hook of its own;
		// checking them first here, cobra's own checks then pass.
		preE, pre := c.PreRunE, c.PreRun
		c.PreRunE = func(cmd *cobra.Command, args []string) error {
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return Usage(err)
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return Usage(err)
			}
			if preE != nil {
				return preE(cmd, args)
			}
			if pre != nil {
				pre(cmd, args)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}

// lookupFails reports whether cobra's lookup of the command to run fails on args.
func lookupFails(root *cobra.Command, args []string) bool {
	find := root.Find
	if root.TraverseChildren {
		find = root.Traverse
	}
	_, _, err := find(args)
	return err != nil
}
