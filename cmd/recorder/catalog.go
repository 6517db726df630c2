package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/pkg/config"
)

// newCatalogCmd is `recorder catalog`: check the spool's catalog, or rebuild it from the
// recordings' files.
func newCatalogCmd() *cobra.Command {
	var cfgPath, spool string
	var asJSON bool
	// engineCfg is the engine configuration the commands work on: --spool alone, or the
	// config file's (its spool, upload target).
	engineCfg := func(cmd *cobra.Command) (engine.Config, error) {
		if cmd.Flags().Changed("spool") {
			if cmd.Flags().Changed("config") {
				return engine.Config{}, fmt.Errorf("%w: --spool and --config: give one", errUsage)
			}
			abs, err := filepath.Abs(spool)
			if err != nil {
				return engine.Config{}, fmt.Errorf("%w: --spool: %w", errUsage, err)
			}
			return engine.Config{SpoolDir: abs}, nil
		}
		c, err := config.Load(cfgPath)
		if err != nil {
			return engine.Config{}, fmt.Errorf("%w: %w", errUsage, err)
		}
		return engineConfig(c)
	}
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Check the spool's catalog, or rebuild it from the recordings' files",
		Args:  cobra.NoArgs,
	}
	check := &cobra.Command{
		Use:   "check [--config FILE | --spool DIR] [--json]",
		Short: "Check the catalog's integrity and count its rows (exit status 1 when damaged, or missing beside recordings)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ec, err := engineCfg(cmd)
			if err != nil {
				return err
			}
			rep, err := engine.CheckSpoolCatalog(cmd.Context(), ec.SpoolDir)
			if err != nil && !errors.Is(err, engine.ErrCatalogDamaged) && !errors.Is(err, engine.ErrCatalogEmpty) {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, rep); err != nil {
					return err
				}
			} else {
				printReport(out, rep)
			}
			if err != nil {
				return fmt.Errorf("%w; stop the service and run `recorder catalog rebuild --spool %s`", err, ec.SpoolDir)
			}
			return nil
		},
	}
	var force bool
	rebuild := &cobra.Command{
		Use: "rebuild [--config FILE | --spool DIR] [--force] [--json]",
		Short: "Rebuild the catalog from the recordings' files (the old file is moved aside, never deleted; " +
			"stop the service first)",
		Long: "Rebuild the catalog from the recordings' files: their tags give each recording's id, owner, " +
			"front end, contact and interaction ids, start time and segment index. The old catalog file is " +
			"moved aside to catalog.db.damaged-<time>, never deleted; a sound catalog is only rebuilt with " +
			"--force. Every segment is queued for upload again (the catalog that knew which were delivered " +
			"is gone). Contact ids handed out later stay above every id found.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ec, err := engineCfg(cmd)
			if err != nil {
				return err
			}
			rep, err := engine.RebuildCatalog(cmd.Context(), ec, force)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, rep)
			}
			if rep.MovedAside != "" {
				fmt.Fprintf(out, "old catalog kept as %s\n", rep.MovedAside)
			}
			for _, r := range rep.Recordings {
				fmt.Fprintf(out, "restored %s contact %d owner %q %s, %d segments\n", r.ID, r.ContactID, r.Owner, r.State, r.Segments)
			}
			for _, s := range rep.Skipped {
				fmt.Fprintf(out, "skipped %s\n", s)
			}
			fmt.Fprintf(out, "rebuilt %s: %d recordings, %d uploads queued, next contact id above %d\n",
				rep.Catalog, len(rep.Recordings), rep.Uploads, rep.LastContactID)
			return nil
		},
	}
	rebuild.Flags().BoolVar(&force, "force", false, "rebuild a sound catalog too (its upload progress is lost)")
	cmd.PersistentFlags().StringVar(&cfgPath, "config", "configs/recorder.yaml", "config file (for the spool folder and upload target)")
	cmd.PersistentFlags().StringVar(&spool, "spool", "", "spool folder (instead of --config)")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(check, rebuild)
	return cmd
}

// printReport prints a check's report as lines of text.
func printReport(out io.Writer, rep catalog.Report) {
	switch {
	case rep.Problem != "":
		fmt.Fprintf(out, "%s: DAMAGED: %s\n", rep.Path, rep.Problem)
	case !rep.Exists:
		fmt.Fprintf(out, "%s: missing\n", rep.Path)
	case rep.Empty:
		fmt.Fprintf(out, "%s: empty\n", rep.Path)
	default:
		fmt.Fprintf(out, "%s: ok (schema %d): %d recordings, %d segments, %d upload jobs, last contact id %d\n",
			rep.Path, rep.SchemaVersion, rep.Recordings, rep.Segments, rep.Uploads, rep.LastContactID)
	}
}
