// Package host runs the recorder's adapters: built-in ones (package builtin), in-process or as
// recorder-builtin plugin processes, and external recorder-plugin-<name> binaries from a plugin
// folder, as go-plugin subprocesses. It validates their config at load, supervises plugin processes (restarting one
// that dies while recordings go on in the engine), routes their logs into slog, and stops them
// cleanly.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/screenrec/recorder/pkg/telemetry"
	"github.com/screenrec/recorder/plugins/sdk"
)

// Spec says which adapter to run and how.
type Spec struct {
	// Name is a built-in adapter's name or an external plugin's (recorder-plugin-<name>).
	Name string
	// Kind is frontend or uploader.
	Kind sdk.Kind
	// InProcess runs it inside the host instead of as a plugin process.
	InProcess bool
	// Config is the adapter's config section, secrets still as references.
	Config map[string]any
	// Where names the spec in error messages (e.g. "frontends[0]").
	Where string
}

// Options tune a Host.
type Options struct {
	// BuiltinExecutable is the binary that serves built-in adapters run as plugin processes,
	// `recorder-builtin --kind KIND NAME` (default: builtin.Executable in the folder of this
	// process's executable, where `make build` and packages install it).
	BuiltinExecutable string
	// PluginDir holds external recorder-plugin-<name> binaries.
	PluginDir string
	// Logger receives the host's and the plugins' logs (default slog.Default()).
	Logger *slog.Logger
	// Env resolves secret references (default os.LookupEnv).
	Env func(string) (string, bool)
	// TracerProvider and MeterProvider, when either is set, trace and measure the host's side
	// of plugin connections (calls into plugins, Engine calls front ends make back, with W3C
	// trace context carried both ways) and count plugin restarts; the one left nil is
	// OpenTelemetry's global. Both nil: connections are not instrumented.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Relay, when set, takes in the spans and metrics of plugin processes: each is connected
	// to it at launch (sdk.ConnectTelemetry) with RelayOptions, its metrics labelled with
	// the plugin's name. Nil: plugin processes record no telemetry.
	Relay        *telemetry.Relay
	RelayOptions sdk.TelemetryOptions
}

// Host runs adapters around an engine.
type Host struct {
	eng      sdk.Engine
	opts     Options
	log      *slog.Logger
	events   chan Event
	tracing  []sdk.ClientOption // instrument plugin connections; empty: none
	restarts metric.Int64Counter

	mu        sync.Mutex
	instances []*instance
	closed    bool
	wg        sync.WaitGroup
}

// New returns a host that gives front ends eng. Nothing starts until Load.
func New(eng sdk.Engine, opts Options) *Host {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	if opts.BuiltinExecutable == "" {
		opts.BuiltinExecutable = defaultBuiltinExecutable()
	}
	h := &Host{eng: eng, opts: opts, log: opts.Logger, events: make(chan Event, 64)}
	mp := opts.MeterProvider
	if opts.TracerProvider != nil || mp != nil {
		h.tracing = []sdk.ClientOption{sdk.WithTracing(opts.TracerProvider, mp)}
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	var err error
	h.restarts, err = mp.Meter("github.com/screenrec/recorder/plugins/host").Int64Counter(MetricRestarts,
		metric.WithUnit("{restart}"), metric.WithDescription("Plugin processes restarted after they died."))
	if err != nil {
		h.log.Warn("plugin restart counter", "err", err) // a no-op counter is returned with the error
	}
	return h
}

// Load starts every adapter and configures it. Any failure (unknown plugin, wrong kind, a
// refused config, a secret given inline) stops everything already started and returns an
// error naming the plugin and the field; nothing serves until Serve.
func (h *Host) Load(ctx context.Context, specs []Spec) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	h.mu.Unlock()
	var started []*instance
	for _, sp := range specs {
		in, err := h.newInstance(sp)
		if err == nil {
			err = in.launch(ctx)
		}
		if err != nil {
			for _, s := range started {
				s.kill()
			}
			if in != nil {
				in.kill()
			}
			return err
		}
		started = append(started, in)
	}
	h.mu.Lock()
	h.instances = append(h.instances, started...)
	h.mu.Unlock()
	return nil
}

