package config

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/screenrec/recorder/pkg/secret"
)

// Admin API defaults.
const (
	// DefaultAdminListen is where the admin API listens once enabled: loopback only, so that
	// nothing beyond this machine reaches it unless the deployment says so. 9464 is the port
	// conventional for an OpenTelemetry Prometheus exporter, which /metrics is.
	DefaultAdminListen = "127.0.0.1:9464"
	// MinAdminTokenLength is the shortest admin token accepted, in characters: the token is
	// the only thing between a caller and stopping or masking recordings.
	MinAdminTokenLength = 16
)

// EnvAdminToken is admin.token's override. It holds the token itself: setting it makes
// admin.token the reference {env: RECORDER_ADMIN_TOKEN}, so the token is never copied into
// the configuration.
const EnvAdminToken = "RECORDER_ADMIN_TOKEN"

// Admin configures the admin API (frontends/admin): health and readiness for load balancers,
// sessions, recordings and uploads for operators, stop and mask, and Prometheus /metrics.
// It is off by default; enabled, it needs a token.
type Admin struct {
	// Enabled serves the admin API (default false). Env RECORDER_ADMIN_ENABLED.
	Enabled bool `cfg:"enabled"`
	// Listen is the admin API's address (default DefaultAdminListen, loopback only).
	// Env RECORDER_ADMIN_LISTEN.
	Listen string `cfg:"listen"`
	// Token is the bearer token every /api/v1/* and /metrics request must carry, as a secret
	// reference: {env: NAME} or {file: PATH} (a relative path is resolved against the config
	// file's folder), never inline. Required when Enabled; resolved by AdminToken, at least
	// MinAdminTokenLength characters. Env RECORDER_ADMIN_TOKEN (the token itself).
	Token any `cfg:"token,secret"`
}

// resolvePaths makes a relative {file: PATH} token reference relative to base, the config
// file's folder.
func (a *Admin) resolvePaths(base string) {
	if m, ok := a.Token.(map[string]any); ok {
		if s, isRef, err := secret.Parse(m); isRef && err == nil && s.File != "" {
			m["file"] = resolvePath(base, s.File)
		}
	}
}

func (a *Admin) validate() *Error {
	if err := ValidateListen(a.Listen); err != nil {
		return valueErr("admin.listen", "%v", err)
	}
	if a.Token == nil {
		if a.Enabled {
			return valueErr("admin.token", "required when admin.enabled is true: the API's bearer token, as {env: NAME} or {file: PATH}")
		}
		return nil
	}
	// The message never quotes the value: it may be a secret written where it must not be.
	_, isRef, err := secret.Parse(a.Token)
	switch {
	case !isRef:
		return &Error{Path: "admin.token", Kind: ErrSecret,
			Msg: "a secret must be a reference, {env: NAME} or {file: PATH}, not written inline"}
	case err != nil:
		return &Error{Path: "admin.token", Kind: ErrSecret, Msg: err.Error()}
	}
	return nil
}

// AdminToken resolves admin.token (env looks variables up, os.LookupEnv when nil) and checks
// it is at least MinAdminTokenLength characters. Errors are *Error naming admin.token with
// the line or the variable it came from, and never the token.
func (c *Config) AdminToken(env func(string) (string, bool)) (string, error) {
	fail := func(kind error, format string, args ...any) (string, error) {
		return "", c.src.locate(&Error{Path: "admin.token", Kind: kind, Msg: fmt.Sprintf(format, args...)})
	}
	s, isRef, err := secret.Parse(c.Admin.Token)
	switch {
	case c.Admin.Token == nil:
		return fail(ErrBadValue, "not set: write {env: NAME} or {file: PATH}")
	case !isRef:
		return fail(ErrSecret, "a secret must be a reference, {env: NAME} or {file: PATH}, not written inline")
	case err != nil:
		return fail(ErrSecret, "%v", err)
	}
	tok, err := s.Resolve(env)
	if err != nil {
		return fail(ErrSecret, "%v", err)
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(tok)); n < MinAdminTokenLength {
		return fail(ErrSecret, "%s holds a token of %d characters: use at least %d (e.g. openssl rand -hex 32)",
			s, n, MinAdminTokenLength)
	}
	return tok, nil
}
