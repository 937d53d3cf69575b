package wire

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Limits on a client's subprotocol offer, on every way in (the protocols
// query parameter of open, Sec-WebSocket-Protocol on both WebSocket
// paths; PROTOCOL.md §2). An offer beyond them is refused with 400.
const (
	MaxProtocols     = 64   // protocols in one offer
	MaxProtocolBytes = 4096 // bytes of the whole offer
)

// SelectProtocol returns the first offered protocol that is supported, ""
// when none was offered, or ErrNoProtocol. A supported entry "*" accepts
// the first offered protocol, whatever it is.
func SelectProtocol(offered, supported []string) (string, error) {
	if len(offered) == 0 {
		return "", nil
	}
	if slices.Contains(supported, "*") {
		return offered[0], nil
	}
	for _, p := range offered {
		if slices.Contains(supported, p) {
			return p, nil
		}
	}
	return "", ErrNoProtocol
}

// ParseProtocols splits a comma-separated subprotocol list, checking that
// each is an RFC 6455 token, none repeats, and the list is within
// MaxProtocols and MaxProtocolBytes. Its cost is linear in len(s).
func ParseProtocols(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > MaxProtocolBytes {
		return nil, errWith(ErrBadProtocol, "offer over 4096 bytes")
	}
	if strings.Count(s, ",") >= MaxProtocols {
		return nil, errWith(ErrBadProtocol, "more than 64 protocols")
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !isToken(p) || slices.Contains(parts[:i], p) { // at most 64×64
			return nil, ErrBadProtocol
		}
		parts[i] = p
	}
	return parts, nil
}

// ParseProtocolHeader parses the Sec-WebSocket-Protocol offer of a
// WebSocket upgrade, given its header lines (http.Header.Values), with the
// limits of ParseProtocols over all the lines together.
func ParseProtocolHeader(lines []string) ([]string, error) {
	n := len(lines)
	for _, l := range lines {
		n += len(l)
	}
	if n > MaxProtocolBytes {
		return nil, errWith(ErrBadProtocol, "offer over 4096 bytes")
	}
	return ParseProtocols(strings.Join(lines, ","))
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// Versions lists the protocol versions this package speaks, newest first.
var Versions = []int{1}

// ParseVersion picks the protocol version for a request from its v query
// parameter (PROTOCOL.md §2): a comma-separated list of the versions the
// client speaks. Absent, it is version 1 (clients written before the
// handshake); present, the highest listed version in Versions, or
// ErrVersion when there is none; malformed, ErrBadNumber.
func ParseVersion(q url.Values) (int, error) {
	vs, ok := q["v"]
	if !ok {
		return 1, nil
	}
	best := 0
	for _, f := range strings.Split(vs[0], ",") {
		n, ok := ParseUint(strings.TrimSpace(f))
		if !ok || len(f) > 4 {
			return 0, errWith(ErrBadNumber, "v")
		}
		if slices.Contains(Versions, int(n)) && int(n) > best {
			best = int(n)
		}
	}
	if best == 0 {
		return 0, errWith(ErrVersion, "this server speaks "+VersionList())
	}
	return best, nil
}

// VersionList returns Versions as the comma-separated list a v parameter
// carries.
func VersionList() string {
	s := make([]string, len(Versions))
	for i, v := range Versions {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}