// Serve starts every front end loaded since the last Serve with the engine and supervises
// their plugin processes.
func (h *Host) Serve(ctx context.Context) error {
	h.mu.Lock()
	var list []*instance
	for _, in := range h.instances {
		if !in.started {
			in.started = true
			list = append(list, in)
		}
	}
	h.mu.Unlock()
	for _, in := range list {
		if err := in.serve(ctx); err != nil {
			return err
		}
		if !in.spec.InProcess {
			h.wg.Add(1)
			go in.supervise()
		}
	}
	return nil
}

// Endpoints lists where each front end listens, by plugin name.
func (h *Host) Endpoints() map[string][]sdk.Endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]sdk.Endpoint{}
	for _, in := range h.instances {
		in.mu.Lock()
		if len(in.endpoints) > 0 {
			out[in.spec.Name] = append([]sdk.Endpoint(nil), in.endpoints...)
		}
		in.mu.Unlock()
	}
	return out
}

// Ready reports whether every loaded adapter is up: nil, or an error wrapping ErrPluginDown
// that names the first one that is not (loaded but not served yet, or a plugin process that
// died and is not restarted yet, or whose restart failed), or ErrClosed once the host is
// closed. A host with no adapters is ready. It is cheap: no call reaches the plugins.
func (h *Host) Ready() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	list := append([]*instance(nil), h.instances...)
	started := make([]bool, len(list))
	for i, in := range list {
		started[i] = in.started
	}
	h.mu.Unlock()
	for i, in := range list {
		if !started[i] {
			return fmt.Errorf("%w: %s: loaded but not served yet", ErrPluginDown, in.desc)
		}
		in.mu.Lock()
		impl, client, pid := in.impl, in.client, in.pid
		in.mu.Unlock()
		switch {
		case impl == nil:
			return fmt.Errorf("%w: %s: not running", ErrPluginDown, in.desc)
		case client != nil && client.Exited():
			return fmt.Errorf("%w: %s: process %d exited; restarting", ErrPluginDown, in.desc, pid)
		}
	}
	return nil
}

// Pid is the process id of the named plugin (0 for in-process or unknown ones).
func (h *Host) Pid(kind sdk.Kind, name string) int {
	if in := h.find(kind, name); in != nil {
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.pid
	}
	return 0
}

// Uploader returns the named uploader; calls go to whichever process currently runs it.
func (h *Host) Uploader(name string) (sdk.Uploader, error) {
	in := h.find(sdk.KindUploader, name)
	if in == nil {
		return nil, fmt.Errorf("%w: uploader %s is not loaded", ErrUnknownPlugin, name)
	}
	return uploaderOf{in}, nil
}

func (h *Host) find(kind sdk.Kind, name string) *instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, in := range h.instances {
		if in.spec.Kind == kind && in.spec.Name == name {
			return in
		}
	}
	return nil
}

// StopFrontends makes every front end stop accepting requests (in-flight ones finish).
func (h *Host) StopFrontends(ctx context.Context) error {
	h.mu.Lock()
	list := append([]*instance(nil), h.instances...)
	h.mu.Unlock()
	var errs []error
	for _, in := range list {
		if fe, ok := in.current().(sdk.Frontend); ok {
			if err := fe.Stop(ctx); err != nil && !errors.Is(err, sdk.ErrPluginExited) {
				errs = append(errs, fmt.Errorf("%s: stop: %w", in.desc, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops front ends, stops supervising and ends every plugin process; it is idempotent.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	list := h.instances
	h.mu.Unlock()
	err := h.StopFrontends(ctx)
	for _, in := range list {
		in.close()
	}
	h.wg.Wait()
	return err
}
