package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/pkg/config"
)

// uploadRow is one job in `recorder uploads --json`.
type uploadRow struct {
	ID        int64     `json:"id"`
	State     string    `json:"state"`
	Target    string    `json:"target"`
	Recording string    `json:"recording_id"`
	Segment   string    `json:"segment"`
	Bytes     int64     `json:"bytes"`
	Offset    int64     `json:"offset"`
	Attempts  int       `json:"attempts"`
	NextTry   time.Time `json:"next_try,omitzero"`
	Location  string    `json:"location,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// ErrorKind classifies LastError: refused, reset, timeout, tls, dns, http, checksum, auth…
	ErrorKind string `json:"last_error_kind,omitempty"`
}

func newUploadsCmd() *cobra.Command {
	var cfgPath string
	var asJSON bool
	open := func(cmd *cobra.Command) (*catalog.Catalog, error) {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		return engine.OpenCatalog(cmd.Context(), engine.Config{SpoolDir: cfg.SpoolDir})
	}
	cmd := &cobra.Command{
		Use:   "uploads [--config FILE] [--json]",
		Short: "List upload jobs and their states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := open(cmd)
			if err != nil {
				return err
			}
			defer cat.Close()
			jobs, err := cat.UploadJobs(cmd.Context(), catalog.UploadFilter{})
			if err != nil {
				return err
			}
			rows := make([]uploadRow, len(jobs))
			for i, j := range jobs {
				rows[i] = uploadRow{ID: j.ID, State: string(j.State), Target: j.Target, Recording: j.Segment.RecordingID,
					Segment: j.Segment.Path, Bytes: j.Segment.Bytes, Offset: j.RemoteOffset, Attempts: j.Attempts,
					Location: j.RemoteLocation, LastError: j.LastError, ErrorKind: j.LastErrorKind}
				if j.State == catalog.UploadQueued {
					rows[i].NextTry = j.NextTryAt.UTC()
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTARGET\tSTATE\tATTEMPTS\tPROGRESS\tRECORDING\tSEGMENT\tLAST ERROR")
			for _, r := range rows {
				last := r.LastError
				if r.ErrorKind != "" {
					last = r.ErrorKind + ": " + last
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d/%d\t%s\t%s\t%s\n", r.ID, r.Target, r.State, r.Attempts, r.Offset, r.Bytes,
					r.Recording, filepath.Base(r.Segment), last)
			}
			return tw.Flush()
		},
	}
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "Queue a failed upload job again (a running recorder picks it up within a second)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("%w: job id %q is not a number", errUsage, args[0])
			}
			cat, err := open(cmd)
			if err != nil {
				return err
			}
			defer cat.Close()
			job, err := cat.UpdateUpload(cmd.Context(), id, func(j *catalog.UploadJob) error {
				if j.State != catalog.UploadFailed {
					return fmt.Errorf("%w: job %d is %s, not failed", errUsage, id, j.State)
				}
				j.State, j.NextTryAt = catalog.UploadQueued, time.Now()
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "job %d queued again (%s)\n", job.ID, job.Segment.Path)
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&cfgPath, "config", "configs/recorder.yaml", "config file (for the spool folder)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(retry)
	return cmd
}
