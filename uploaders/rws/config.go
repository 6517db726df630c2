package rws

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Defaults and bounds of the config section.
const (
	// DefaultChunkSize is the PATCH size: 4 MiB.
	DefaultChunkSize = 4 << 20
	// MinChunkSize and MaxChunkSize bound chunk_size (the RWS test server buffers at most
	// 64 MiB per chunk to check its checksum).
	MinChunkSize = 1 << 10
	MaxChunkSize = 64 << 20
	// DefaultTimeout bounds each request, a whole PATCH included.
	DefaultTimeout = 30 * time.Second
	// MinTimeout and MaxTimeout bound timeout.
	MinTimeout = 100 * time.Millisecond
	MaxTimeout = time.Hour
	// DefaultCooldown is how long the primary is passed over after it failed.
	DefaultCooldown = 60 * time.Second
	// MaxCooldown bounds cooldown (0 is allowed: always try the primary first).
	MaxCooldown = 24 * time.Hour
)

// Config is the uploader's config section, as decoded and checked by Configure. Keys are
// snake_case JSON; durations are strings such as "30s". The password reaches Configure
// already resolved by the host from an {env: NAME} / {file: PATH} reference.
type Config struct {
	// Server (server) is the RWS root URL, absolute http(s), e.g. https://rws.example.com;
	// uploads go to {server}/api/v2/screen-recordings/. Required.
	Server string
	// PeerServer (peer_server) is the backup data centre's RWS root; empty: none.
	PeerServer string
	// Username and Password (username, password) are the service account, used when an
	// upload does not carry the agent's own credentials; both or neither. Password is a
	// secret.
	Username, Password string
	// ChunkSize (chunk_size) is the PATCH size in bytes: a number, or a string with a unit
	// ("4MiB", "512KiB", "1MB"). Default DefaultChunkSize.
	ChunkSize int64
	// Timeout (timeout) bounds each request. Default DefaultTimeout.
	Timeout time.Duration
	// Cooldown (cooldown) is how long, after the primary failed (connection error, timeout,
	// 5xx), uploads go to the peer first before the primary is tried again. Default
	// DefaultCooldown.
	Cooldown time.Duration
}

// DefaultConfig returns the values used for keys that are absent.
func DefaultConfig() Config {
	return Config{ChunkSize: DefaultChunkSize, Timeout: DefaultTimeout, Cooldown: DefaultCooldown}
}

// schema describes the config section; keep it in step with decodeConfig.
var schema = sdk.Schema{Fields: []sdk.Field{
	{Name: "server", Type: "string", Required: true,
		Description: "RWS root URL, absolute http(s), e.g. https://rws.example.com; uploads go to {server}/api/v2/screen-recordings/ (tus 1.0.0)"},
	{Name: "peer_server", Type: "string",
		Description: "the backup data centre's RWS root; uploads fail over to it on connection errors, timeouts and 5xx from server"},
	{Name: "username", Type: "string",
		Description: "service account used when an upload does not carry the agent's own credentials; with password"},
	{Name: "password", Type: "string", Secret: true,
		Description: "the service account's password: a secret, given as {env: NAME} or {file: PATH}, never inline"},
	{Name: "chunk_size", Type: "int", Default: "4MiB",
		Description: `bytes per PATCH: a number, or a string with a unit ("4MiB", "512KiB", "1MB"); 1KiB to 64MiB`},
	{Name: "timeout", Type: "duration", Default: DefaultTimeout.String(),
		Description: "bound on each request, a whole PATCH included (chunk_size must cross the slowest uplink within it); 100ms to 1h"},
	{Name: "cooldown", Type: "duration", Default: DefaultCooldown.String(),
		Description: "after server failed, how long uploads go to peer_server first before server is tried again; 0s to 24h"},
}}

var configKeys = []string{"server", "peer_server", "username", "password", "chunk_size", "timeout", "cooldown"}

// decoder turns a raw config section into a Config, collecting diagnostics that name the key.
type decoder struct {
	sdkconfig.Decoder
}

