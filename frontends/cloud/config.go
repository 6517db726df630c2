package cloud

import (
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
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

// Defaults and bounds of the config section.
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

	// MinTokenTTL and MaxTokenTTL bound token_ttl; above WarnTokenTTL is accepted with a warning.
	MinTokenTTL  = time.Second
	MaxTokenTTL  = 7 * 24 * time.Hour
	WarnTokenTTL = 24 * time.Hour
	// MaxConfirmWindow bounds confirm_window (0 is allowed: never wait, answer 202 unless the
	// first frame is already there).
	MaxConfirmWindow = time.Minute
	// MinEngineTimeout and MaxEngineTimeout bound engine_timeout.
	MinEngineTimeout = 10 * time.Millisecond
	MaxEngineTimeout = 5 * time.Minute
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

// Config is the front end's config section, as decoded and checked by Configure. Keys are
// snake_case JSON; durations are strings such as "2s". Secrets reach Configure already
// resolved by the host from {env: NAME} / {file: PATH} references.
type Config struct {
	// Listen (listen) is the HTTP listener's host:port. Default DefaultListen.
	Listen string
	// HTTPSListen (https_listen) is the HTTPS listener's host:port; empty: no HTTPS. It needs
	// cert_file and key_file.
	HTTPSListen string
	// CertFile and KeyFile (cert_file, key_file) are the HTTPS certificate chain and key
	// (PEM), both or neither, loaded by Configure; only with https_listen.
	CertFile, KeyFile string
	// Users (users) maps each user id the API may record to its X display. Required, at
	// least one; a user id not listed is answered 404.
	Users []User
	// AccessKeys (access_keys) are the keys that may get access tokens. Required, at least one.
	AccessKeys []AccessKey
	// SigningKeys (signing_keys) are the HMAC keys of access tokens. Required, at least one.
	// Tokens name their key by id (kid), so every configured key verifies tokens and old
	// keys can stay listed while tokens they signed expire (rotation).
	SigningKeys []SigningKey
	// ActiveKey (active_key_id) is the id of the signing key new tokens are signed with.
	// Default: the first of SigningKeys.
	ActiveKey string
	// TokenTTL (token_ttl) is how long an access token is valid, whole seconds. Default
	// DefaultTokenTTL.
	TokenTTL time.Duration
	// ConfirmWindow (confirm_window) is how long, from a request's arrival, a start waits for
	// its first frame (200, else 202) and a stop for finalisation (200, else 202). Default
	// DefaultConfirmWindow.
	ConfirmWindow time.Duration
	// EngineTimeout (engine_timeout) bounds each engine call (504 beyond). Default
	// DefaultEngineTimeout.
	EngineTimeout time.Duration
}

// User is one entry of users.
type User struct {
	// ID (id) is the user id callers pass as userId / user-id. Required, unique.
	ID string
	// Display (display) is the user's X display ("[host]:display[.screen]", e.g. ":10");
	// empty: the engine's own display.
	Display string
}

// AccessKey is one entry of access_keys.
type AccessKey struct {
	// ID (id) is the accessKeyId callers present. Required, unique.
	ID string
	// SecretSHA256 (secret_sha256) is the hex SHA-256 of the accessKeySecret (64 hex digits);
	// the secret itself is never configured. See HashSecret.
	SecretSHA256 string
	// Permissions (permissions) are granted to tokens of this key, e.g.
	// ["RecordScreenInteraction"].
	Permissions []string
}

// SigningKey is one entry of signing_keys.
type SigningKey struct {
	// ID (id) is the key id written into tokens as kid. Required, unique.
	ID string
	// Key (key) is the HMAC-SHA256 key, at least MinSigningKeyLen bytes, used as given (no
	// decoding). A secret: configure it as {env: NAME} or {file: PATH}.
	Key string
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

// schema describes the config section; keep it in step with loadSettings.
var schema = sdk.Schema{Fields: []sdk.Field{
	{Name: "listen", Type: "string", Default: DefaultListen,
		Description: "host:port of the HTTP listener; plain HTTP carries bearer tokens in clear, so keep it on loopback and use https_listen for the network"},
	{Name: "https_listen", Type: "string", Default: "",
		Description: "host:port of the HTTPS listener; empty: no HTTPS; needs cert_file and key_file"},
	{Name: "cert_file", Type: "string", Description: "HTTPS certificate chain (PEM); with key_file and https_listen, loaded at configure time"},
	{Name: "key_file", Type: "string", Description: "HTTPS private key (PEM); with cert_file"},
	{Name: "users", Type: "list", Required: true,
		Description: `users the API may record, each with its X display: [{id, display}] (display e.g. ":10"; empty: the engine's); other user ids are answered 404`},
	{Name: "access_keys", Type: "list", Required: true,
		Description: `keys that may get tokens: [{id, secret_sha256, permissions}]; secret_sha256 is the hex SHA-256 of the accessKeySecret (a random secret of 32 bytes or more), permissions e.g. ["RecordScreenInteraction"]`},
	{Name: "signing_keys", Type: "list", Required: true,
		Description: `HMAC-SHA256 keys of access tokens: [{id, key}], key at least 32 bytes and given as a reference ({env: NAME} or {file: PATH}); every listed key verifies tokens (by kid), active_key_id signs new ones`},
	// The host checks Secret only on top-level keys and signing_keys is a list, so the secret
	// is described by its path; the host resolves references at any depth.
	{Name: "signing_keys[].key", Type: "string", Secret: true,
		Description: "the HMAC key of each signing_keys entry: a secret, given as {env: NAME} or {file: PATH}, never inline"},
	{Name: "active_key_id", Type: "string", Default: "the first of signing_keys",
		Description: "id of the signing key that signs new tokens"},
	{Name: "token_ttl", Type: "duration", Default: "3600s",
		Description: "validity of an access token, whole seconds (1s to 168h; expires_in of the token response)"},
	{Name: "confirm_window", Type: "duration", Default: DefaultConfirmWindow.String(),
		Description: "from a request's arrival, how long a start waits for the first frame (200, else 202) and a stop for finalisation (200, else 202); 0s to 1m"},
	{Name: "engine_timeout", Type: "duration", Default: DefaultEngineTimeout.String(),
		Description: "bound on each engine call; beyond it the request is answered 504 (10ms to 5m)"},
}}

// accessKey is a checked access key.
type accessKey struct {
	hash  [32]byte
	perms []string
}

// settings is a checked config with everything Configure loaded: what a running server reads.
// It is never modified once built.
type settings struct {
	cfg     Config
	cert    *tls.Certificate // nil: no HTTPS
	users   map[string]string
	keys    map[string]accessKey
	signing map[string][]byte
	active  string
}

// decoder turns a raw config section into a Config, collecting diagnostics that name the key.
type decoder struct {
	sdkconfig.Decoder
}

var (
	configKeys = []string{"listen", "https_listen", "cert_file", "key_file", "users", "access_keys",
		"signing_keys", "active_key_id", "token_ttl", "confirm_window", "engine_timeout"}
	userKeys       = []string{"id", "display"}
	accessKeyKeys  = []string{"id", "secret_sha256", "permissions"}
	signingKeyKeys = []string{"id", "key"}
)

// displayRE matches X display names: [host]:display[.screen].
var displayRE = regexp.MustCompile(`^[A-Za-z0-9._/-]*:[0-9]+(\.[0-9]+)?$`)

// loadSettings decodes and checks a config section and loads its files. The settings are nil
// when a diagnostic is an error.
func loadSettings(raw []byte) (*settings, []sdk.Diagnostic) {
	d := &decoder{}
	cfg := DefaultConfig()
	st := &settings{users: map[string]string{}, keys: map[string]accessKey{}, signing: map[string][]byte{}}
	var m map[string]json.RawMessage
	if !sdkconfig.IsNull(raw) {
		var ok bool
		if m, ok = d.Object("", raw, configKeys); !ok {
			return nil, d.Diags
		}
	}

	d.listeners(m, &cfg, st)
	d.users(m["users"], &cfg, st)
	d.accessKeys(m["access_keys"], &cfg, st)
	d.signingKeys(m, &cfg, st)
	d.Duration("token_ttl", m["token_ttl"], &cfg.TokenTTL, MinTokenTTL, MaxTokenTTL)
	switch {
	case cfg.TokenTTL%time.Second != 0:
		d.Errorf("token_ttl", "not whole seconds", "%s: expires_in is a number of seconds; write e.g. \"3600s\"", cfg.TokenTTL)
	case cfg.TokenTTL > WarnTokenTTL:
		d.Warnf("token_ttl", "long-lived tokens", "%s: a leaked token stays usable that long; an hour is usual", cfg.TokenTTL)
	}
	d.Duration("confirm_window", m["confirm_window"], &cfg.ConfirmWindow, 0, MaxConfirmWindow)
	d.Duration("engine_timeout", m["engine_timeout"], &cfg.EngineTimeout, MinEngineTimeout, MaxEngineTimeout)

	if d.Failed() {
		return nil, d.Diags
	}
	st.cfg = cfg
	return st, d.Diags
}

func (d *decoder) listeners(m map[string]json.RawMessage, cfg *Config, st *settings) {
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
	case cfg.CertFile != "" && cfg.HTTPSListen == "":
		d.Errorf("https_listen", "missing https_listen", "cert_file and key_file are set: set https_listen (host:port) to serve HTTPS with them")
	case cfg.CertFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			d.Errorf("cert_file", "cannot load the certificate", "%v", err)
		} else {
			st.cert = &cert
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

func (d *decoder) users(raw json.RawMessage, cfg *Config, st *settings) {
	items, ok := d.List("users", raw, "{id, display}")
	switch {
	case !ok:
		return
	case len(items) == 0:
		d.Errorf("users", "no users", `list the users this API may record, e.g. [{"id": "1234567", "display": ":0"}]`)
		return
	}
	seen := map[string]int{}
	displays := map[string]int{}
	for i, it := range items {
		field := fmt.Sprintf("users[%d]", i)
		m, ok := d.Object(field, it, userKeys)
		if !ok {
			continue
		}
		var u User
		d.Str(field+".id", m["id"], &u.ID)
		switch j, dup := seen[u.ID]; {
		case u.ID == "":
			d.Errorf(field+".id", "missing id", "every user needs the id callers pass as userId")
		case strings.TrimSpace(u.ID) != u.ID:
			d.Errorf(field+".id", "bad user id", "%q has leading or trailing spaces", u.ID)
		case dup:
			d.Errorf(field+".id", "duplicate user", "%q is also users[%d]", u.ID, j)
		default:
			seen[u.ID] = i
		}
		if d.Str(field+".display", m["display"], &u.Display) && u.Display != "" {
			if !displayRE.MatchString(u.Display) {
				d.Errorf(field+".display", "bad X display", `%q: want [host]:display[.screen], e.g. ":10"`, u.Display)
			} else if j, dup := displays[u.Display]; dup {
				d.Warnf(field+".display", "shared display", "users[%d] records %s too: both users' recordings show the same screen", j, u.Display)
			} else {
				displays[u.Display] = i
			}
		}
		cfg.Users = append(cfg.Users, u)
		st.users[u.ID] = u.Display
	}
}

func (d *decoder) accessKeys(raw json.RawMessage, cfg *Config, st *settings) {
	items, ok := d.List("access_keys", raw, "{id, secret_sha256, permissions}")
	switch {
	case !ok:
		return
	case len(items) == 0:
		d.Errorf("access_keys", "no access keys", "without an access key no token can be issued; add {id, secret_sha256, permissions}")
		return
	}
	seen := map[string]int{}
	for i, it := range items {
		field := fmt.Sprintf("access_keys[%d]", i)
		m, ok := d.Object(field, it, accessKeyKeys)
		if !ok {
			continue
		}
		var k AccessKey
		d.Str(field+".id", m["id"], &k.ID)
		switch j, dup := seen[k.ID]; {
		case k.ID == "":
			d.Errorf(field+".id", "missing id", "every access key needs the id callers pass as accessKeyId")
		case dup:
			d.Errorf(field+".id", "duplicate access key", "%q is also access_keys[%d]", k.ID, j)
		default:
			seen[k.ID] = i
		}
		var ak accessKey
		d.Str(field+".secret_sha256", m["secret_sha256"], &k.SecretSHA256)
		if h, err := hex.DecodeString(k.SecretSHA256); err != nil || len(h) != len(ak.hash) {
			d.Errorf(field+".secret_sha256", "bad secret hash",
				"want the hex SHA-256 of the secret, 64 hex digits (e.g. printf %%s \"$SECRET\" | sha256sum), got %d characters", len(k.SecretSHA256))
		} else {
			copy(ak.hash[:], h)
		}
		perms, _ := d.List(field+".permissions", m["permissions"], "permission names")
		for j, p := range perms {
			pf := fmt.Sprintf("%s.permissions[%d]", field, j)
			var name string
			if !d.Str(pf, p, &name) {
				continue
			}
			if name == "" {
				d.Errorf(pf, "empty permission", "want a permission name such as %q", PermissionRecordScreenInteraction)
				continue
			}
			if !slices.Contains(knownPermissions, name) {
				d.Warnf(pf, "unknown permission", "%q is granted but nothing here checks it; this API checks %q", name, PermissionRecordScreenInteraction)
			}
			k.Permissions = append(k.Permissions, name)
		}
		if !slices.Contains(k.Permissions, PermissionRecordScreenInteraction) {
			d.Warnf(field+".permissions", "no permission for this API", "tokens of %q will be refused with 403: grant %q", k.ID, PermissionRecordScreenInteraction)
		}
		ak.perms = k.Permissions
		cfg.AccessKeys = append(cfg.AccessKeys, k)
		st.keys[k.ID] = ak
	}
}

func (d *decoder) signingKeys(m map[string]json.RawMessage, cfg *Config, st *settings) {
	raw := m["signing_keys"]
	items, ok := d.List("signing_keys", raw, "{id, key}")
	switch {
	case !ok:
		return
	case len(items) == 0:
		d.Errorf("signing_keys", "no signing key", "tokens need an HMAC key: add {id, key: {env: NAME}} with a key of at least %d bytes", MinSigningKeyLen)
		return
	}
	seen := map[string]int{}
	for i, it := range items {
		field := fmt.Sprintf("signing_keys[%d]", i)
		m, ok := d.Object(field, it, signingKeyKeys)
		if !ok {
			continue
		}
		var k SigningKey
		d.Str(field+".id", m["id"], &k.ID)
		switch j, dup := seen[k.ID]; {
		case k.ID == "":
			d.Errorf(field+".id", "missing id", "every signing key needs an id (written into tokens as kid)")
		case dup:
			d.Errorf(field+".id", "duplicate signing key", "%q is also signing_keys[%d]", k.ID, j)
		default:
			seen[k.ID] = i
		}
		// Never echo the value: details only say how long it is.
		if d.Str(field+".key", m["key"], &k.Key) {
			switch {
			case k.Key == "":
				d.Errorf(field+".key", "missing key", "set key to a reference such as {env: NAME} holding at least %d random bytes", MinSigningKeyLen)
			case len(k.Key) < MinSigningKeyLen:
				d.Errorf(field+".key", "signing key too short",
					"%d bytes: HS256 needs at least %d random bytes (e.g. openssl rand -base64 48)", len(k.Key), MinSigningKeyLen)
			}
		}
		cfg.SigningKeys = append(cfg.SigningKeys, k)
		st.signing[k.ID] = []byte(k.Key)
	}
	d.Str("active_key_id", m["active_key_id"], &cfg.ActiveKey)
	switch {
	case cfg.ActiveKey == "" && len(cfg.SigningKeys) > 0:
		st.active = cfg.SigningKeys[0].ID
	case cfg.ActiveKey != "":
		if _, ok := seen[cfg.ActiveKey]; !ok {
			d.Errorf("active_key_id", "unknown signing key", "%q is not the id of a signing_keys entry", cfg.ActiveKey)
		}
		st.active = cfg.ActiveKey
	}
}
