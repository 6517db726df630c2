package s3

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/screenrec/recorder/pkg/fleet/fleetconn"
	"github.com/screenrec/recorder/pkg/s3upload"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Defaults of the config section.
const (
	// DefaultPartSize is a multipart upload's part size: 16 MiB. Segments up to one part go
	// in a single PUT.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's smallest part (but the last).
	MinPartSize = 5 << 20
	// DefaultPartConcurrency is how many parts are in flight at once (measured:
	// docs/uploader-s3.md, "Throughput").
	DefaultPartConcurrency = 4
	// DefaultTimeout bounds each request, a whole part included.
	DefaultTimeout = 2 * time.Minute
	// DefaultConnectTimeout bounds connecting (and the TLS handshake).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultKeyTemplate is where a segment goes in the bucket.
	DefaultKeyTemplate = "{owner}/{date}/{recording_id}/{segment}.mp4"
	// DefaultRegion is the signing region when none is given (what MinIO and most
	// S3-compatible servers expect).
	DefaultRegion = "us-east-1"
)

// The signers.
const (
	SignerLocal = "local"
	SignerFleet = "fleet"
)

// Config is the uploader's config section, as decoded and checked by Configure. The access
// key id and secret reach Configure already resolved by the host from {env: NAME} /
// {file: PATH} references.
type Config struct {
	// Signer says who signs the requests: SignerLocal (this section's credentials) or
	// SignerFleet (the fleet controller, over NATS; this machine holds no S3 credentials).
	Signer string `cfg:"signer" desc:"who signs the requests: local (the credentials below) or fleet (the fleet controller over NATS, with the fleet section: the desktop holds no S3 credentials, and the controller's archive section names the endpoint, bucket and key prefix)"`
	// Fleet is the connection to the fleet's NATS, with signer fleet.
	Fleet *fleetconn.Config `cfg:"fleet" desc:"with signer fleet: the connection to the fleet's NATS, as the fleet front end's (urls, machine, user and password by reference, nkey_seed_file or creds_file, ca_file, cert_file, key_file)"`

	Endpoint  string `cfg:"endpoint" desc:"the S3 server's root URL, http:// or https://, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000 (signer local)"`
	Region    string `cfg:"region" desc:"the signing region"`
	Bucket    string `cfg:"bucket" desc:"the bucket segments go to; it must exist (signer local)"`
	PathStyle bool   `cfg:"path_style" desc:"address the bucket in the path (endpoint/bucket/key, MinIO, Ceph, SeaweedFS, versitygw) rather than in the host name (bucket.endpoint/key, AWS)"`
	// AccessKeyID and SecretAccessKey sign the requests.
	AccessKeyID     string `cfg:"access_key_id,secret" desc:"the access key id (signer local): a secret, given as {env: NAME} or {file: PATH}, never inline"`
	SecretAccessKey string `cfg:"secret_access_key,secret" desc:"the secret access key (signer local): {env: NAME} or {file: PATH}, never inline"`
	// PartSize is the multipart part size; a segment of at most one part is one PUT.
	PartSize int64 `cfg:"part_size,size" min:"5MiB" max:"5GiB" desc:"bytes per multipart part (S3: at least 5MiB); a segment of at most one part goes in a single PUT"`
	// PartConcurrency bounds the parts of one upload in flight at once.
	PartConcurrency int `cfg:"part_concurrency" min:"1" max:"64" desc:"parts of one multipart upload sent at once, each on its own connection"`
	// CAFile adds a PEM CA bundle to the system's roots (a private CA).
	CAFile string `cfg:"ca_file" desc:"PEM file of CA certificates trusted besides the system's, for a server with a private CA"`
	// KeyTemplate names each segment's object; see package doc for its variables.
	KeyTemplate string `cfg:"key_template" desc:"object key of a segment, from {owner} {date} {year} {month} {day} {recording_id} {segment} {contact_id} {interaction_id} {agent} {place} {target}"`
	// SSE asks for server-side encryption: "" (the bucket's default), AES256 or aws:kms.
	SSE      string `cfg:"sse" desc:"server-side encryption: empty (the bucket's default), AES256 (SSE-S3) or aws:kms (SSE-KMS)"`
	KMSKeyID string `cfg:"sse_kms_key_id" desc:"the KMS key for sse aws:kms; empty: the account's default key"`
	// Timeout bounds each request; ConnectTimeout connecting.
	Timeout        time.Duration `cfg:"timeout" min:"1s" max:"1h" desc:"bound on each request, a whole part included (part_size must cross the slowest uplink within it)"`
	ConnectTimeout time.Duration `cfg:"connect_timeout" min:"100ms" max:"5m" desc:"bound on connecting and the TLS handshake"`
}

// DefaultConfig returns the values used for keys that are absent.
func DefaultConfig() Config {
	return Config{Signer: SignerLocal, Region: DefaultRegion, PartSize: DefaultPartSize, PartConcurrency: DefaultPartConcurrency,
		KeyTemplate: DefaultKeyTemplate, Timeout: DefaultTimeout, ConnectTimeout: DefaultConnectTimeout}
}

