package srs

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/pkg/listenaddr"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Defaults of the config section.
const (
	// DefaultListen is the HTTP listener: loopback only, port 8743.
	DefaultListen = "127.0.0.1:8743"
	// DefaultHTTPSListen is where HTTPS listens when cert_file and key_file are set but
	// https_listen is not.
	DefaultHTTPSListen = "127.0.0.1:8443"
	// DefaultPingTimeout ends a session that has not pinged for this long (vendor: 60 s).
	DefaultPingTimeout = 60 * time.Second
	// DefaultRWSTimeout bounds one credential check against one RWS.
	DefaultRWSTimeout = 5 * time.Second
	// DefaultThrottleFailures failed logins of one user name lock it out.
	DefaultThrottleFailures = 5
	// DefaultThrottleLockout is how long a lockout lasts.
	DefaultThrottleLockout = 30 * time.Second

	// MinPingTimeout and MaxPingTimeout bound ping_timeout (the minimum is low so tests can
	// time sessions out quickly; desktops poll every 30 s).
	MinPingTimeout = 100 * time.Millisecond
	MaxPingTimeout = 24 * time.Hour
	// MinRWSTimeout and MaxRWSTimeout bound rws_timeout.
	MinRWSTimeout = 100 * time.Millisecond
	MaxRWSTimeout = 5 * time.Minute
	// MaxThrottleLockout bounds throttle_lockout.
	MaxThrottleLockout = 24 * time.Hour
)

// RecordingWhen is the policy saying when a session records.
type RecordingWhen string

// The recording policies.
const (
	// RecordSession records from login to logout or ping timeout (the default).
	RecordSession RecordingWhen = "session"
	// RecordNever only tracks presence; another front end starts capture.
	RecordNever RecordingWhen = "never"
)

// The credential verifiers.
const (
	VerifierStatic = "static" // a users file of bcrypt hashes
	VerifierRWS    = "rws"    // GET {server}/api/v2/me with the same Basic credentials
)

// Config is the front end's config section, as decoded and checked by Configure. Keys are
// snake_case JSON; durations are strings such as "60s"; integers may also be given as
// numeric strings and lists as comma-separated strings (what environment overrides produce).
type Config struct {
	// Listen (listen) is the HTTP listener's host:port. Default DefaultListen.
	Listen string
	// HTTPSListen (https_listen) is the HTTPS listener's host:port; empty: no HTTPS, unless
	// cert_file and key_file are set, which make it DefaultHTTPSListen.
	HTTPSListen string
	// CertFile and KeyFile (cert_file, key_file) are the HTTPS certificate and key (PEM);
	// both or neither. They are loaded by Configure.
	CertFile, KeyFile string
	// Origins (origins) are the web origins allowed to call the API across origins: exact
	// "scheme://host[:port]", or "scheme://*.example.com[:port]", which matches every
	// subdomain of example.com at any depth but not example.com itself. A bare "*" is refused.
	// Empty: no cross-origin access (native desktops, which send no Origin, still work).
	Origins []string
	// PingTimeout (ping_timeout) ends a session that has not pinged for this long. Default
	// DefaultPingTimeout; MinPingTimeout to MaxPingTimeout.
	PingTimeout time.Duration
	// RecordingWhen (recording_when) is "session" (default) or "never".
	RecordingWhen RecordingWhen
	// Verifier (verifier) checks credentials: "static" (the default when users_file is set)
	// or "rws". One of the two must be chosen.
	Verifier string
	// UsersFile (users_file) is the static verifier's users file: one "user:bcrypt-hash" per
	// line, blank lines and lines starting with '#' ignored. Loaded by Configure.
	UsersFile string
	// Server and PeerServer (server, peer_server) are the RWS URLs used by logins without a
	// body (GET /api/v2/me): absolute http(s) URLs.
	Server, PeerServer string
	// RWSTimeout (rws_timeout) bounds one credential check against one RWS. Default
	// DefaultRWSTimeout.
	RWSTimeout time.Duration
	// Display (display) is the X display recorded for agents without their own; empty: the
	// engine's default.
	Display string
	// Agents (agents) are per-agent settings: own display (several agents sharing a host),
	// default place and devices.
	Agents []Agent
	// ThrottleFailures (throttle_failures) failed logins of one user name lock it out; 0
	// turns throttling off. Default DefaultThrottleFailures.
	ThrottleFailures int
	// ThrottleLockout (throttle_lockout) is how long a lockout lasts. Default
	// DefaultThrottleLockout.
	ThrottleLockout time.Duration
}