// decodeConfig decodes and checks a config section; the Config is valid only when no
// diagnostic is an error.
func decodeConfig(raw []byte) (Config, []sdk.Diagnostic) {
	d := &decoder{}
	cfg := DefaultConfig()
	var m map[string]json.RawMessage
	if sdkconfig.IsNull(raw) || json.Unmarshal(raw, &m) != nil || m == nil {
		d.Errorf("", "config is not an object",
			`the rws section must be a JSON object with at least "server", e.g. {"server": "https://rws.example.com"}`)
		return cfg, d.Diags
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(configKeys, k) {
			d.Errorf(k, "unknown key", "%q is not a key here; known keys: %s", k, strings.Join(configKeys, ", "))
		}
	}
	d.Str("server", m["server"], &cfg.Server)
	d.Str("peer_server", m["peer_server"], &cfg.PeerServer)
	d.Str("username", m["username"], &cfg.Username)
	d.Str("password", m["password"], &cfg.Password)
	d.chunkSize(m["chunk_size"], &cfg.ChunkSize)
	d.Duration("timeout", m["timeout"], &cfg.Timeout, MinTimeout, MaxTimeout)
	d.Duration("cooldown", m["cooldown"], &cfg.Cooldown, 0, MaxCooldown)

	if cfg.Server == "" {
		if _, set := m["server"]; !set {
			d.Errorf("server", "missing server", `set the RWS root URL, e.g. "https://rws.example.com"`)
		} else {
			d.Errorf("server", "empty server", `set the RWS root URL, e.g. "https://rws.example.com"`)
		}
	} else if root, err := serverRoot(cfg.Server); err != nil {
		d.Errorf("server", "bad server URL", "%v", err)
	} else {
		cfg.Server = root
		d.clearText("server", root)
	}
	if cfg.PeerServer != "" {
		if root, err := serverRoot(cfg.PeerServer); err != nil {
			d.Errorf("peer_server", "bad peer_server URL", "%v", err)
		} else if root == cfg.Server {
			d.Errorf("peer_server", "peer_server is server", "%s: the backup must be another data centre (or leave peer_server out)", root)
		} else {
			cfg.PeerServer = root
			d.clearText("peer_server", root)
		}
	}
	switch {
	case cfg.Username != "" && cfg.Password == "":
		d.Errorf("password", "missing password", "username is set: set password too, as {env: NAME} or {file: PATH}")
	case cfg.Username == "" && cfg.Password != "":
		d.Errorf("username", "missing username", "password is set: set username too")
	case cfg.Username == "":
		d.Warnf("username", "no service account", "only uploads that carry the agent's own credentials can be sent")
	case strings.Contains(cfg.Username, ":"):
		d.Errorf("username", "bad username", "a Basic-auth user name cannot hold ':'")
	}
	return cfg, d.Diags
}

// clearText warns about a plain-HTTP server beyond loopback: Basic credentials cross the
// network in clear.
func (d *decoder) clearText(field, root string) {
	u, _ := url.Parse(root)
	if u.Scheme != "http" {
		return
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1" {
		return
	}
	d.Warnf(field, "plain HTTP", "%s: credentials and recordings cross the network in clear; use https", root)
}

func (d *decoder) chunkSize(raw json.RawMessage, dst *int64) {
	if sdkconfig.IsNull(raw) {
		return
	}
	var n int64
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			d.Errorf("chunk_size", "not a size", `want bytes as a whole number or a string such as "4MiB", got %s`, sdkconfig.KindOf(raw))
			return
		}
		var err error
		if n, err = ParseSize(s); err != nil {
			d.Errorf("chunk_size", "not a size", "%v", err)
			return
		}
	}
	if n < MinChunkSize || n > MaxChunkSize {
		d.Errorf("chunk_size", "size out of range", "%d bytes is outside %d (1KiB) to %d (64MiB)", n, MinChunkSize, MaxChunkSize)
		return
	}
	*dst = n
}

// sizeUnits are the units ParseSize accepts, lower case.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1000,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1000 * 1000,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1000 * 1000 * 1000,
}

// ParseSize parses a byte size: a whole number with an optional unit, B, KiB/MiB/GiB
// (binary), KB/MB/GB (decimal) or K/M/G (binary), case-insensitive: "4MiB", "512 KiB",
// "1048576".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf(`size %q: want a whole number with an optional unit, e.g. "4MiB", "512KiB", "1MB"`, s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}

// serverRoot checks an RWS root URL and returns it without a trailing slash.
func serverRoot(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q: want an absolute http:// or https:// URL", s)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%q: no host", s)
	case u.User != nil:
		return "", fmt.Errorf("%q: credentials do not belong in the URL; use username and password", redact(u))
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%q: want the server's root, without query or fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
