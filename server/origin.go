package server

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// errHost refuses a request whose Host is not allowed.
var errHost = errors.New("ferry: host not allowed")

// HostAllowed reports whether hostport, a Host header value with or
// without a port, names this server: an IP literal, "localhost", or a
// name matching one of hosts (path.Match patterns such as
// "app.example" or "*.example.org", compared case-insensitively, without
// the port; "*" allows any host). A DNS rebinding attack needs a DNS
// name the attacker controls, so IP literals and localhost are always
// safe; every other name must be listed.
func HostAllowed(hosts []string, hostport string) bool {
	name := hostName(hostport)
	if name == "" {
		return false
	}
	if _, err := netip.ParseAddr(name); err == nil || name == "localhost" {
		return true
	}
	for _, h := range hosts {
		if ok, _ := path.Match(hostName(h), name); ok {
			return true // "*" matches any name: names have no '/'
		}
	}
	return false
}

// hostName returns the lower-case host name of a Host value, without
// port or IPv6 brackets.
func hostName(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"))
}

// SameOrigin allows a request whose Origin host equals its Host when
// that Host is an IP literal or localhost (HostAllowed with no names).
// A named host is same-origin only when listed: see OriginChecker.
func SameOrigin(r *http.Request) bool { return sameOrigin(nil, r) }

// sameOrigin reports whether r's Origin host equals its Host and that
// Host is allowed by hosts: a page served from a rebound DNS name has a
// matching Origin too, so equality alone proves nothing.
func sameOrigin(hosts []string, r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && strings.EqualFold(u.Host, r.Host) && HostAllowed(hosts, r.Host)
}

// OriginChecker returns a CheckOrigin function that allows same-host
// origins whose host is allowed by hosts (see HostAllowed) and the
// origins of an allow-list such as "https://app.example" or
// "http://*.example:8080" (path.Match patterns on the whole origin), or
// "*" for any origin.
func OriginChecker(hosts, origins []string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		return sameOrigin(hosts, r) || OriginAllowed(origins, r.Header.Get("Origin"))
	}
}

// OriginAllowed reports whether origin matches the allow-list.
func OriginAllowed(allowed []string, origin string) bool {
	origin = strings.ToLower(origin)
	for _, a := range allowed {
		if a == "*" {
			return true
		}
		if ok, _ := path.Match(strings.ToLower(a), origin); ok {
			return true
		}
	}
	return false
}
