package rws

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Defaults of the config section.
const (
	// DefaultChunkSize is the PATCH size: 4 MiB.
	DefaultChunkSize = 4 << 20
	// DefaultTimeout bounds each request, a whole PATCH included.
	DefaultTimeout = 30 * time.Second
	// DefaultCooldown is how long the primary is passed over after it failed.
	DefaultCooldown = 60 * time.Second
)

// Config is the uploader's config section, as decoded and checked by Configure: its
// declaration (see sdkconfig), with the defaults in DefaultConfig. Keys are snake_case JSON;
// durations are strings such as "30s". The password reaches Configure already resolved by
// the host from an {env: NAME} / {file: PATH} reference. chunk_size is at most 64MiB because
// the RWS test server buffers a whole chunk to check its checksum.
type Config struct {
	Server string `cfg:"server,required" desc:"RWS root URL, absolute http(s), e.g. https://rws.example.com; uploads go to {server}/api/v2/screen-recordings/ (tus 1.0.0)"`
	// PeerServer is the backup data centre's RWS root; empty: none.
	PeerServer string `cfg:"peer_server" desc:"the backup data centre's RWS root; uploads fail over to it on connection errors, timeouts and 5xx from server"`
	// Username and Password are the service account, used when an upload does not carry the
	// agent's own credentials; both or neither.
	Username string `cfg:"username" desc:"service account used when an upload does not carry the agent's own credentials; with password"`
	Password string `cfg:"password,secret" desc:"the service account's password: a secret, given as {env: NAME} or {file: PATH}, never inline"`
	// ChunkSize is the PATCH size in bytes.
	ChunkSize int64 `cfg:"chunk_size,size" min:"1KiB" max:"64MiB" desc:"bytes per PATCH: a number, or a string with a unit (\"4MiB\", \"512KiB\", \"1MB\")"`
	// Timeout bounds each request.
	Timeout time.Duration `cfg:"timeout" min:"100ms" max:"1h" desc:"bound on each request, a whole PATCH included (chunk_size must cross the slowest uplink within it)"`
	// Cooldown is how long, after the primary failed (connection error, timeout, 5xx),
	// uploads go to the peer first before the primary is tried again.
	Cooldown time.Duration `cfg:"cooldown" min:"0s" max:"24h" desc:"after server failed, how long uploads go to peer_server first before server is tried again"`
}

// DefaultConfig returns the values used for keys that are absent.
func DefaultConfig() Config {
	return Config{ChunkSize: DefaultChunkSize, Timeout: DefaultTimeout, Cooldown: DefaultCooldown}
}

// schema describes the config section, from its declaration.
var schema = sdkconfig.Schema(DefaultConfig())

// decoder turns a raw config section into a Config, collecting diagnostics that name the key.
type decoder struct {
	sdkconfig.Decoder
}

// decodeConfig decodes and checks a config section; the Config is valid only when no
// diagnostic is an error.
func decodeConfig(raw []byte) (Config, []sdk.Diagnostic) {
	d := &decoder{}
	cfg := DefaultConfig()
	if sdkconfig.IsNull(raw) {
		d.Errorf("", "config is not an object",
			`the rws section must be a JSON object with at least "server", e.g. {"server": "https://rws.example.com"}`)
		return cfg, d.Diags
	}
	d.Decode(raw, &cfg)
	if cfg.Server != "" {
		if root, err := serverRoot(cfg.Server); err != nil {
			d.Errorf("server", "bad server URL", "%v", err)
		} else {
			cfg.Server = root
			d.clearText("server", root)
		}
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
	case d.HasError("username") || d.HasError("password"):
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