// schema describes the config section, from its declaration.
var schema = sdkconfig.Schema(DefaultConfig())

// decodeConfig decodes and checks a config section; the Config is valid only when no
// diagnostic is an error. It returns the parsed key template too.
func decodeConfig(raw []byte) (Config, *keyTemplate, []sdk.Diagnostic) {
	d := &sdkconfig.Decoder{}
	cfg := DefaultConfig()
	if sdkconfig.IsNull(raw) {
		d.Errorf("", "config is not an object",
			`the s3 section must be a JSON object, e.g. {"endpoint": "https://s3.eu-west-1.amazonaws.com", "bucket": "recordings", …}`)
		return cfg, nil, d.Diags
	}
	d.Decode(raw, &cfg)
	checkSigner(d, &cfg)
	if cfg.Endpoint != "" {
		u, err := url.Parse(strings.TrimSpace(cfg.Endpoint))
		switch {
		case err != nil:
			d.Errorf("endpoint", "bad endpoint URL", "%v", err)
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			d.Errorf("endpoint", "bad endpoint URL", "%q: want an absolute http:// or https:// URL", cfg.Endpoint)
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			d.Errorf("endpoint", "bad endpoint URL", "want the server's root, without credentials, query or fragment")
		case u.Scheme == "http" && !loopback(u.Hostname()):
			d.Warnf("endpoint", "plain HTTP", "%s: recordings cross the network in clear; use https", cfg.Endpoint)
		}
	}
	if cfg.Bucket != "" && !validBucket(cfg.Bucket) {
		d.Errorf("bucket", "bad bucket name", "%q: want 3-63 lower-case letters, digits, '.' and '-'", cfg.Bucket)
	}
	switch cfg.SSE {
	case "", s3upload.SSES3:
		if cfg.KMSKeyID != "" {
			d.Errorf("sse_kms_key_id", "KMS key without aws:kms", "sse_kms_key_id is set: set sse to aws:kms too")
		}
	case s3upload.SSEKMS:
	default:
		d.Errorf("sse", "unknown encryption", "%q: want AES256 or aws:kms (or leave sse out)", cfg.SSE)
	}
	if cfg.CAFile != "" {
		if _, err := os.ReadFile(cfg.CAFile); err != nil {
			d.Errorf("ca_file", "unreadable CA file", "%v", err)
		}
	}
	tmpl, err := parseKeyTemplate(cfg.KeyTemplate)
	if err != nil {
		d.Errorf("key_template", "bad key template", "%v", err)
	}
	return cfg, tmpl, d.Diags
}

// checkSigner checks the keys that go with the signer: local wants the endpoint, bucket and
// credentials; fleet wants the fleet section and none of the S3 credentials (the controller
// holds them: credentials and the fleet signer are exclusive).
func checkSigner(d *sdkconfig.Decoder, cfg *Config) {
	switch cfg.Signer {
	case SignerLocal:
		for _, k := range []struct{ key, v string }{{"endpoint", cfg.Endpoint}, {"bucket", cfg.Bucket},
			{"access_key_id", cfg.AccessKeyID}, {"secret_access_key", cfg.SecretAccessKey}} {
			if k.v == "" && !d.HasError(k.key) {
				d.Errorf(k.key, "missing "+k.key, "required with signer local")
			}
		}
		if cfg.Fleet != nil {
			d.Errorf("fleet", "fleet section without signer fleet", "set signer: fleet to have the fleet controller sign, or remove the fleet section")
		}
	case SignerFleet:
		if cfg.Fleet == nil {
			d.Errorf("fleet", "missing fleet", "signer fleet asks the fleet controller over NATS: give the fleet section (urls, machine, credentials)")
		} else {
			for _, p := range cfg.Fleet.Check() {
				d.Errorf("fleet."+p.Field, p.Summary, "%s", p.Detail)
			}
		}
		for _, k := range []struct{ key, v string }{{"access_key_id", cfg.AccessKeyID}, {"secret_access_key", cfg.SecretAccessKey}} {
			if k.v != "" {
				d.Errorf(k.key, "S3 credentials with signer fleet", "credentials and signer fleet are exclusive: the fleet controller signs and the desktop holds no S3 credentials; remove %s", k.key)
			}
		}
		for _, k := range []struct{ key, v string }{{"endpoint", cfg.Endpoint}, {"bucket", cfg.Bucket}, {"sse", cfg.SSE}, {"sse_kms_key_id", cfg.KMSKeyID}} {
			if k.v != "" {
				d.Errorf(k.key, k.key+" with signer fleet", "the fleet controller's archive section names the endpoint, bucket and encryption; remove %s", k.key)
			}
		}
	default:
		d.Errorf("signer", "unknown signer", "%q: want local or fleet", cfg.Signer)
	}
}

func loopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// validBucket follows S3's bucket naming rules, loosely.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// errTemplate is kept apart so that the message names the variable.
func errUnknownVariable(name string) error {
	return fmt.Errorf("%w: {%s}; known: %s", ErrUnknownVariable, name, strings.Join(templateVariables, " "))
}
