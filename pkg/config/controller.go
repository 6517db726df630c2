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
	// Archive is the S3 archive agents upload to with requests the controller signs (their
	// s3 uploader's signer fleet); nil: agents asking are told it is not configured.
	Archive *ControllerArchive `cfg:"archive" desc:"the S3 archive the agents' s3 uploaders (signer: fleet) upload to through requests the controller signs; absent: not configured"`
}

// ControllerArchive is the fleet's S3 archive, its credentials held by the controller only.
type ControllerArchive struct {
	Endpoint  string `cfg:"endpoint,required" desc:"the S3 server's root URL, http:// or https://"`
	Region    string `cfg:"region" desc:"the signing region (us-east-1 when empty)"`
	Bucket    string `cfg:"bucket,required" desc:"the bucket; it must exist"`
	PathStyle bool   `cfg:"path_style" desc:"address the bucket in the path (endpoint/bucket/key) rather than the host name"`
	// The credentials, by reference only.
	AccessKeyID     any `cfg:"access_key_id,required,secret" desc:"the access key id, as {env: NAME} or {file: PATH}"`
	SecretAccessKey any `cfg:"secret_access_key,required,secret" desc:"the secret access key, as {env: NAME} or {file: PATH}"`
	SessionToken    any `cfg:"session_token,secret" desc:"a session token for temporary credentials, as {env: NAME} or {file: PATH}"`
	// Prefix starts every key, before the machine's id: <prefix>/<machine>/<the agent's key>.
	Prefix string `cfg:"prefix" desc:"key prefix; each machine's objects go under <prefix>/<machine>/, and an agent can sign requests for nothing else"`
	SSE    string `cfg:"sse" desc:"server-side encryption: empty (the bucket's default), AES256 or aws:kms"`
	// KMSKeyID is the KMS key of aws:kms.
	KMSKeyID string `cfg:"sse_kms_key_id" desc:"the KMS key for sse aws:kms; empty: the account's default key"`
	// URLExpiry is how long a signed request holds.
	URLExpiry Duration `cfg:"url_expiry" min:"1m" max:"168h" desc:"how long a signed request holds (a part must start within it)"`
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
	if a := c.Archive; a != nil {
		for _, s := range []struct {
			key string
			v   any
		}{{"access_key_id", a.AccessKeyID}, {"secret_access_key", a.SecretAccessKey}, {"session_token", a.SessionToken}} {
			if err := check("controller.archive."+s.key, s.v); err != nil {
				return err
			}
		}
		if !strings.HasPrefix(a.Endpoint, "http://") && !strings.HasPrefix(a.Endpoint, "https://") {
			return valueErr("controller.archive.endpoint", "%q: want an http:// or https:// URL", a.Endpoint)
		}
		switch a.SSE {
		case "", "AES256", "aws:kms":
		default:
			return valueErr("controller.archive.sse", "%q: want AES256 or aws:kms (or leave sse out)", a.SSE)
		}
		if a.KMSKeyID != "" && a.SSE != "aws:kms" {
			return valueErr("controller.archive.sse_kms_key_id", "set sse to aws:kms too")
		}
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
