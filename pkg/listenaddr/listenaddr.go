// Package listenaddr checks listen addresses (host:port) the same way everywhere: in the
// recorder's config and in every front end's own config. It has no dependencies, so plugins
// can use it without linking the engine.
package listenaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Validate checks a listen address: host:port with a numeric port 0–65535 (0: any free
// port) and a host that is empty (every interface), an IP address (IPv6 in brackets) or a
// host name. "localhost:80", ":8080" and "[::1]:0" pass; "127.0.0.1" (no port) and
// "1.2.3.4:99999" do not. Errors wrap ErrBad and read
// `bad listen address "1.2.3.4:99999": port 99999 is out of range 0-65535`, so plugins and
// the host report bad addresses alike.
func Validate(addr string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBad, addr, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(addr) == "" {
		return bad("empty: write host:port, e.g. \"127.0.0.1:8080\"")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := err.(*net.AddrError); ok {
			return bad("%s: write host:port, e.g. \"127.0.0.1:8080\"", ae.Err)
		}
		return bad("%v", err)
	}
	if port == "" {
		return bad("missing port after ':'")
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return bad("port %q is not a number", port)
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p > 65535 {
		return bad("port %s is out of range 0-65535", port)
	}
	if host == "" {
		return nil
	}
	if strings.Contains(addr, "[") {
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return bad("%q in brackets is not an IPv6 address", host)
		}
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostname(host) {
		return bad("host %q is not an IP address or a host name", host)
	}
	return nil
}

// validHostname checks RFC 1123 host names: dot-separated labels of letters, digits and '-',
// 1–63 characters each, not starting or ending with '-'; at most 253 characters; an
// all-numeric last label is not a name (it is a malformed IP address).
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

// ErrBad: a listen address that is not host:port.
var ErrBad = errors.New("bad listen address")
