package sdk

import (
	"errors"

	"github.com/screenrec/recorder/engine/api"
)

// Sentinel errors of the plugin contract.
var (
	// ErrPermanent marks an upload failure that retrying cannot fix (e.g. 401, 403); it is
	// api.ErrPermanent, which the engine's scheduler checks.
	ErrPermanent = api.ErrPermanent
	// ErrNotConfigured: a front end was served, or an upload asked for, before Configure succeeded.
	ErrNotConfigured = errors.New("plugin not configured")
	// ErrStopped: the plugin was used after Stop.
	ErrStopped = errors.New("plugin stopped")
	// ErrPluginExited: the plugin process is gone (crashed or killed); the host restarts it.
	ErrPluginExited = errors.New("plugin process exited")
	// ErrBadConfig: Configure refused the config; the diagnostics say why.
	ErrBadConfig = errors.New("bad plugin config")
)
