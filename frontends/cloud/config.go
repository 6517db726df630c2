package cloud

import (
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/screenrec/recorder/pkg/listenaddr"
	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdkconfig"
)

// Defaults and bounds of the config section (the declaration's tags hold the others).
const (
	// DefaultListen is the HTTP listener: loopback only, port 8744 (the SRS front end has 8743).
	DefaultListen = "127.0.0.1:8744"
	// DefaultTokenTTL is how long an access token is valid (the vendor's expires_in is 3600).
	DefaultTokenTTL = time.Hour
	// DefaultConfirmWindow is how long a start waits for the first frame before answering 202
	// instead of 200, and a stop for the recording to be finalised; measured from the
	// request's arrival.
	DefaultConfirmWindow = 2 * time.Second
	// DefaultEngineTimeout bounds every engine call; an engine call that takes longer is
	// answered 504.
	DefaultEngineTimeout = 10 * time.Second

	// WarnTokenTTL: a token_ttl above it is accepted with a warning.
	WarnTokenTTL = 24 * time.Hour
	// MinSigningKeyLen is the shortest HMAC key accepted, in bytes (RFC 7518 §3.2: a key of
	// at least the hash's size, 256 bits for HS256).
	MinSigningKeyLen = 32
)

// PermissionRecordScreenInteraction is the permission start and stop need (the vendor's
// Interactions Hub "Record screen interaction").
const PermissionRecordScreenInteraction = "RecordScreenInteraction"

// knownPermissions are the permission names this front end checks; others are accepted with
// a warning (a key may be shared with a future API).
var knownPermissions = []string{PermissionRecordScreenInteraction}

// Config is the front end's config section, as decoded and checked by Configure: its
// declaration (see sdkconfig), with the defaults in DefaultConfig. Keys are snake_case JSON;
// durations are strings such as "2s". Secrets reach Configure already resolved by the host
// from {env: NAME} / {file: PATH} references.
type Config struct {
	// Listen is the HTTP listener's host:port.
	Listen string `cfg:"listen" desc:"host:port of the HTTP listener; plain HTTP carries bearer tokens in clear, so keep it on loopback and use https_listen for the network"`
	// HTTPSListen is the HTTPS listener's host:port; empty: no HTTPS. It needs cert_file and
	// key_file.
	HTTPSListen string `cfg:"https_listen" desc:"host:port of the HTTPS listener; empty: no HTTPS; needs cert_file and key_file"`
	// CertFile and KeyFile are the HTTPS certificate chain and key (PEM), both or neither,
	// loaded by Configure; only with https_listen.
	CertFile string `cfg:"cert_file" desc:"HTTPS certificate chain (PEM); with key_file and https_listen, loaded at configure time"`
	KeyFile  string `cfg:"key_file" desc:"HTTPS private key (PEM); with cert_file"`
	// Users maps each user id the API may record to its X display; a user id not listed is
	// answered 404.
	Users []User `cfg:"users,required" desc:"users the API may record, each with its X display: [{id, display}] (display e.g. \":10\"; empty: the engine's); other user ids are answered 404"`
	// AccessKeys are the keys that may get access tokens.
	AccessKeys []AccessKey `cfg:"access_keys,required" desc:"keys that may get tokens: [{id, secret_sha256, permissions}]; secret_sha256 is the hex SHA-256 of the accessKeySecret (a random secret of 32 bytes or more), permissions e.g. [\"RecordScreenInteraction\"]"`
	// SigningKeys are the HMAC keys of access tokens. Tokens name their key by id (kid), so
	// every configured key verifies tokens and old keys can stay listed while tokens they
	// signed expire (rotation).
	SigningKeys []SigningKey `cfg:"signing_keys,required" desc:"HMAC-SHA256 keys of access tokens: [{id, key}], key at least 32 bytes and given as a reference ({env: NAME} or {file: PATH}); every listed key verifies tokens (by kid), active_key_id signs new ones"`
	// ActiveKey is the id of the signing key new tokens are signed with.
	ActiveKey string `cfg:"active_key_id" default:"the first of signing_keys" desc:"id of the signing key that signs new tokens"`
	// TokenTTL is how long an access token is valid, whole seconds.
	TokenTTL time.Duration `cfg:"token_ttl" default:"3600s" min:"1s" max:"168h" desc:"validity of an access token, whole seconds (expires_in of the token response)"`
	// ConfirmWindow is how long, from a request's arrival, a start waits for its first frame
	// (200, else 202) and a stop for finalisation (200, else 202).
	ConfirmWindow time.Duration `cfg:"confirm_window" min:"0s" max:"1m" desc:"from a request's arrival, how long a start waits for the first frame (200, else 202) and a stop for finalisation (200, else 202)"`
	// EngineTimeout bounds each engine call (504 beyond).
	EngineTimeout time.Duration `cfg:"engine_timeout" min:"10ms" max:"5m" desc:"bound on each engine call; beyond it the request is answered 504"`
}