// Agent is one entry of agents.
type Agent struct {
	// User (user) is the agent's user name, as in the Basic credentials. Required, unique.
	User string
	// Display (display) is the X display recorded for this agent; empty: Config.Display.
	Display string
	// Place (place) is the agent's default place (logins without a place).
	Place string
	// Devices (devices) are the default place's devices.
	Devices []Device
}

// Device is a DN on a switch.
type Device struct {
	DN     string `json:"dn"`
	Switch string `json:"switch"`
}

// DefaultConfig returns the config used for keys that are absent.
func DefaultConfig() Config {
	return Config{
		Listen:           DefaultListen,
		PingTimeout:      DefaultPingTimeout,
		RecordingWhen:    RecordSession,
		RWSTimeout:       DefaultRWSTimeout,
		ThrottleFailures: DefaultThrottleFailures,
		ThrottleLockout:  DefaultThrottleLockout,
	}
}

// schema describes the config section; keep it in step with decodeConfig.
var schema = sdk.Schema{Fields: []sdk.Field{
	{Name: "listen", Type: "string", Default: DefaultListen,
		Description: "host:port of the HTTP listener (loopback unless you mean it)"},
	{Name: "https_listen", Type: "string", Default: "",
		Description: `host:port of the HTTPS listener; empty: off, or "` + DefaultHTTPSListen + `" when cert_file and key_file are set`},
	{Name: "cert_file", Type: "string", Description: "HTTPS certificate chain (PEM); with key_file, loaded at configure time"},
	{Name: "key_file", Type: "string", Description: "HTTPS private key (PEM); with cert_file"},
	{Name: "origins", Type: "list", Default: "[]",
		Description: `web origins allowed across origins: "scheme://host[:port]" or "https://*.example.com" (any subdomain depth, not example.com itself); bare "*" refused; a comma-separated string is also accepted`},
	{Name: "ping_timeout", Type: "duration", Default: DefaultPingTimeout.String(),
		Description: "a session that has not pinged for this long ends and its recording is finalised (100ms to 24h)"},
	{Name: "recording_when", Type: "string", Default: string(RecordSession),
		Description: "session: record from login to logout or timeout; never: presence only"},
	{Name: "verifier", Type: "string", Default: "static when users_file is set",
		Description: "credential check: static (users_file of bcrypt hashes) or rws (GET {server}/api/v2/me with the same Basic credentials, then peer_server)"},
	{Name: "users_file", Type: "string",
		Description: "static verifier: one user:bcrypt-hash per line, # comments"},
	{Name: "server", Type: "string",
		Description: "RWS URL (absolute http/https) for logins without a body (GET /api/v2/me)"},
	{Name: "peer_server", Type: "string",
		Description: "backup data centre's RWS URL for logins without a body"},
	{Name: "rws_timeout", Type: "duration", Default: DefaultRWSTimeout.String(),
		Description: "timeout of one credential check against one RWS (100ms to 5m)"},
	{Name: "display", Type: "string", Default: "",
		Description: `X display recorded for agents without their own (e.g. ":0"); empty: the engine's`},
	{Name: "agents", Type: "list", Default: "[]",
		Description: `per-agent settings: [{user, display, place, devices: [{dn, switch}]}]`},
	{Name: "throttle_failures", Type: "int", Default: strconv.Itoa(DefaultThrottleFailures),
		Description: "failed logins of one user name that lock it out (answered 429); 0: no throttling"},
	{Name: "throttle_lockout", Type: "duration", Default: DefaultThrottleLockout.String(),
		Description: "how long a lockout lasts"},
}}

// settings is a checked config with everything Configure loaded: what a running server reads.
type settings struct {
	cfg      Config
	origins  []originPattern
	verifier verifier
	cert     *tls.Certificate // nil: no HTTPS
	agents   map[string]Agent
}

// agent returns the per-agent settings of user (zero when none).
func (s *settings) agent(user string) Agent { return s.agents[user] }

// display returns the X display to record for user.
func (s *settings) display(user string) string {
	if d := s.agents[user].Display; d != "" {
		return d
	}
	return s.cfg.Display
}

// decoder turns a raw config section into a Config, collecting diagnostics that name the key.
type decoder struct {
	sdkconfig.Decoder
}

func (d *decoder) integer(field string, raw json.RawMessage, dst *int) {
	if sdkconfig.IsNull(raw) {
		return
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(strings.TrimSpace(s))
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		d.Errorf(field, "not an integer", "want an integer, got %s", raw)
		return
	}
	*dst = n
}

var configKeys = []string{"listen", "https_listen", "cert_file", "key_file", "origins", "ping_timeout",
	"recording_when", "verifier", "users_file", "server", "peer_server", "rws_timeout", "display",
	"agents", "throttle_failures", "throttle_lockout"}

var agentKeys = []string{"user", "display", "place", "devices"}

