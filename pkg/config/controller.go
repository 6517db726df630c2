package config

import (
	"fmt"
	"strings"

	"github.com/screenrec/recorder/pkg/secret"
)

// Defaults of the controller section.
const (
	// DefaultControllerNATSListen is where the embedded NATS server listens for agents.
	DefaultControllerNATSListen = "127.0.0.1:4222"
	// DefaultControllerDataDir holds the embedded server's JetStream store.
	DefaultControllerDataDir = "/var/lib/recorder/controller"
)

// Controller is the `recorder controller` section: the fleet controller that serves the
// cloud API for every desktop of a fleet over NATS (docs/architecture.md, "The fleet"). It is
// only read by that command; `recorder run` ignores it.
type Controller struct {
	// DataDir holds the embedded NATS server's JetStream store. Relative paths resolve
	// against the config file's folder.
	DataDir string `cfg:"data_dir" desc:"JetStream store of the embedded NATS server"`
	// NATS says which NATS the controller uses: an embedded server (the default) or URLs.
	NATS ControllerNATS `cfg:"nats"`
	// Agents are the machines allowed into an embedded server, each with its credentials
	// and confined to its own subjects.
	Agents []FleetAgent `cfg:"agents"`
	// Replicas is the JetStream replication of the fleet's state (3 on a 3-node cluster).
	Replicas int `cfg:"replicas" min:"1" max:"5"`
	// PresenceTTL is how long a machine stays present after its last heartbeat.
	PresenceTTL Duration `cfg:"presence_ttl" min:"1s" max:"1h"`
	// LockTTL bounds a user's start/stop lock (a replica that died holding one).
	LockTTL Duration `cfg:"lock_ttl" min:"1s" max:"1h"`
	// ContactIDBase is the first contact id of a new fleet.
	ContactIDBase int64 `cfg:"contact_id_base" min:"1"`
	// Cloud is the cloud API's section, as the cloud front end's without users (the machines
	// say where users are).
	Cloud map[string]any `cfg:"cloud,required"`
}

// ControllerNATS is the controller's NATS.
type ControllerNATS struct {
	// URLs of an external NATS (a cluster); empty: the embedded server.
	URLs []string `cfg:"urls"`
	// Listen is the embedded server's address for agents.
	Listen string `cfg:"listen"`
	// Name is the embedded server's name.
	Name string `cfg:"name"`
	// CertFile and KeyFile serve TLS to agents (embedded server).
	CertFile string `cfg:"cert_file"`
	KeyFile  string `cfg:"key_file"`
	// The controller's own credentials on an external NATS: user/password, nkey seed file or
	// creds file, and the CA of its servers.
	User         string `cfg:"user"`
	Password     any    `cfg:"password,secret"`
	NKeySeedFile string `cfg:"nkey_seed_file"`
	CredsFile    string `cfg:"creds_file"`
	CAFile       string `cfg:"ca_file"`
}

// FleetAgent is one machine allowed into the embedded server.
type FleetAgent struct {
	// Machine is the machine's id (its agent's fleet front end's machine).
	Machine string `cfg:"machine,required"`
	// NKey is the public key of the agent's nkey (the agent holds the seed).
	NKey string `cfg:"nkey"`
	// User and Password: a NATS user instead of an nkey.
	User     string `cfg:"user"`
	Password any    `cfg:"password,secret"`
}

func (c *Controller) resolvePaths(base string) {
	if c == nil {
		return
	}
	c.DataDir = resolvePath(base, c.DataDir)
	for _, p := range []*string{&c.NATS.CertFile, &c.NATS.KeyFile, &c.NATS.NKeySeedFile, &c.NATS.CredsFile, &c.NATS.CAFile} {
		if *p != "" {
			*p = resolvePath(base, *p)
		}
	}
}

func (c *Controller) validate() *Error {
	if c == nil {
		return nil
	}
	if len(c.NATS.URLs) == 0 {
		if err := ValidateListen(c.NATS.Listen); err != nil {
			return valueErr("controller.nats.listen", "%v", err)
		}
	}
	if (c.NATS.CertFile == "") != (c.NATS.KeyFile == "") {
		return valueErr("controller.nats.cert_file", "cert_file and key_file go together")
	}
	check := func(path string, v any) *Error {
		if v == nil {
			return nil
		}
		_, isRef, err := secret.Parse(v)
		switch {
		case !isRef:
			return &Error{Path: path, Kind: ErrSecret, Msg: "a secret must be a reference, {env: NAME} or {file: PATH}, not written inline"}
		case err != nil:
			return &Error{Path: path, Kind: ErrSecret, Msg: err.Error()}
		}
		return nil
	}
	if err := check("controller.nats.password", c.NATS.Password); err != nil {
		return err
	}
	seen := map[string]int{}
	for i, a := range c.Agents {
		path := fmt.Sprintf("controller.agents[%d]", i)
		if j, dup := seen[a.Machine]; dup {
			return valueErr(path+".machine", "%q is also controller.agents[%d]", a.Machine, j)
		}
		seen[a.Machine] = i
		switch {
		case a.NKey != "" && a.User != "":
			return valueErr(path, "give nkey or user, not both")
		case a.NKey == "" && a.User == "":
			return valueErr(path, "give the agent's nkey (public key) or a user and password")
		case a.NKey != "" && !strings.HasPrefix(a.NKey, "U"):
			return valueErr(path+".nkey", "want a user public key (U…), never the seed")
		}
		if err := check(path+".password", a.Password); err != nil {
			return err
		}
	}
	return nil
}
