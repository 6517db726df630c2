package cloud

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/screenrec/recorder/frontends/httpkit"
)

// Issuer is the iss claim of every access token.
const Issuer = "recorder"

// TokenLeeway is the clock skew allowed when checking a token's exp and iat (instances that
// share signing keys may not share a clock).
const TokenLeeway = 5 * time.Second

// HashSecret returns what access_keys[].secret_sha256 holds for an access-key secret: the
// lower-case hex SHA-256 of its bytes (as `printf %s "$SECRET" | sha256sum` prints it).
//
// SHA-256, not a slow password hash, is enough because access-key secrets are generated, not
// chosen: with 32 random bytes (256 bits) no amount of hashing speed makes guessing one from
// its hash feasible, whereas bcrypt would spend ~100 ms of CPU per token request (a lever for
// anyone flooding the token endpoint) and cap secrets at 72 bytes. Do not use human-chosen
// passwords as access-key secrets.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// tokenClaims are the claims of an access token: sub is the access key's id, perms its
// permissions when the token was issued, plus iat, exp and iss.
type tokenClaims struct {
	Perms []string `json:"perms"`
	jwt.RegisteredClaims
}

// dummyHash is compared against when an access key id is unknown, so that an unknown id and
// a wrong secret take the same time.
var dummyHash = sha256.Sum256([]byte("cloud: no such access key"))

// checkAccessKey reports whether secret is the secret of access key id.
func (s *settings) checkAccessKey(id, secret string) (accessKey, bool) {
	k, known := s.keys[id]
	want := k.hash
	if !known {
		want = dummyHash
	}
	got := sha256.Sum256([]byte(secret))
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return k, known && match
}

// issueToken signs an access token for access key id with the active signing key.
func (s *settings) issueToken(id string, k accessKey, now time.Time) (string, error) {
	claims := tokenClaims{
		Perms: slices.Clone(k.perms),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   id,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.TokenTTL)),
		},
	}
	if claims.Perms == nil {
		claims.Perms = []string{}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = s.active
	signed, err := tok.SignedString(s.signing[s.active])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// authorize checks the request's bearer token and that it grants perm. It returns the
// token's access key id, or the 401/403 to answer.
func (s *settings) authorize(r *http.Request, perm string) (string, *httpkit.Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", unauthorized("", "missing Authorization header: send \"Authorization: Bearer <access token>\" (tokens from POST /authentication/v1/token/access-key)")
	}
	scheme, raw, _ := strings.Cut(h, " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return "", unauthorized("invalid_request", "malformed Authorization header: want \"Bearer <access token>\"")
	}
	var claims tokenClaims
	var keyErr error // why the key lookup failed, if it did
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(TokenLeeway))
	_, err := parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok || kid == "" {
			keyErr = errors.New("the token names no signing key (kid)")
			return nil, keyErr
		}
		key, ok := s.signing[kid]
		if !ok {
			keyErr = fmt.Errorf("the token's signing key %q is not configured", kid)
			return nil, keyErr
		}
		return key, nil
	})
	switch {
	case keyErr != nil:
		return "", unauthorized("invalid_token", "access token refused: "+keyErr.Error())
	case err != nil:
		return "", unauthorized("invalid_token", tokenProblem(err))
	}
	k, known := s.keys[claims.Subject]
	if !known {
		return "", unauthorized("invalid_token", fmt.Sprintf("the token's access key %q is no longer configured", claims.Subject))
	}
	// The token carries the key's permissions; a permission since withdrawn from the key is
	// not honoured either.
	if !slices.Contains(claims.Perms, perm) || !slices.Contains(k.perms, perm) {
		return "", httpkit.Errorf(http.StatusForbidden, "access key %q lacks the permission %s", claims.Subject, perm).
			WithHeader("WWW-Authenticate", `Bearer realm="recorder", error="insufficient_scope"`)
	}
	return claims.Subject, nil
}

// tokenProblem says why a token was refused, without echoing it.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed access token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "access token expired: get a new one"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return "access token not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "access token signature invalid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "access token not issued by this recorder"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "access token lacks a required claim (exp)"
	}
	return "access token refused: " + err.Error()
}

// unauthorized is a 401 with the RFC 6750 challenge.
func unauthorized(code, desc string) *httpkit.Error {
	challenge := `Bearer realm="recorder"`
	if code != "" {
		challenge += `, error="` + code + `"`
	}
	return httpkit.Errorf(http.StatusUnauthorized, "%s", desc).WithHeader("WWW-Authenticate", challenge)
}