// User is one entry of users.
type User struct {
	// ID is the user id callers pass as userId / user-id. Unique.
	ID string `cfg:"id,required" desc:"the user id callers pass as userId"`
	// Display is the user's X display ("[host]:display[.screen]", e.g. ":10"); empty: the
	// engine's own display.
	Display string `cfg:"display" desc:"the user's X display, e.g. \":10\"; empty: the engine's"`
}

// AccessKey is one entry of access_keys.
type AccessKey struct {
	// ID is the accessKeyId callers present. Unique.
	ID string `cfg:"id,required" desc:"the accessKeyId callers present"`
	// SecretSHA256 is the hex SHA-256 of the accessKeySecret (64 hex digits); the secret
	// itself is never configured. See HashSecret.
	SecretSHA256 string `cfg:"secret_sha256" desc:"hex SHA-256 of the accessKeySecret"`
	// Permissions are granted to tokens of this key, e.g. ["RecordScreenInteraction"].
	Permissions []string `cfg:"permissions" desc:"permissions granted to tokens of this key"`
}

// SigningKey is one entry of signing_keys.
type SigningKey struct {
	// ID is the key id written into tokens as kid. Unique.
	ID string `cfg:"id,required" desc:"the key id written into tokens as kid"`
	// Key is the HMAC-SHA256 key, at least MinSigningKeyLen bytes, used as given (no
	// decoding). A secret: configure it as {env: NAME} or {file: PATH}.
	Key string `cfg:"key,required,secret" desc:"the HMAC key of each signing_keys entry: a secret, given as {env: NAME} or {file: PATH}, never inline"`
}

// String names the key without its value, so printing a config never shows it.
func (k SigningKey) String() string { return fmt.Sprintf("signing key %q", k.ID) }

// GoString is String, for %#v.
func (k SigningKey) GoString() string { return k.String() }

