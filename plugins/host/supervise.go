package host

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/screenrec/recorder/plugins/sdk"
)

// MetricRestarts counts plugin processes restarted after they died, by plugin and kind.
const MetricRestarts = "recorder.plugin.restarts"

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
