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
	// exitPoll is how often a plugin process is checked for having exited where the kernel
	// cannot tell (no pidfd), and how often its client is checked once the process is gone.
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
	for {
		in.mu.Lock()
		client, pid := in.client, in.pid
		in.mu.Unlock()
		if client == nil || !in.waitExited(client, pid) {
			return
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

// waitExited waits until the plugin process (client, pid) has exited and its client knows it
// (go-plugin reaps it), or until the instance is closed: it reports false then. It sleeps on
// the process's pidfd where the kernel has one; a supervised idle plugin then costs no
// wake-ups (a 20 ms poll cost 1–1.6 % of a core for two plugins).
func (in *instance) waitExited(client interface{ Exited() bool }, pid int) bool {
	if exited, stop, ok := watchExit(pid); ok {
		// A process that exited before the pidfd was opened is its client's to tell (below):
		// go-plugin reaps it, so its pid is not reused while it is not.
		if !client.Exited() {
			select {
			case <-in.done:
				stop()
				return false
			case <-exited:
			}
		}
		stop()
	}
	t := time.NewTicker(exitPoll)
	defer t.Stop()
	for !client.Exited() {
		select {
		case <-in.done:
			return false
		case <-t.C:
		}
	}
	return true
}
