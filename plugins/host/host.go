package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/screenrec/recorder/engine"
	"github.com/screenrec/recorder/pkg/secret"
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
	// Executable is the recorder binary re-executed as `recorder plugin <name>` for built-in
	// adapters run out of process (default: this process's executable).
	Executable string
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

// MetricRestarts counts plugin processes restarted after they died, by plugin and kind.
const MetricRestarts = "recorder.plugin.restarts"

// flushTimeout bounds how long a plugin process may take to send its telemetry before it is
// stopped.
const flushTimeout = 2 * time.Second

// Restart back-off: the first restart of a dead plugin waits RestartBackoff, each further one
// in a row twice as long, up to MaxRestartBackoff; variables so tests can shorten them.
var (
	RestartBackoff    = 50 * time.Millisecond
	MaxRestartBackoff = time.Second
	// exitPoll is how often a plugin process is checked for having exited.
	exitPoll = 20 * time.Millisecond
	// HealthyAfter resets the back-off once a plugin has stayed up this long: a single crash is
	// restarted at once, a crash loop backs off (and still restarts within 2 s).
	HealthyAfter = 5 * time.Second
)

// EventType says what happened to a plugin.
type EventType string

// Event types.
const (
	EventExited        EventType = "exited"
	EventRestarted     EventType = "restarted"
	EventRestartFailed EventType = "restart_failed"
)

