package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/screenrec/recorder/pkg/telemetry"
	"github.com/screenrec/recorder/plugins/builtin"
	"github.com/screenrec/recorder/plugins/sdk"
)

// flushTimeout bounds how long a plugin process may take to send its telemetry before it is
// stopped.
const flushTimeout = 2 * time.Second

// instance is one loaded adapter.
type instance struct {
	h    *Host
	spec Spec
	desc string
	reg  *builtin.Registration // built-in, or nil
	// path is the binary run as the plugin process: builtin.Executable for a built-in
	// adapter, the recorder-plugin-<name> file for an external one; "" in-process.
	path string
	// started is set once Serve has taken the instance; guarded by Host.mu.
	started bool

	mu        sync.Mutex
	impl      sdk.Plugin
	client    *plugin.Client
	pid       int
	source    *telemetry.Source // where the process reports telemetry, or nil
	endpoints []sdk.Endpoint
	closing   bool
	done      chan struct{}
}

func (in *instance) current() sdk.Plugin {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.impl
}

// command is how the plugin process is started: with the host's environment, plus the
// host's telemetry resource when it reports telemetry.
func (in *instance) command() *exec.Cmd {
	cmd := exec.Command(in.path)
	if in.reg != nil {
		cmd = exec.Command(in.path, "--kind", string(in.spec.Kind), in.spec.Name)
	}
	if env := sdk.ResourceEnv(in.h.opts.RelayOptions.Resource); env != "" && in.h.opts.Relay != nil {
		cmd.Env = append(os.Environ(), env)
	}
	return dieWithHost(cmd)
}

// launch starts the adapter (a process, or an in-process implementation) and configures it.
func (in *instance) launch(ctx context.Context) error {
	var impl sdk.Plugin
	var client *plugin.Client
	var source *telemetry.Source
	pid := 0
	if in.spec.InProcess {
		impl = in.reg.New()
	} else {
		logger := newSlogLogger(in.h.log.With("plugin", in.spec.Name), in.spec.Name)
		client = plugin.NewClient(sdk.ClientConfig(in.command(), in.spec.Kind, logger, in.h.tracing...))
		rpc, err := client.Client()
		if err != nil {
			client.Kill()
			return fmt.Errorf("%w: %s: %w", ErrLaunch, in.desc, err)
		}
		if impl, err = sdk.Dispense(rpc, in.spec.Kind); err != nil {
			client.Kill()
			return fmt.Errorf("%w: %s: %w", ErrLaunch, in.desc, err)
		}
		if rc := client.ReattachConfig(); rc != nil {
			pid = rc.Pid
		}
		source = in.connectTelemetry(ctx, impl)
	}
	fail := func(err error) error {
		if client != nil {
			client.Kill()
		}
		if source != nil {
			source.Close()
		}
		return err
	}
	info, err := impl.Info(ctx)
	if err != nil {
		return fail(fmt.Errorf("%w: %s: info: %w", ErrLaunch, in.desc, err))
	}
	if info.Kind != in.spec.Kind {
		return fail(fmt.Errorf("%w: %s is a %s, configured as a %s", ErrWrongKind, in.desc, info.Kind, in.spec.Kind))
	}
	raw, err := in.resolvedConfig(ctx, impl)
	if err != nil {
		return fail(err)
	}
	diags, err := impl.Configure(ctx, raw)
	if err != nil {
		return fail(fmt.Errorf("%w: %s: configure: %w", ErrLaunch, in.desc, err))
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityError {
			return fail(fmt.Errorf("%w: %s: %s", ErrBadConfig, in.desc, describe(d)))
		}
		in.h.log.Warn("plugin config warning", "plugin", in.spec.Name, "field", d.Field, "summary", d.Summary, "detail", d.Detail)
	}
	in.mu.Lock()
	old := in.source
	in.impl, in.client, in.pid, in.source = impl, client, pid, source
	in.mu.Unlock()
	if old != nil {
		old.Close() // the dead process's last metrics: the new one reports from zero
	}
	return nil
}

// connectTelemetry connects a plugin process's telemetry to the host's relay, if there is one;
// a plugin that cannot report just does not (telemetry never stops a plugin from running).
func (in *instance) connectTelemetry(ctx context.Context, impl sdk.Plugin) *telemetry.Source {
	if in.h.opts.Relay == nil {
		return nil
	}
	src := in.h.opts.Relay.Source(in.spec.Name)
	err := sdk.ConnectTelemetry(ctx, impl, src, in.h.opts.RelayOptions)
	switch {
	case err == nil:
		return src
	case errors.Is(err, errors.ErrUnsupported):
		in.h.log.Debug("plugin reports no telemetry", "plugin", in.spec.Name, "err", err)
	default:
		in.h.log.Warn("plugin telemetry not connected", "plugin", in.spec.Name, "err", err)
	}
	src.Close()
	return nil
}

// serve starts a front end with the engine; uploaders have nothing to start.
func (in *instance) serve(ctx context.Context) error {
	fe, ok := in.current().(sdk.Frontend)
	if !ok {
		return nil
	}
	eps, err := fe.Serve(ctx, in.h.eng)
	if err != nil {
		return fmt.Errorf("%s: serve: %w", in.desc, err)
	}
	in.mu.Lock()
	in.endpoints = eps
	in.mu.Unlock()
	for _, ep := range eps {
		in.h.log.Info("front end listening", "plugin", in.spec.Name, "endpoint", ep.Name, "url", ep.URL)
	}
	return nil
}

// close stops supervising, lets the process send its telemetry, and ends it.
func (in *instance) close() {
	in.mu.Lock()
	if !in.closing {
		in.closing = true
		close(in.done)
	}
	impl, source := in.impl, in.source
	in.source = nil
	in.mu.Unlock()
	if source != nil {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		if err := sdk.FlushTelemetry(ctx, impl); err != nil {
			in.h.log.Debug("plugin telemetry flush", "plugin", in.spec.Name, "err", err)
		}
		cancel()
	}
	in.kill()
	if source != nil {
		source.Close()
	}
}

func (in *instance) kill() {
	in.mu.Lock()
	client := in.client
	in.mu.Unlock()
	if client != nil {
		client.Kill() // asks the plugin to exit, then kills it; reaps the process
	}
}
