package srs

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// originPattern is one allowed origin: exact, or a wildcard over the subdomains of a domain.
type originPattern struct {
	scheme string
	// host is the exact host (lower case, IPv6 without brackets); for a wildcard, the domain
	// whose subdomains match ("example.com" for "*.example.com").
	host string
	// port is empty for the scheme's default port.
	port     string
	wildcard bool
}

func (p originPattern) String() string {
	h := p.host
	if p.wildcard {
		h = "*." + h
	} else if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if p.port != "" {
		h += ":" + p.port
	}
	return p.scheme + "://" + h
}

// matches reports whether the request origin o (parsed by parseOrigin without wildcards)
// is allowed by p. A wildcard matches subdomains at any depth, never the domain itself.
func (p originPattern) matches(o originPattern) bool {
	if p.scheme != o.scheme || p.port != o.port {
		return false
	}
	if !p.wildcard {
		return p.host == o.host
	}
	return strings.HasSuffix(o.host, "."+p.host) && len(o.host) > len(p.host)+1
}

var defaultPorts = map[string]string{"http": "80", "https": "443"}

// parseOrigin parses a serialised origin "scheme://host[:port]" (RFC 6454), normalised: scheme
// and host in lower case, the scheme's default port dropped. With wildcard, the host may be
// "*.domain" (domain of at least two labels). A bare "*" and "null" are refused.
func parseOrigin(s string, wildcard bool) (originPattern, error) {
	var p originPattern
	switch strings.TrimSpace(s) {
	case "*":
		return p, fmt.Errorf(`"*" would let every web page drive the recorder: list the origins of your agent desktop instead`)
	case "null":
		return p, fmt.Errorf(`"null" is the origin of sandboxed and file pages and cannot be trusted`)
	case "":
		return p, fmt.Errorf("empty origin")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return p, fmt.Errorf("%q: want scheme://host[:port], e.g. https://desktop.example.com", s)
	}
	p.scheme = strings.ToLower(scheme)
	for i, r := range p.scheme {
		if !(r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return p, fmt.Errorf("%q: bad scheme %q", s, scheme)
		}
	}
	if strings.ContainsAny(rest, "/?#@\\ ") {
		return p, fmt.Errorf("%q: an origin is scheme://host[:port] only, with no path, query, user or trailing slash", s)
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return p, fmt.Errorf("%q: unclosed '['", s)
		}
		host = rest[1:end]
		switch after := rest[end+1:]; {
		case after == "":
		case strings.HasPrefix(after, ":"):
			port = after[1:]
		default:
			return p, fmt.Errorf("%q: junk after the IPv6 address", s)
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return p, fmt.Errorf("%q: %q is not an IPv6 address", s, host)
		}
		host = a.String()
	} else if h, pt, err := net.SplitHostPort(rest); err == nil {
		host, port = h, pt
	} else if strings.Contains(rest, ":") {
		return p, fmt.Errorf("%q: bad host:port", s)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return p, fmt.Errorf("%q: bad port %q", s, port)
		}
	}
	if defaultPorts[p.scheme] == port {
		port = ""
	}
	p.port = port
	host = strings.ToLower(host)
	if wildcard && strings.HasPrefix(host, "*.") {
		p.wildcard = true
		host = host[2:]
		if !strings.Contains(host, ".") || !validHostname(host) {
			return p, fmt.Errorf("%q: a wildcard must cover one domain of at least two labels, e.g. https://*.example.com", s)
		}
	}
	if strings.Contains(host, "*") {
		return p, fmt.Errorf("%q: '*' is only allowed as the first label (https://*.example.com)", s)
	}
	if !strings.Contains(host, ":") && !validHostname(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return p, fmt.Errorf("%q: %q is not a host name or IP address", s, host)
		}
	}
	p.host = host
	return p, nil
}

// validHostname checks dot-separated labels of letters, digits, '-' and '_' (1–63 each).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// allowedOrigin reports whether the Origin header value origin is allowed by patterns.
func allowedOrigin(patterns []originPattern, origin string) bool {
	o, err := parseOrigin(origin, false)
	if err != nil {
		return false
	}
	for _, p := range patterns {
		if p.matches(o) {
			return true
		}
	}
	return false
}

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }

func redactURL(u *url.URL) string { return u.Redacted() }