// Event reports a plugin process's death and restart.
type Event struct {
	Time   time.Time
	Plugin string
	Kind   sdk.Kind
	Type   EventType
	// Err wraps ErrPluginDied for an exit, the launch error for a failed restart.
	Err error
	// Down is how long the plugin was gone, for a restart.
	Down time.Duration
	// Pid is the process's pid (the dead one for exits, the new one for restarts).
	Pid int
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
	if opts.Executable == "" {
		opts.Executable, _ = os.Executable()
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

// Events reports plugin deaths and restarts. Events are dropped, with a log line, when nobody
// reads them.
func (h *Host) Events() <-chan Event { return h.events }

func (h *Host) emit(e Event) {
	e.Time = time.Now()
	select {
	case h.events <- e:
	default:
		h.log.Warn("plugin event dropped: nobody reads host events", "plugin", e.Plugin, "type", e.Type)
	}
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

func (h *Host) newInstance(sp Spec) (*instance, error) {
	if sp.Where == "" {
		sp.Where = string(sp.Kind)
	}
	in := &instance{h: h, spec: sp, desc: fmt.Sprintf("%s (%s)", sp.Where, sp.Name), done: make(chan struct{})}
	if reg, ok := Builtin(sp.Kind, sp.Name); ok {
		in.reg = &reg
		return in, nil
	}
	if sp.InProcess {
		return nil, fmt.Errorf("%w: %s: only built-in adapters run in-process", ErrUnknownPlugin, in.desc)
	}
	path := filepath.Join(h.opts.PluginDir, ExternalPrefix+sp.Name)
	if h.opts.PluginDir == "" {
		return nil, fmt.Errorf("%w: %s: no built-in %s of that name and no plugin_dir", ErrUnknownPlugin, in.desc, sp.Kind)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("%w: %s: no built-in %s of that name and no executable %s", ErrUnknownPlugin, in.desc, sp.Kind, path)
	}
	in.path = path
	return in, nil
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

// instance is one loaded adapter.
type instance struct {
	h    *Host
	spec Spec
	desc string
	reg  *Registration // built-in, or nil
	path string        // external binary, or ""
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

// command is how the plugin process is started.
func (in *instance) command() *exec.Cmd {
	if in.path != "" {
		return dieWithHost(exec.Command(in.path))
	}
	return dieWithHost(exec.Command(in.h.opts.Executable, "plugin", in.spec.Name, "--kind", string(in.spec.Kind)))
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
		logger := newSlogLogger(in.h.log.With("plugin", in.spec.Name))
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

func describe(d sdk.Diagnostic) string {
	s := d.Summary
	if d.Field != "" {
		s = "config." + d.Field + ": " + s
	}
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	return s
}

// resolvedConfig checks that secret fields are references, resolves them, and encodes the
// section as JSON for the plugin.
func (in *instance) resolvedConfig(ctx context.Context, impl sdk.Plugin) ([]byte, error) {
	schema, err := impl.ConfigSchema(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: config schema: %w", ErrLaunch, in.desc, err)
	}
	for _, f := range schema.Fields {
		if !f.Secret {
			continue
		}
		if where := secret.FindInline(in.spec.Config, f.Name, "config"); where != "" {
			return nil, fmt.Errorf("%w: %s: %s: a secret must be a reference ({env: NAME} or {file: PATH}), not inline",
				ErrBadConfig, in.desc, where)
		}
	}
	resolved, err := secret.ResolveAll(in.spec.Config, in.h.opts.Env)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, in.desc, err)
	}
	raw, err := json.Marshal(resolved)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, in.desc, err)
	}
	return raw, nil
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

// supervise restarts the plugin process whenever it exits unasked, with back-off.
func (in *instance) supervise() {
	defer in.h.wg.Done()
	backoff := RestartBackoff
	upSince := time.Now()
	t := time.NewTicker(exitPoll)
	defer t.Stop()
	for {
		select {
		case <-in.done:
			return
		case <-t.C:
		}
		in.mu.Lock()
		client, pid := in.client, in.pid
		in.mu.Unlock()
		if client == nil || !client.Exited() {
			continue
		}
		died := time.Now()
		if died.Sub(upSince) > HealthyAfter {
			backoff = RestartBackoff
		}
		err := fmt.Errorf("%w: %s (pid %d)", ErrPluginDied, in.desc, pid)
		in.h.log.Error("plugin process died; restarting", "plugin", in.spec.Name, "pid", pid, "backoff", backoff)
		in.h.emit(Event{Plugin: in.spec.Name, Kind: in.spec.Kind, Type: EventExited, Err: err, Pid: pid})
		for {
			select {
			case <-in.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, MaxRestartBackoff)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := in.launch(ctx)
			if err == nil {
				err = in.serve(ctx)
			}
			cancel()
			if err == nil {
				break
			}
			in.h.log.Error("plugin restart failed", "plugin", in.spec.Name, "err", err)
			in.h.emit(Event{Plugin: in.spec.Name, Kind: in.spec.Kind, Type: EventRestartFailed, Err: err})
		}
		upSince = time.Now()
		in.mu.Lock()
		pid = in.pid
		in.mu.Unlock()
		in.h.restarts.Add(context.Background(), 1, metric.WithAttributes(attribute.String("plugin", in.spec.Name),
			attribute.String("kind", string(in.spec.Kind))))
		in.h.log.Info("plugin restarted", "plugin", in.spec.Name, "pid", pid, "down", upSince.Sub(died))
		in.h.emit(Event{Plugin: in.spec.Name, Kind: in.spec.Kind, Type: EventRestarted, Down: upSince.Sub(died), Pid: pid})
	}
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

// uploaderOf calls whichever implementation currently runs an uploader instance.
type uploaderOf struct{ in *instance }

func (u uploaderOf) impl() (sdk.Uploader, error) {
	up, ok := u.in.current().(sdk.Uploader)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPlugin, u.in.desc)
	}
	return up, nil
}

func (u uploaderOf) Info(ctx context.Context) (sdk.Info, error) {
	up, err := u.impl()
	if err != nil {
		return sdk.Info{}, err
	}
	return up.Info(ctx)
}

func (u uploaderOf) ConfigSchema(ctx context.Context) (sdk.Schema, error) {
	up, err := u.impl()
	if err != nil {
		return sdk.Schema{}, err
	}
	return up.ConfigSchema(ctx)
}

func (u uploaderOf) Configure(ctx context.Context, raw []byte) ([]sdk.Diagnostic, error) {
	up, err := u.impl()
	if err != nil {
		return nil, err
	}
	return up.Configure(ctx, raw)
}

func (u uploaderOf) Upload(ctx context.Context, req sdk.UploadRequest, progress func(sdk.Progress)) (sdk.UploadResult, error) {
	up, err := u.impl()
	if err != nil {
		return sdk.UploadResult{}, err
	}
	return up.Upload(ctx, req, progress)
}

// EngineAPI adapts an engine to the API front ends drive.
func EngineAPI(e *engine.Engine) sdk.Engine { return engineAPI{e} }

type engineAPI struct{ *engine.Engine }

func (a engineAPI) Events(ctx context.Context) (<-chan engine.Event, error) {
	return a.Engine.Events(ctx), nil
}

func (a engineAPI) SetUploadAuth(_ context.Context, owner string, auth *engine.UploadAuth) error {
	a.Engine.SetUploadAuth(owner, auth)
	return nil
}
