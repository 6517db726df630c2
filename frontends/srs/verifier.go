package srs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// verifier checks an agent's credentials. servers are the RWS URLs of the login (primary
// first, then the peer), for verifiers that ask the RWS. It returns nil for valid
// credentials, an error wrapping ErrInvalidCredentials for refused ones, and one wrapping
// ErrVerifierUnavailable when it cannot tell.
type verifier interface {
	verify(ctx context.Context, user, password string, servers []string) error
}

// staticVerifier checks credentials against bcrypt hashes loaded from a users file.
type staticVerifier struct {
	hashes map[string][]byte
}

// dummyHash is compared against for unknown users, so that they cost as much time as known
// ones (the hash of a random string nobody knows; bcrypt cost 10).
var dummyHash = []byte("$2a$10$FJukiG6W4WIcO31m6KrzLez5vP66Xn0V0du.zyLkGQ2vii8RATDjS")

func (v *staticVerifier) verify(_ context.Context, user, password string, _ []string) error {
	h, ok := v.hashes[user]
	if !ok {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return fmt.Errorf("%w: unknown user or wrong password", ErrInvalidCredentials)
	}
	if bcrypt.CompareHashAndPassword(h, []byte(password)) != nil {
		return fmt.Errorf("%w: unknown user or wrong password", ErrInvalidCredentials)
	}
	return nil
}

// loadUsersFile reads "user:bcrypt-hash" lines; blank lines and lines starting with '#' are
// skipped. Anything but a bcrypt hash (a clear-text password, say) is refused.
func loadUsersFile(path string) (*staticVerifier, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v := &staticVerifier{hashes: map[string][]byte{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		user, hash = strings.TrimSpace(user), strings.TrimSpace(hash)
		switch {
		case !ok || user == "" || hash == "":
			return nil, fmt.Errorf("%s:%d: want user:bcrypt-hash", path, n)
		case v.hashes[user] != nil:
			return nil, fmt.Errorf("%s:%d: user %q appears twice", path, n, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil || !strings.HasPrefix(hash, "$2") {
			return nil, fmt.Errorf("%s:%d: the password of %q is not a bcrypt hash (clear-text passwords are refused; make one with htpasswd -nbB)", path, n, user)
		}
		v.hashes[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(v.hashes) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return v, nil
}

// rwsVerifier asks the RWS: GET {server}/api/v2/me with the agent's Basic credentials. 200 is
// valid and 401/403 invalid; anything else (unreachable, timeout, 5xx, other statuses) makes
// it try the next server.
type rwsVerifier struct {
	timeout time.Duration
	client  *http.Client
}

func newRWSVerifier(timeout time.Duration) *rwsVerifier {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the RWS is reached directly, never through an environment proxy
	// Logins are rare: no idle connections (and their goroutines) outlive a check.
	tr.DisableKeepAlives = true
	return &rwsVerifier{timeout: timeout, client: &http.Client{
		Transport: tr,
		// Credentials are never forwarded to where a redirect points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (v *rwsVerifier) verify(ctx context.Context, user, password string, servers []string) error {
	if len(servers) == 0 {
		return fmt.Errorf("%w: rws: no RWS server to check credentials with (configure server, or log in with POST naming one)", ErrVerifierUnavailable)
	}
	var fails []string
	for _, srv := range servers {
		err := v.ask(ctx, srv, user, password)
		if err == nil || errors.Is(err, ErrInvalidCredentials) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: rws: %w", ErrVerifierUnavailable, ctx.Err())
		}
		fails = append(fails, err.Error())
	}
	return fmt.Errorf("%w: rws: %s", ErrVerifierUnavailable, strings.Join(fails, "; "))
}

func (v *rwsVerifier) ask(ctx context.Context, server, user, password string) error {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	u := strings.TrimRight(server, "/") + "/api/v2/me"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: %v", server, err)
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		// The URL error repeats the URL; the cause alone reads better after the server.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: no answer within %s", server, v.timeout)
		}
		return fmt.Errorf("%s: %v", server, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %s answered %s", ErrInvalidCredentials, server, resp.Status)
	}
	return fmt.Errorf("%s: answered %s", server, resp.Status)
}

// samePassword compares two passwords in constant time (of their hashes, so that the length
// does not show either).
func samePassword(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
