package controller

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/screenrec/recorder/pkg/fleet"
)

// Agent is one machine allowed into the fleet, with its NATS credentials: an nkey public
// key (the agent holds the seed) or a user and password.
type Agent struct {
	Machine  string
	NKey     string // public user nkey, "U…"
	User     string
	Password string
}

// ResponseTTL is how long an agent may take to answer a request it received.
const ResponseTTL = 10 * time.Minute

// AgentPermissions are the NATS permissions of machine's agent: publish only its own
// heartbeats, goodbye, events and presign requests (and answers to requests it received),
// subscribe only to its own requests and its own inbox. It can neither speak as another
// machine nor read another machine's subjects.
func AgentPermissions(machine string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: fleet.AgentPublish(machine)},
		Subscribe: &server.SubjectPermission{Allow: fleet.AgentSubscribe(machine)},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: ResponseTTL},
	}
}

// ServerConfig is an embedded NATS server for a single-machine fleet.
type ServerConfig struct {
	// Listen is host:port for agents (":0" picks a port).
	Listen string
	// StoreDir holds JetStream's files.
	StoreDir string
	// Name is the server's name (also JetStream's node name).
	Name string
	// CertFile and KeyFile serve TLS to agents.
	CertFile, KeyFile string
	// Agents are the machines allowed in; none: no authentication at all (tests, demos).
	Agents []Agent
	// ControllerUser and ControllerPassword are the controllers' own account (full
	// permissions); generated when Agents are set and it is empty.
	ControllerUser, ControllerPassword string
}

// NewServer starts an embedded NATS server with JetStream. It returns once it accepts
// connections; Shutdown stops it.
func NewServer(cfg ServerConfig) (*server.Server, error) {
	host, portText, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("controller: nats listen %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("controller: nats listen %q: bad port", cfg.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{ServerName: cfg.Name, Host: host, Port: port, JetStream: true, StoreDir: cfg.StoreDir,
		NoSigs: true, NoLog: true, MaxPayload: 1 << 20}
	if cfg.CertFile != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile})
		if err != nil {
			return nil, fmt.Errorf("controller: nats tls: %w", err)
		}
		opts.TLSConfig, opts.TLS = tc, true
	}
	if len(cfg.Agents) > 0 {
		users, nkeys, err := authUsers(cfg)
		if err != nil {
			return nil, err
		}
		opts.Users, opts.Nkeys = users, nkeys
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("controller: nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("controller: nats server on %s: not ready after 30s", cfg.Listen)
	}
	return s, nil
}

func authUsers(cfg ServerConfig) ([]*server.User, []*server.NkeyUser, error) {
	users := []*server.User{{Username: cfg.ControllerUser, Password: cfg.ControllerPassword}}
	var nkeys []*server.NkeyUser
	seen := map[string]bool{}
	for _, a := range cfg.Agents {
		if err := fleet.CheckMachine(a.Machine); err != nil {
			return nil, nil, err
		}
		if seen[a.Machine] {
			return nil, nil, fmt.Errorf("controller: machine %s listed twice", a.Machine)
		}
		seen[a.Machine] = true
		switch {
		case a.NKey != "":
			nkeys = append(nkeys, &server.NkeyUser{Nkey: a.NKey, Permissions: AgentPermissions(a.Machine)})
		case a.User != "":
			users = append(users, &server.User{Username: a.User, Password: a.Password, Permissions: AgentPermissions(a.Machine)})
		default:
			return nil, nil, fmt.Errorf("controller: machine %s: give an nkey or a user", a.Machine)
		}
	}
	return users, nkeys, nil
}

// RandomPassword returns a password for the controllers' own NATS user of an embedded server.
func RandomPassword() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AuthConfig writes the authorization block of a nats-server configuration file for an
// external NATS (or cluster): the controllers' user (password by reference: $VAR, which
// nats-server reads from its environment) and one user per agent with AgentPermissions.
func AuthConfig(controllerUser, controllerPasswordVar string, agents []Agent) (string, error) {
	var b strings.Builder
	b.WriteString("authorization {\n  users = [\n")
	fmt.Fprintf(&b, "    {user: %q, password: $%s}\n", controllerUser, controllerPasswordVar)
	for _, a := range agents {
		if err := fleet.CheckMachine(a.Machine); err != nil {
			return "", err
		}
		id := ""
		switch {
		case a.NKey != "":
			id = fmt.Sprintf("nkey: %q", a.NKey)
		case a.User != "":
			id = fmt.Sprintf("user: %q, password: %q", a.User, a.Password)
		default:
			return "", fmt.Errorf("controller: machine %s: give an nkey or a user", a.Machine)
		}
		fmt.Fprintf(&b, "    {%s, permissions: {publish: {allow: %s}, subscribe: {allow: %s}, allow_responses: {max: 1, expires: %q}}}\n",
			id, quoteList(fleet.AgentPublish(a.Machine)), quoteList(fleet.AgentSubscribe(a.Machine)), ResponseTTL.String())
	}
	b.WriteString("  ]\n}\n")
	return b.String(), nil
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