// loadSettings decodes and checks a config section and loads its files. The settings are nil
// when a diagnostic is an error.
func loadSettings(raw []byte) (*settings, []sdk.Diagnostic) {
	d := &decoder{}
	cfg := DefaultConfig()
	st := &settings{agents: map[string]Agent{}}
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 && !sdkconfig.IsNull(raw) {
		var ok bool
		if m, ok = d.Object("", raw, configKeys); !ok {
			return nil, d.Diags
		}
	}

	d.Str("listen", m["listen"], &cfg.Listen)
	if err := listenaddr.Validate(cfg.Listen); err != nil {
		d.Errorf("listen", "bad listen address", "%v", err)
	}
	d.Str("https_listen", m["https_listen"], &cfg.HTTPSListen)
	d.Str("cert_file", m["cert_file"], &cfg.CertFile)
	d.Str("key_file", m["key_file"], &cfg.KeyFile)
	switch {
	case cfg.CertFile != "" && cfg.KeyFile == "":
		d.Errorf("key_file", "missing key_file", "cert_file is set: set key_file too (both or neither)")
	case cfg.CertFile == "" && cfg.KeyFile != "":
		d.Errorf("cert_file", "missing cert_file", "key_file is set: set cert_file too (both or neither)")
	case cfg.CertFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			d.Errorf("cert_file", "cannot load the certificate", "%v", err)
		} else {
			st.cert = &cert
		}
		if cfg.HTTPSListen == "" {
			cfg.HTTPSListen = DefaultHTTPSListen
		}
	case cfg.HTTPSListen != "":
		d.Errorf("https_listen", "HTTPS needs a certificate", "https_listen is set: set cert_file and key_file too")
	}
	if cfg.HTTPSListen != "" {
		if err := listenaddr.Validate(cfg.HTTPSListen); err != nil {
			d.Errorf("https_listen", "bad listen address", "%v", err)
		} else if cfg.HTTPSListen == cfg.Listen && !strings.HasSuffix(cfg.Listen, ":0") {
			d.Errorf("https_listen", "same address as listen", "HTTP and HTTPS cannot both listen on %s", cfg.Listen)
		}
	}

	cfg.Origins = d.StrList("origins", m["origins"])
	for i, o := range cfg.Origins {
		p, err := parseOrigin(o, true)
		if err != nil {
			d.Errorf(fmt.Sprintf("origins[%d]", i), "bad origin", "%v", err)
			continue
		}
		st.origins = append(st.origins, p)
	}

	d.Duration("ping_timeout", m["ping_timeout"], &cfg.PingTimeout, MinPingTimeout, MaxPingTimeout)
	var when string
	if d.Str("recording_when", m["recording_when"], &when) && when != "" {
		switch RecordingWhen(when) {
		case RecordSession, RecordNever:
			cfg.RecordingWhen = RecordingWhen(when)
		default:
			d.Errorf("recording_when", "unknown policy", "%q: want session or never", when)
		}
	}

	d.Str("server", m["server"], &cfg.Server)
	d.Str("peer_server", m["peer_server"], &cfg.PeerServer)
	for _, f := range []struct{ key, v string }{{"server", cfg.Server}, {"peer_server", cfg.PeerServer}} {
		if f.v == "" {
			continue
		}
		if err := checkServerURL(f.v); err != nil {
			d.Errorf(f.key, "bad RWS URL", "%v", err)
		}
	}
	if cfg.PeerServer != "" && cfg.Server == "" {
		d.Errorf("server", "missing server", "peer_server is set: set server (the primary RWS) too")
	}
	d.Duration("rws_timeout", m["rws_timeout"], &cfg.RWSTimeout, MinRWSTimeout, MaxRWSTimeout)

	d.Str("verifier", m["verifier"], &cfg.Verifier)
	d.Str("users_file", m["users_file"], &cfg.UsersFile)
	if cfg.Verifier == "" && cfg.UsersFile != "" {
		cfg.Verifier = VerifierStatic
	}
	switch cfg.Verifier {
	case "":
		d.Errorf("verifier", "no credential verifier", "set users_file (static verifier) or verifier: rws")
	case VerifierStatic:
		if cfg.UsersFile == "" {
			d.Errorf("users_file", "missing users_file", "the static verifier needs a users file of user:bcrypt-hash lines")
			break
		}
		v, err := loadUsersFile(cfg.UsersFile)
		if err != nil {
			d.Errorf("users_file", "cannot load the users file", "%v", err)
			break
		}
		st.verifier = v
	case VerifierRWS:
		if cfg.UsersFile != "" {
			d.Warnf("users_file", "users_file ignored", "the rws verifier checks credentials against the RWS; users_file is not read")
		}
		if cfg.Server == "" {
			d.Warnf("server", "no default RWS", "without server, GET /api/v2/me cannot verify credentials: desktops must log in with POST naming server")
		}
		st.verifier = newRWSVerifier(cfg.RWSTimeout)
	default:
		d.Errorf("verifier", "unknown verifier", "%q: want static or rws", cfg.Verifier)
	}

	d.Str("display", m["display"], &cfg.Display)
	if cfg.Display != "" && !displayRE.MatchString(cfg.Display) {
		d.Errorf("display", "bad X display", `%q: want [host]:display[.screen], e.g. ":0"`, cfg.Display)
	}
	cfg.Agents = d.agents(m["agents"])
	for _, a := range cfg.Agents {
		st.agents[a.User] = a
	}

	d.integer("throttle_failures", m["throttle_failures"], &cfg.ThrottleFailures)
	if cfg.ThrottleFailures < 0 {
		d.Errorf("throttle_failures", "negative", "%d: want 0 (no throttling) or more", cfg.ThrottleFailures)
	}
	d.Duration("throttle_lockout", m["throttle_lockout"], &cfg.ThrottleLockout, time.Millisecond, MaxThrottleLockout)

	if d.Failed() {
		return nil, d.Diags
	}
	st.cfg = cfg
	return st, d.Diags
}