// LogValue keeps the key's value out of logs.
func (k SigningKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// DefaultConfig returns the config used for keys that are absent.
func DefaultConfig() Config {
	return Config{
		Listen:        DefaultListen,
		TokenTTL:      DefaultTokenTTL,
		ConfirmWindow: DefaultConfirmWindow,
		EngineTimeout: DefaultEngineTimeout,
	}
}

// schema describes the config section, from its declaration.
var schema = sdkconfig.Schema(DefaultConfig())

// accessKey is a checked access key.
type accessKey struct {
	hash  [32]byte
	perms []string
}

// settings is a checked config with everything Configure loaded: what a running server reads.
// It is never modified once built.
type settings struct {
	cfg     Config
	users   map[string]string
	keys    map[string]accessKey
	signing map[string][]byte
	active  string
}

// decoder turns a raw config section into a Config, collecting diagnostics that name the key.
type decoder struct {
	sdkconfig.Decoder
}

// displayRE matches X display names: [host]:display[.screen].
var displayRE = regexp.MustCompile(`^[A-Za-z0-9._/-]*:[0-9]+(\.[0-9]+)?$`)

// loadSettings decodes and checks a config section and loads its files. The settings are nil
// when a diagnostic is an error.
func loadSettings(raw []byte) (*settings, []sdk.Diagnostic) { return loadSettingsFor(raw, false) }

// loadSettingsFor is loadSettings; with a directory, users come from it: the section has none.
func loadSettingsFor(raw []byte, directory bool) (*settings, []sdk.Diagnostic) {
	d := &decoder{}
	cfg := DefaultConfig()
	st := &settings{users: map[string]string{}, keys: map[string]accessKey{}, signing: map[string][]byte{}}
	if !d.Decode(raw, &cfg) && d.HasError("") {
		return nil, d.Diags
	}
	if directory {
		d.Diags = slices.DeleteFunc(d.Diags, func(g sdk.Diagnostic) bool { return g.Field == "users" })
		if len(cfg.Users) > 0 {
			d.Errorf("users", "users come from the fleet", "where users are is what the machines announce; remove users")
		}
	}

	d.listeners(&cfg, st)
	d.users(&cfg, st)
	d.accessKeys(&cfg, st)
	d.signingKeys(&cfg, st)
	switch {
	case d.HasError("token_ttl"):
	case cfg.TokenTTL%time.Second != 0:
		d.Errorf("token_ttl", "not whole seconds", "%s: expires_in is a number of seconds; write e.g. \"3600s\"", cfg.TokenTTL)
	case cfg.TokenTTL > WarnTokenTTL:
		d.Warnf("token_ttl", "long-lived tokens", "%s: a leaked token stays usable that long; an hour is usual", cfg.TokenTTL)
	}

	if d.Failed() {
		return nil, d.Diags
	}
	st.cfg = cfg
	return st, d.Diags
}

func (d *decoder) listeners(cfg *Config, st *settings) {
	if err := listenaddr.Validate(cfg.Listen); err != nil {
		d.Errorf("listen", "bad listen address", "%v", err)
	}
	switch {
	case cfg.CertFile != "" && cfg.KeyFile == "":
		d.Errorf("key_file", "missing key_file", "cert_file is set: set key_file too (both or neither)")
	case cfg.CertFile == "" && cfg.KeyFile != "":
		d.Errorf("cert_file", "missing cert_file", "key_file is set: set cert_file too (both or neither)")
	case cfg.CertFile != "" && cfg.HTTPSListen == "":
		d.Errorf("https_listen", "missing https_listen", "cert_file and key_file are set: set https_listen (host:port) to serve HTTPS with them")
	case cfg.CertFile != "":
		// Checked here so a bad pair is a config error; serving reads the files again on
		// every change (the HTTP kit's certificate reload).
		if _, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile); err != nil {
			d.Errorf("cert_file", "cannot load the certificate", "%v", err)
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
	if cfg.HTTPSListen == "" && !d.Failed() && !loopback(cfg.Listen) {
		d.Warnf("listen", "plain HTTP beyond loopback", "%s is reachable from the network over plain HTTP: access-key secrets and bearer tokens cross it in clear; serve https_listen instead", cfg.Listen)
	}
}

// loopback reports whether a valid listen address only listens on loopback.
func loopback(addr string) bool {
	host := addr[:strings.LastIndex(addr, ":")]
	host = strings.Trim(host, "[]")
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// users checks the users beyond their declaration.
func (d *decoder) users(cfg *Config, st *settings) {
	seen := map[string]int{}
	displays := map[string]int{}
	for i, u := range cfg.Users {
		field := fmt.Sprintf("users[%d]", i)
		switch j, dup := seen[u.ID]; {
		case u.ID == "": // missing (reported by Decode)
		case strings.TrimSpace(u.ID) != u.ID:
			d.Errorf(field+".id", "bad user id", "%q has leading or trailing spaces", u.ID)
		case dup:
			d.Errorf(field+".id", "duplicate user", "%q is also users[%d]", u.ID, j)
		default:
			seen[u.ID] = i
		}
		if u.Display != "" {
			if !displayRE.MatchString(u.Display) {
				d.Errorf(field+".display", "bad X display", `%q: want [host]:display[.screen], e.g. ":10"`, u.Display)
			} else if j, dup := displays[u.Display]; dup {
				d.Warnf(field+".display", "shared display", "users[%d] records %s too: both users' recordings show the same screen", j, u.Display)
			} else {
				displays[u.Display] = i
			}
		}
		st.users[u.ID] = u.Display
	}
}

// accessKeys checks the access keys beyond their declaration.
func (d *decoder) accessKeys(cfg *Config, st *settings) {
	seen := map[string]int{}
	for i, k := range cfg.AccessKeys {
		field := fmt.Sprintf("access_keys[%d]", i)
		switch j, dup := seen[k.ID]; {
		case k.ID == "": // missing (reported by Decode)
		case dup:
			d.Errorf(field+".id", "duplicate access key", "%q is also access_keys[%d]", k.ID, j)
		default:
			seen[k.ID] = i
		}
		var ak accessKey
		if h, err := hex.DecodeString(k.SecretSHA256); err != nil || len(h) != len(ak.hash) {
			d.Errorf(field+".secret_sha256", "bad secret hash",
				"want the hex SHA-256 of the secret, 64 hex digits (e.g. printf %%s \"$SECRET\" | sha256sum), got %d characters", len(k.SecretSHA256))
		} else {
			copy(ak.hash[:], h)
		}
		for j, name := range k.Permissions {
			pf := fmt.Sprintf("%s.permissions[%d]", field, j)
			switch {
			case name == "":
				d.Errorf(pf, "empty permission", "want a permission name such as %q", PermissionRecordScreenInteraction)
			case !slices.Contains(knownPermissions, name):
				d.Warnf(pf, "unknown permission", "%q is granted but nothing here checks it; this API checks %q", name, PermissionRecordScreenInteraction)
			}
		}
		if !slices.Contains(k.Permissions, PermissionRecordScreenInteraction) && !d.HasError(field+".permissions") {
			d.Warnf(field+".permissions", "no permission for this API", "tokens of %q will be refused with 403: grant %q", k.ID, PermissionRecordScreenInteraction)
		}
		ak.perms = k.Permissions
		st.keys[k.ID] = ak
	}
}

// signingKeys checks the signing keys beyond their declaration and picks the active one.
func (d *decoder) signingKeys(cfg *Config, st *settings) {
	seen := map[string]int{}
	for i, k := range cfg.SigningKeys {
		field := fmt.Sprintf("signing_keys[%d]", i)
		switch j, dup := seen[k.ID]; {
		case k.ID == "": // missing (reported by Decode)
		case dup:
			d.Errorf(field+".id", "duplicate signing key", "%q is also signing_keys[%d]", k.ID, j)
		default:
			seen[k.ID] = i
		}
		// Never echo the value: details only say how long it is.
		if k.Key != "" && len(k.Key) < MinSigningKeyLen {
			d.Errorf(field+".key", "signing key too short",
				"%d bytes: HS256 needs at least %d random bytes (e.g. openssl rand -base64 48)", len(k.Key), MinSigningKeyLen)
		}
		st.signing[k.ID] = []byte(k.Key)
	}
	switch {
	case len(cfg.SigningKeys) == 0:
	case cfg.ActiveKey == "":
		st.active = cfg.SigningKeys[0].ID
	default:
		if _, ok := seen[cfg.ActiveKey]; !ok {
			d.Errorf("active_key_id", "unknown signing key", "%q is not the id of a signing_keys entry", cfg.ActiveKey)
		}
		st.active = cfg.ActiveKey
	}
}
