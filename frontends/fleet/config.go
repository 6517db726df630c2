package fleet

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/screenrec/recorder/pkg/fleet"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Defaults of the config section.
const (
	// DefaultHeartbeat is how often the agent heartbeats (with its presence).
	DefaultHeartbeat = 5 * time.Second
	// DefaultReconnectWait is the pause between attempts to reach NATS again.
	DefaultReconnectWait = time.Second
)

// Config is the front end's config section. Credentials are given by reference: files by
// path (nkey seed, creds), the password as {env: NAME} or {file: PATH}.
type Config struct {
	// URLs are the NATS servers to connect to (any of them; the client fails over).
	URLs []string `cfg:"urls,required" desc:"NATS server URLs the agent connects out to, e.g. [\"tls://nats.example:4222\"]; any of them will do"`
	// Machine is this machine's id in the fleet.
	Machine string `cfg:"machine" default:"the host name" desc:"this machine's id in the fleet: letters, digits, '-' or '_' (the host name, cleaned, when empty); NATS permissions confine the agent to it"`
	// User and Password authenticate with a NATS user/password.
	User     string `cfg:"user" desc:"NATS user name (with password)"`
	Password string `cfg:"password,secret" desc:"NATS password, as {env: NAME} or {file: PATH}"`
	// NKeySeedFile authenticates with an nkey.
	NKeySeedFile string `cfg:"nkey_seed_file" desc:"file holding the agent's NATS nkey seed (SU…); the controller config lists its public key"`
	// CredsFile authenticates with a NATS JWT and nkey (decentralised auth).
	CredsFile string `cfg:"creds_file" desc:"NATS credentials file (JWT and nkey seed) for operator-mode servers"`
	// CAFile, CertFile and KeyFile configure TLS.
	CAFile   string `cfg:"ca_file" desc:"CA certificate(s) (PEM) that sign the NATS servers' certificates"`
	CertFile string `cfg:"cert_file" desc:"client certificate (PEM) for NATS servers that verify clients; with key_file"`
	KeyFile  string `cfg:"key_file" desc:"client private key (PEM); with cert_file"`
	// Heartbeat is the interval of heartbeats.
	Heartbeat time.Duration `cfg:"heartbeat" min:"100ms" max:"5m" desc:"interval of heartbeats; the controller forgets a machine after a few missed"`
	// ReconnectWait is the pause between reconnection attempts.
	ReconnectWait time.Duration `cfg:"reconnect_wait" min:"10ms" max:"1m" desc:"pause between attempts to reach NATS again (recordings go on meanwhile)"`
	// Users are users always present on this machine (back-office screens).
	Users []User `cfg:"users" desc:"users present on this machine regardless of logins (back-office screens): [{id, display}]"`
}

// User is one entry of users.
type User struct {
	ID      string `cfg:"id,required" desc:"the user id the cloud API is called with"`
	Display string `cfg:"display" desc:"the user's X display, e.g. \":10\"; empty: the engine's"`
}

// DefaultConfig returns the config used for keys that are absent.
func DefaultConfig() Config {
	return Config{Heartbeat: DefaultHeartbeat, ReconnectWait: DefaultReconnectWait}
}

var schema = sdkconfig.Schema(DefaultConfig())

var displayRE = regexp.MustCompile(`^[A-Za-z0-9._/-]*:[0-9]+(\.[0-9]+)?$`)

// loadConfig decodes and checks a config section; nil when it has errors.
func loadConfig(raw []byte) (*Config, []sdk.Diagnostic) {
	var d sdkconfig.Decoder
	cfg := DefaultConfig()
	if !d.Decode(raw, &cfg) && d.HasError("") {
		return nil, d.Diags
	}
	for i, u := range cfg.URLs {
		p, err := url.Parse(u)
		switch {
		case err != nil:
			d.Errorf(fmt.Sprintf("urls[%d]", i), "bad URL", "%v", err)
		case p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss":
			d.Errorf(fmt.Sprintf("urls[%d]", i), "bad URL", "%q: want nats://, tls://, ws:// or wss://host:port", u)
		case p.User != nil:
			d.Errorf(fmt.Sprintf("urls[%d]", i), "credentials in URL", "give user and password (by reference) or a key file, never inside the URL")
		}
	}
	if cfg.Machine == "" {
		cfg.Machine = MachineFromHost()
	}
	if err := fleet.CheckMachine(cfg.Machine); err != nil {
		d.Errorf("machine", "bad machine id", "%v", err)
	}
	auths := 0
	for _, set := range []bool{cfg.User != "", cfg.NKeySeedFile != "", cfg.CredsFile != ""} {
		if set {
			auths++
		}
	}
	if auths > 1 {
		d.Errorf("user", "several credentials", "give one of user/password, nkey_seed_file or creds_file")
	}
	if cfg.Password != "" && cfg.User == "" {
		d.Errorf("user", "missing user", "password is set: set user too")
	}
	if cfg.NKeySeedFile != "" {
		if _, err := readSeed(cfg.NKeySeedFile); err != nil {
			d.Errorf("nkey_seed_file", "cannot read the nkey seed", "%v", err)
		}
	}
	for _, f := range []struct{ key, path string }{{"creds_file", cfg.CredsFile}, {"ca_file", cfg.CAFile}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				d.Errorf(f.key, "cannot read the file", "%v", err)
			}
		}
	}
	switch {
	case (cfg.CertFile == "") != (cfg.KeyFile == ""):
		d.Errorf("cert_file", "cert_file and key_file go together", "set both or neither")
	case cfg.CertFile != "":
		if _, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile); err != nil {
			d.Errorf("cert_file", "cannot load the client certificate", "%v", err)
		}
	}
	seen := map[string]int{}
	for i, u := range cfg.Users {
		field := fmt.Sprintf("users[%d]", i)
		if j, dup := seen[u.ID]; dup && u.ID != "" {
			d.Errorf(field+".id", "duplicate user", "%q is also users[%d]", u.ID, j)
		}
		seen[u.ID] = i
		if u.Display != "" && !displayRE.MatchString(u.Display) {
			d.Errorf(field+".display", "bad X display", `%q: want [host]:display[.screen], e.g. ":10"`, u.Display)
		}
	}
	if d.Failed() {
		return nil, d.Diags
	}
	return &cfg, d.Diags
}

// readSeed reads and checks an nkey user seed file.
func readSeed(path string) (nkeys.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kp, nil
}

// MachineFromHost is the host name made into a machine id (other characters become '-').
func MachineFromHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	h, _, _ = strings.Cut(h, ".")
	b := []byte(h)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
