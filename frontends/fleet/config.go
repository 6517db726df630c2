package fleet

import (
	"fmt"
	"regexp"
	"time"

	"github.com/screenrec/recorder/pkg/fleet/fleetconn"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Defaults of the config section.
const (
	// DefaultHeartbeat is how often the agent heartbeats (with its presence).
	DefaultHeartbeat = 5 * time.Second
	// DefaultReconnectWait is the pause between attempts to reach NATS again.
	DefaultReconnectWait = fleetconn.DefaultReconnectWait
)

// Config is the front end's config section: the connection to NATS (fleetconn.Config, one
// declaration shared with the s3 uploader's fleet signer) and what the agent announces.
type Config struct {
	fleetconn.Config
	// Heartbeat is the interval of heartbeats.
	Heartbeat time.Duration `cfg:"heartbeat" min:"100ms" max:"5m" desc:"interval of heartbeats; the controller forgets a machine after a few missed"`
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
	return Config{Config: fleetconn.DefaultConfig(), Heartbeat: DefaultHeartbeat}
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
	for _, p := range cfg.Check() {
		d.Errorf(p.Field, p.Summary, "%s", p.Detail)
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

// MachineFromHost is the host name made into a machine id (other characters become '-').
func MachineFromHost() string { return fleetconn.MachineFromHost() }
