package emulation

import (
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Transport names: the carriers a service offers (PROTOCOL.md §4).
const (
	TransportWebSocket = "websocket" // the Ferry WebSocket, and plain RFC 6455 at the service path
	TransportSSE       = "sse"
	TransportLongPoll  = "longpoll"
)

// Transports lists every carrier, in the default order of preference.
var Transports = []string{TransportWebSocket, TransportSSE, TransportLongPoll}

// Offers reports whether the server offers the carrier named t.
func (sv *Server) Offers(t string) bool {
	sv.Init()
	return slices.Contains(sv.Transports, t)
}

// checkTransport validates the transport an open request names: empty,
// sse or longpoll, and offered.
func (sv *Server) checkTransport(t string) error {
	switch {
	case t == "":
		return nil
	case t != TransportSSE && t != TransportLongPoll:
		return errWith(ErrBadTransport, strconv.Quote(trunc(t, 32)))
	case !sv.Offers(t):
		return errWith(ErrTransportOff, t)
	}
	return nil
}

// Versions lists the protocol versions this server speaks, newest first.
var Versions = []int{1}

// ParseVersion picks the protocol version for a request from its v query
// parameter (PROTOCOL.md §2): a comma-separated list of the versions the
// client speaks. Absent, it is version 1 (clients written before the
// handshake); present, the highest listed version the server speaks, or
// ErrVersion when there is none; malformed, ErrBadNumber.
func ParseVersion(r *http.Request) (int, error) {
	vs, ok := r.URL.Query()["v"]
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
		return 0, errWith(ErrVersion, "this server speaks "+versionList())
	}
	return best, nil
}

func versionList() string {
	s := make([]string, len(Versions))
	for i, v := range Versions {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// checkContentType accepts an upstream body labelled text/plain (any
// parameters) or not labelled at all (PROTOCOL.md §5.2).
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	if t, _, err := mime.ParseMediaType(ct); err != nil || t != "text/plain" {
		return errWith(ErrContentType, strconv.Quote(trunc(ct, 64)))
	}
	return nil
}
