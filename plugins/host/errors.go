package host

import "errors"

// Sentinel errors of the plugin host.
var (
	// ErrUnknownPlugin: no built-in adapter and no recorder-plugin-<name> binary has that name.
	ErrUnknownPlugin = errors.New("unknown plugin")
	// ErrBadConfig: a plugin refused its config; the message names the plugin and the field.
	ErrBadConfig = errors.New("bad plugin config")
	// ErrWrongKind: a plugin configured as one kind says it is another.
	ErrWrongKind = errors.New("plugin is of another kind")
	// ErrPluginDied: a plugin process exited without being asked to; the host restarts it.
	ErrPluginDied = errors.New("plugin process died")
	// ErrLaunch: a plugin process could not be started or did not complete the handshake.
	ErrLaunch = errors.New("cannot start plugin")
	// ErrPluginDown: a loaded plugin is not serving: not started yet, or its process died and
	// is not (yet) restarted. Ready's message names it.
	ErrPluginDown = errors.New("plugin down")
	// ErrClosed: the host is closed.
	ErrClosed = errors.New("plugin host closed")
)
