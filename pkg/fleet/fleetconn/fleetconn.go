// Package fleetconn is an agent's connection to the fleet's NATS: its config section (one
// declaration, shared by the fleet front end and the s3 uploader's fleet signer), its checks
// and the NATS client options it makes. An agent's connection is confined by NATS
// permissions to its machine's subjects, and receives its replies under the machine's own
// inbox prefix (fleet.InboxPrefix).
package fleetconn

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/screenrec/recorder/pkg/fleet"
)

// DefaultReconnectWait is the pause between attempts to reach NATS again.
const DefaultReconnectWait = time.Second

// Config is how an agent reaches the fleet's NATS. Credentials are given by reference: files
// by path (nkey seed, creds), the password as {env: NAME} or {file: PATH}.
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
	// ReconnectWait is the pause between reconnection attempts.
	ReconnectWait time.Duration `cfg:"reconnect_wait" min:"10ms" max:"1m" desc:"pause between attempts to reach NATS again (recordings go on meanwhile)"`
}

// DefaultConfig returns the values used for keys that are absent.
func DefaultConfig() Config { return Config{ReconnectWait: DefaultReconnectWait} }

// Problem is one thing wrong with a Config: the key (relative to the section), a summary and
// the detail.
type Problem struct {
	Field, Summary, Detail string
}

// Check fills in the machine id from the host name when it is empty and returns what is
// wrong with c.
func (c *Config) Check() []Problem {
	var out []Problem
	add := func(field, summary, format string, args ...any) {
		out = append(out, Problem{field, summary, fmt.Sprintf(format, args...)})
	}
	for i, u := range c.URLs {
		p, err := url.Parse(u)
		switch {
		case err != nil:
			add(fmt.Sprintf("urls[%d]", i), "bad URL", "%v", err)
		case p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss":
			add(fmt.Sprintf("urls[%d]", i), "bad URL", "%q: want nats://, tls://, ws:// or wss://host:port", u)
		case p.User != nil:
			add(fmt.Sprintf("urls[%d]", i), "credentials in URL", "give user and password (by reference) or a key file, never inside the URL")
		}
	}
	if c.Machine == "" {
		c.Machine = MachineFromHost()
	}
	if err := fleet.CheckMachine(c.Machine); err != nil {
		add("machine", "bad machine id", "%v", err)
	}
	auths := 0
	for _, set := range []bool{c.User != "", c.NKeySeedFile != "", c.CredsFile != ""} {
		if set {
			auths++
		}
	}
	if auths > 1 {
		add("user", "several credentials", "give one of user/password, nkey_seed_file or creds_file")
	}
	if c.Password != "" && c.User == "" {
		add("user", "missing user", "password is set: set user too")
	}
	if c.NKeySeedFile != "" {
		if _, err := readSeed(c.NKeySeedFile); err != nil {
			add("nkey_seed_file", "cannot read the nkey seed", "%v", err)
		}
	}
	for _, f := range []struct{ key, path string }{{"creds_file", c.CredsFile}, {"ca_file", c.CAFile}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				add(f.key, "cannot read the file", "%v", err)
			}
		}
	}
	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		add("cert_file", "cert_file and key_file go together", "set both or neither")
	case c.CertFile != "":
		if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			add("cert_file", "cannot load the client certificate", "%v", err)
		}
	}
	return out
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

// URL is the URLs joined as nats.Connect takes them.
func (c *Config) URL() string { return strings.Join(c.URLs, ",") }

// Options are the NATS client options of a connection named name: the machine's inbox
// prefix, credentials, TLS, and reconnection that never gives up (desktops come and go and
// NATS nodes restart). Callers add their own handlers.
func (c *Config) Options(name string) ([]nats.Option, error) {
	wait := c.ReconnectWait
	if wait <= 0 {
		wait = DefaultReconnectWait
	}
	opts := []nats.Option{
		nats.Name(name + " " + c.Machine),
		nats.CustomInboxPrefix(fleet.InboxPrefix(c.Machine)),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(wait/2, wait/2),
	}
	switch {
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkey_seed_file: %w", err)
		}
		opts = append(opts, o)
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	return opts, nil
}