// displayRE matches X display names: [host]:display[.screen].
var displayRE = regexp.MustCompile(`^[A-Za-z0-9._/-]*:[0-9]+(\.[0-9]+)?$`)

func (d *decoder) agents(raw json.RawMessage) []Agent {
	if sdkconfig.IsNull(raw) {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		d.Errorf("agents", "not a list", "want a list of {user, display, place, devices}, got %s", sdkconfig.KindOf(raw))
		return nil
	}
	seen := map[string]int{}
	var out []Agent
	for i, it := range items {
		field := fmt.Sprintf("agents[%d]", i)
		m, ok := d.Object(field, it, agentKeys)
		if !ok {
			continue
		}
		var a Agent
		d.Str(field+".user", m["user"], &a.User)
		switch {
		case a.User == "":
			d.Errorf(field+".user", "missing user", "every agent needs its user name")
		case strings.ContainsAny(a.User, ":\r\n"):
			d.Errorf(field+".user", "bad user name", "%q: a user name cannot contain ':' or line breaks", a.User)
		default:
			if j, dup := seen[a.User]; dup {
				d.Errorf(field+".user", "duplicate agent", "%q is also agents[%d]", a.User, j)
			}
			seen[a.User] = i
		}
		d.Str(field+".display", m["display"], &a.Display)
		if a.Display != "" && !displayRE.MatchString(a.Display) {
			d.Errorf(field+".display", "bad X display", `%q: want [host]:display[.screen], e.g. ":10"`, a.Display)
		}
		d.Str(field+".place", m["place"], &a.Place)
		if !sdkconfig.IsNull(m["devices"]) {
			var devs []json.RawMessage
			if json.Unmarshal(m["devices"], &devs) != nil {
				d.Errorf(field+".devices", "not a list", "want a list of {dn, switch}, got %s", sdkconfig.KindOf(m["devices"]))
			}
			for j, dr := range devs {
				df := fmt.Sprintf("%s.devices[%d]", field, j)
				dm, ok := d.Object(df, dr, []string{"dn", "switch"})
				if !ok {
					continue
				}
				var dev Device
				d.Str(df+".dn", dm["dn"], &dev.DN)
				d.Str(df+".switch", dm["switch"], &dev.Switch)
				if dev.DN == "" {
					d.Errorf(df+".dn", "missing dn", "every device needs a non-empty dn")
				}
				if dev.Switch == "" {
					d.Errorf(df+".switch", "missing switch", "every device needs a non-empty switch")
				}
				a.Devices = append(a.Devices, dev)
			}
		}
		if len(a.Devices) > 0 && a.Place == "" {
			d.Errorf(field+".place", "devices without place", "devices belong to a place: set place too")
		}
		out = append(out, a)
	}
	return out
}

// checkServerURL accepts an absolute http or https URL with a host and no user info, query
// or fragment (a base URL the API paths are appended to).
func checkServerURL(s string) error {
	u, err := parseURL(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q is not an absolute http or https URL", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q carries user info; credentials come from the login", redactURL(u))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("%q has a query or fragment; want a base URL such as https://rws.example.com:4443", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port %s is out of range 1-65535", s, p)
		}
	}
	if h := u.Hostname(); strings.Contains(h, ":") {
		if _, err := netip.ParseAddr(h); err != nil {
			return fmt.Errorf("%q: %q is not an IPv6 address", s, h)
		}
	}
	return nil
}
