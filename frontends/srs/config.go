package srs

import (
	"crypto/tls"
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

// Config is the front end's config section, as decoded and checked by Configure: its
// declaration (see sdkconfig), with the defaults in DefaultConfig. Keys are snake_case JSON;
// durations are strings such as "60s". ping_timeout's minimum is low so tests can time
// sessions out quickly (desktops poll every 30 s).
type Config struct {
	// Listen is the HTTP listener's host:port.
	Listen string `cfg:"listen" desc:"host:port of the HTTP listener (loopback unless you mean it)"`
	// HTTPSListen is the HTTPS listener's host:port; empty: no HTTPS, unless cert_file and
	// key_file are set, which make it DefaultHTTPSListen.
	HTTPSListen string `cfg:"https_listen" desc:"host:port of the HTTPS listener; empty: off, or \"127.0.0.1:8443\" when cert_file and key_file are set"`
	// CertFile and KeyFile are the HTTPS certificate and key (PEM); both or neither. They
	// are loaded by Configure.
	CertFile string `cfg:"cert_file" desc:"HTTPS certificate chain (PEM); with key_file, loaded at configure time"`
	KeyFile  string `cfg:"key_file" desc:"HTTPS private key (PEM); with cert_file"`
	// Origins are the web origins allowed to call the API across origins: exact
	// "scheme://host[:port]", or "scheme://*.example.com[:port]", which matches every
	// subdomain of example.com at any depth but not example.com itself. A bare "*" is refused.
	// Empty: no cross-origin access (native desktops, which send no Origin, still work).
	Origins []string `cfg:"origins" desc:"web origins allowed across origins: \"scheme://host[:port]\" or \"https://*.example.com\" (any subdomain depth, not example.com itself); bare \"*\" refused; a comma-separated string is also accepted"`
	// PingTimeout ends a session that has not pinged for this long.
	PingTimeout time.Duration `cfg:"ping_timeout" min:"100ms" max:"24h" desc:"a session that has not pinged for this long ends and its recording is finalised"`
	// RecordingWhen is "session" (default) or "never".
	RecordingWhen RecordingWhen `cfg:"recording_when" desc:"session: record from login to logout or timeout; never: presence only"`
	// Verifier checks credentials: "static" (the default when users_file is set) or "rws".
	// One of the two must be chosen.
	Verifier string `cfg:"verifier" default:"static when users_file is set" desc:"credential check: static (users_file of bcrypt hashes) or rws (GET {server}/api/v2/me with the same Basic credentials, then peer_server)"`
	// UsersFile is the static verifier's users file: one "user:bcrypt-hash" per line, blank
	// lines and lines starting with '#' ignored. Loaded by Configure.
	UsersFile string `cfg:"users_file" desc:"static verifier: one user:bcrypt-hash per line, # comments"`
	// Server and PeerServer are the RWS URLs used by logins without a body (GET
	// /api/v2/me): absolute http(s) URLs.
	Server     string `cfg:"server" desc:"RWS URL (absolute http/https) for logins without a body (GET /api/v2/me)"`
	PeerServer string `cfg:"peer_server" desc:"backup data centre's RWS URL for logins without a body"`
	// RWSTimeout bounds one credential check against one RWS.
	RWSTimeout time.Duration `cfg:"rws_timeout" min:"100ms" max:"5m" desc:"timeout of one credential check against one RWS"`
	// Display is the X display recorded for agents without their own; empty: the engine's
	// default.
	Display string `cfg:"display" desc:"X display recorded for agents without their own (e.g. \":0\"); empty: the engine's"`
	// Agents are per-agent settings: own display (several agents sharing a host), default
	// place and devices.
	Agents []Agent `cfg:"agents" desc:"per-agent settings: [{user, display, place, devices: [{dn, switch}]}]"`
	// ThrottleFailures failed logins of one user name lock it out; 0 turns throttling off.
	ThrottleFailures int `cfg:"throttle_failures" min:"0" desc:"failed logins of one user name that lock it out (answered 429); 0: no throttling"`
	// ThrottleLockout is how long a lockout lasts.
	ThrottleLockout time.Duration `cfg:"throttle_lockout" min:"1ms" max:"24h" desc:"how long a lockout lasts"`
}

// Agent is one entry of agents.
type Agent struct {
	// User is the agent's user name, as in the Basic credentials. Required, unique.
	User string `cfg:"user,required" desc:"the agent's user name, as in the Basic credentials"`
	// Display is the X display recorded for this agent; empty: Config.Display.
	Display string `cfg:"display" desc:"X display recorded for this agent"`
	// Place is the agent's default place (logins without a place).
	Place string `cfg:"place" desc:"the agent's default place"`
	// Devices are the default place's devices.
	Devices []Device `cfg:"devices" desc:"the default place's devices"`
}

// Device is a DN on a switch.
type Device struct {
	DN     string `json:"dn" cfg:"dn,required" desc:"the device's DN"`
	Switch string `json:"switch" cfg:"switch,required" desc:"the switch the DN is on"`
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

// schema describes the config section, from its declaration.
var schema = sdkconfig.Schema(DefaultConfig())

// settings is a checked config with everything Configure loaded: what a running server reads.
type settings struct {
	cfg      Config
	origins  []originPattern
	verifier verifier
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

// loadSettings decodes and checks a config section and loads its files. The settings are nil
// when a diagnostic is an error.
func loadSettings(raw []byte) (*settings, []sdk.Diagnostic) {
	d := &decoder{}
	cfg := DefaultConfig()
	st := &settings{agents: map[string]Agent{}}
	if !d.Decode(raw, &cfg) && d.HasError("") {
		return nil, d.Diags
	}

	if err := listenaddr.Validate(cfg.Listen); err != nil {
		d.Errorf("listen", "bad listen address", "%v", err)
	}
	switch {
	case cfg.CertFile != "" && cfg.KeyFile == "":
		d.Errorf("key_file", "missing key_file", "cert_file is set: set key_file too (both or neither)")
	case cfg.CertFile == "" && cfg.KeyFile != "":
		d.Errorf("cert_file", "missing cert_file", "key_file is set: set cert_file too (both or neither)")
	case cfg.CertFile != "":
		// Checked here so a bad pair is a config error; serving reads the files again on
		// every change (the HTTP kit's certificate reload).
		if _, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile); err != nil {
			d.Errorf("cert_file", "cannot load the certificate", "%v", err)
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

	for i, o := range cfg.Origins {
		p, err := parseOrigin(o, true)
		if err != nil {
			d.Errorf(fmt.Sprintf("origins[%d]", i), "bad origin", "%v", err)
			continue
		}
		st.origins = append(st.origins, p)
	}

	switch cfg.RecordingWhen {
	case RecordSession, RecordNever:
	case "":
		cfg.RecordingWhen = RecordSession
	default:
		d.Errorf("recording_when", "unknown policy", "%q: want session or never", cfg.RecordingWhen)
	}

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

	if cfg.Display != "" && !displayRE.MatchString(cfg.Display) {
		d.Errorf("display", "bad X display", `%q: want [host]:display[.screen], e.g. ":0"`, cfg.Display)
	}
	d.agents(cfg.Agents)
	for _, a := range cfg.Agents {
		st.agents[a.User] = a
	}

	if d.Failed() {
		return nil, d.Diags
	}
	st.cfg = cfg
	return st, d.Diags
}

// displayRE matches X display names: [host]:display[.screen].
var displayRE = regexp.MustCompile(`^[A-Za-z0-9._/-]*:[0-9]+(\.[0-9]+)?$`)

// agents checks the agents' entries beyond their declaration.
func (d *decoder) agents(agents []Agent) {
	seen := map[string]int{}
	for i, a := range agents {
		field := fmt.Sprintf("agents[%d]", i)
		switch {
		case a.User == "": // missing (reported by Decode)
		case strings.ContainsAny(a.User, ":\r\n"):
			d.Errorf(field+".user", "bad user name", "%q: a user name cannot contain ':' or line breaks", a.User)
		default:
			if j, dup := seen[a.User]; dup {
				d.Errorf(field+".user", "duplicate agent", "%q is also agents[%d]", a.User, j)
			}
			seen[a.User] = i
		}
		if a.Display != "" && !displayRE.MatchString(a.Display) {
			d.Errorf(field+".display", "bad X display", `%q: want [host]:display[.screen], e.g. ":10"`, a.Display)
		}
		if len(a.Devices) > 0 && a.Place == "" {
			d.Errorf(field+".place", "devices without place", "devices belong to a place: set place too")
		}
	}
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
