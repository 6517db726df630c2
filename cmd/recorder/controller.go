package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/screenrec/recorder/fleet/controller"
	"github.com/screenrec/recorder/frontends/cloud"
	"github.com/screenrec/recorder/pkg/config"
	"github.com/screenrec/recorder/pkg/s3upload"
	"github.com/screenrec/recorder/pkg/secret"
	"github.com/screenrec/recorder/plugins/sdk"
)

// controllerNATSUser is the controllers' own user on an embedded NATS server.
const controllerNATSUser = "recorder-controller"

func newControllerCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "controller --config FILE",
		Short: "Run the fleet controller: the cloud API for every desktop of a fleet, over NATS",
		Long: "Serve the cloud API for a fleet of agent desktops whose recorders run the fleet front\n" +
			"end. The config's controller section says which NATS (an embedded server with JetStream,\n" +
			"the default, or the URLs of a cluster), which machines may join, and the cloud API's\n" +
			"section. Several controllers may serve the same fleet: they share all state in JetStream.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if cfg.Controller == nil {
				return fmt.Errorf("%w: %s has no controller section", errUsage, cfgPath)
			}
			setLogger(cmd, cfg.Log)
			return runController(cmd.Context(), newAnnouncer(cmd.OutOrStdout(), cfg.Log), cfg)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "configs/controller.yaml", "config file")
	return cmd
}

// resolveSecret resolves an optional secret reference.
func resolveSecret(path string, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	r, _, err := secret.Parse(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	s, err := r.Resolve(os.LookupEnv)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// controllerArchive is the archive of the controller section (nil when it has none), its
// credentials resolved from their references.
func controllerArchive(a *config.ControllerArchive) (*controller.Archive, error) {
	if a == nil {
		return nil, nil
	}
	var creds [3]string
	for i, s := range []struct {
		key string
		v   any
	}{{"access_key_id", a.AccessKeyID}, {"secret_access_key", a.SecretAccessKey}, {"session_token", a.SessionToken}} {
		v, err := resolveSecret("controller.archive."+s.key, s.v)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		creds[i] = v
	}
	arch, err := controller.NewArchive(controller.ArchiveConfig{Endpoint: a.Endpoint, Region: a.Region, Bucket: a.Bucket,
		PathStyle: a.PathStyle, AccessKeyID: creds[0], SecretAccessKey: creds[1], SessionToken: creds[2], Prefix: a.Prefix,
		SSE: s3upload.SSE{Mode: a.SSE, KMSKeyID: a.KMSKeyID}, Expiry: a.URLExpiry.Std()})
	if err != nil {
		return nil, fmt.Errorf("%w: controller.archive: %w", errUsage, err)
	}
	return arch, nil
}

// controllerNATS connects the controller to its NATS: an embedded server it starts (returned,
// to be shut down), or the configured URLs.
func controllerNATS(ct *config.Controller) (*nats.Conn, *server.Server, error) {
	opts := []nats.Option{nats.Name("recorder controller"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true)}
	n := ct.NATS
	if len(n.URLs) == 0 {
		sc := controller.ServerConfig{Listen: n.Listen, StoreDir: ct.DataDir, Name: n.Name, CertFile: n.CertFile, KeyFile: n.KeyFile}
		for i, a := range ct.Agents {
			pw, err := resolveSecret(fmt.Sprintf("controller.agents[%d].password", i), a.Password)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %w", errUsage, err)
			}
			sc.Agents = append(sc.Agents, controller.Agent{Machine: a.Machine, NKey: a.NKey, User: a.User, Password: pw})
		}
		if len(sc.Agents) > 0 {
			sc.ControllerUser, sc.ControllerPassword = controllerNATSUser, controller.RandomPassword()
			opts = append(opts, nats.UserInfo(sc.ControllerUser, sc.ControllerPassword))
		}
		srv, err := controller.NewServer(sc)
		if err != nil {
			return nil, nil, err
		}
		nc, err := nats.Connect("", append(opts, nats.InProcessServer(srv))...)
		if err != nil {
			srv.Shutdown()
			return nil, nil, fmt.Errorf("controller: connect to the embedded NATS: %w", err)
		}
		return nc, srv, nil
	}
	pw, err := resolveSecret("controller.nats.password", n.Password)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case n.User != "":
		opts = append(opts, nats.UserInfo(n.User, pw))
	case n.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(n.NKeySeedFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: controller.nats.nkey_seed_file: %w", errUsage, err)
		}
		opts = append(opts, o)
	case n.CredsFile != "":
		opts = append(opts, nats.UserCredentials(n.CredsFile))
	}
	if n.CAFile != "" {
		opts = append(opts, nats.RootCAs(n.CAFile))
	}
	urls := ""
	for i, u := range n.URLs {
		if i > 0 {
			urls += ","
		}
		urls += u
	}
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("controller: connect to NATS %v: %w", n.URLs, err)
	}
	return nc, nil, nil
}

func runController(ctx context.Context, say announcer, cfg *config.Config) error {
	ct := cfg.Controller
	adm, err := newAdminServer(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	cloudSection, err := secret.ResolveAll(ct.Cloud, os.LookupEnv)
	if err != nil {
		return fmt.Errorf("%w: controller.cloud: %w", errUsage, err)
	}
	raw, err := json.Marshal(cloudSection)
	if err != nil {
		return fmt.Errorf("%w: controller.cloud: %w", errUsage, err)
	}
	nc, srv, err := controllerNATS(ct)
	if err != nil {
		return err
	}
	defer func() {
		_ = nc.Drain()
		if srv != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
	}()
	if srv != nil {
		say("controller: embedded NATS listening on "+srv.ClientURL(), "url", srv.ClientURL(), "store", ct.DataDir)
	}
	archive, err := controllerArchive(ct.Archive)
	if err != nil {
		return err
	}
	if archive != nil {
		say("controller: archive "+ct.Archive.Endpoint+"/"+ct.Archive.Bucket, "endpoint", ct.Archive.Endpoint, "bucket", ct.Archive.Bucket)
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	opts := controller.Options{Replicas: ct.Replicas, PresenceTTL: ct.PresenceTTL.Std(),
		LockTTL: ct.LockTTL.Std(), ContactIDBase: ct.ContactIDBase}
	if archive != nil {
		opts.Presigner = archive
	}
	ctrl, err := controller.Open(octx, nc, opts)
	cancel()
	if err != nil {
		return err
	}
	defer ctrl.Close()
	api := cloud.NewWithDirectory(ctrl)
	diags, err := api.Configure(ctx, raw)
	if err != nil {
		return err
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			return fmt.Errorf("%w: controller.cloud.%s: %s: %s", errUsage, d.Field, d.Summary, d.Detail)
		}
		say(fmt.Sprintf("controller: warning: controller.cloud.%s: %s: %s", d.Field, d.Summary, d.Detail))
	}
	eps, err := api.Serve(ctx, ctrl)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		say(fmt.Sprintf("controller: cloud API %s listening on %s", ep.Name, ep.URL), "endpoint", ep.Name, "url", ep.URL)
	}
	adminAddr, err := adm.startFleet(ctx, ctrl)
	if err != nil {
		_ = api.Stop(context.Background())
		return fmt.Errorf("controller: %w", err)
	}
	if adminAddr != "" {
		say("controller: admin API (fleet view) listening on http://"+adminAddr, "url", "http://"+adminAddr)
	}
	say("controller running")
	<-ctx.Done()
	say("controller: stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = errors.Join(adm.stop(sctx), api.Stop(sctx))
	say("controller: stopped")
	return err
}
